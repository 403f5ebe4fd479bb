"""mnist_tutorial end to end: the whole loop, and the server always stopped."""

import os
import signal
import socket
import subprocess

from absl.testing import absltest

from tensorflow_serving.example import mnist_loop
from tensorflow_serving.example import mnist_plots
from tensorflow_serving.example import png_panels
from tensorflow_serving.model_servers import server_launcher

_TUTORIAL = 'tensorflow_serving/example/mnist_tutorial'
# Small numbers: this tests the orchestration, the loop tests the accuracy.
_QUICK_FLAGS = ['--num_tests=100', '--training_iteration=100']
_TIMEOUT_SECONDS = 240


def _tutorial_command(*flags):
    return server_launcher.program_command(_TUTORIAL) + list(flags)


def _nothing_listens(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(('localhost', port)) != 0


class MnistTutorialTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.grpc_port = server_launcher.pick_unused_port()
        self.rest_port = server_launcher.pick_unused_port()
        self.ports = ['--port=%d' % self.grpc_port,
                      '--rest_api_port=%d' % self.rest_port]

    def _assert_server_gone(self, output):
        self.assertTrue(_nothing_listens(self.grpc_port), output)
        self.assertTrue(_nothing_listens(self.rest_port), output)

    def test_runs_the_loop_and_shows_the_error_rate_and_pictures(self):
        model_dir = self.create_tempdir('kept').full_path
        plot_dir = os.path.join(self.create_tempdir().full_path, 'plots')
        result = subprocess.run(
            _tutorial_command('--model_dir=' + model_dir, *self.ports,
                              '--plot_dir=' + plot_dir, *_QUICK_FLAGS),
            env=server_launcher.child_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=_TIMEOUT_SECONDS,
            check=False)
        output = result.stdout
        self.assertEqual(result.returncode, 0, output)
        lines = [line for line in output.splitlines() if line.strip()]
        # Once, as the client printed it: 8.2%, not 8.200000000000001%.
        rates = [line for line in lines if 'error rate' in line]
        self.assertLen(rates, 1, output)
        self.assertRegex(rates[0], r'^Inference error rate: \d+(\.\d\d?)?%$')
        wrong = round(mnist_loop.parse_error_rate(rates[0]))  # % of 100 digits
        # The pictures' paths, then where the model was kept, end the output;
        # each PNG shows its panels.
        digits = os.path.join(plot_dir, mnist_plots.WRONG_DIGITS_FILE)
        latency = os.path.join(plot_dir, mnist_plots.LATENCY_FILE)
        self.assertEqual(lines[-4:], [
            'The pictures mnist_client drew (the digits it got wrong, and how '
            'long its requests took):', '  ' + digits, '  ' + latency,
            'The exported model is in ' + model_dir], output)
        self.assertEqual(png_panels.count_panels(digits, 'black'), wrong)
        self.assertEqual(
            png_panels.count_panels(latency, mnist_plots.PLOT_BACKGROUND), 1)
        self.assertIn('100 requests in', output)
        self.assertIn('version 1 AVAILABLE', output)
        self.assertIn('[server] ', output)  # the server's log, prefixed
        self.assertIn('--port=9000 --rest_api_port=8501 --model_name=mnist '
                      '--model_base_path=/tmp/mnist_model/', output)
        self.assertTrue(os.path.isfile(
            os.path.join(model_dir, '1', 'saved_model.pb')), output)
        self._assert_server_gone(output)

    def test_sigterm_stops_the_server(self):
        tutorial = server_launcher.Process(
            _tutorial_command(*self.ports, *_QUICK_FLAGS),
            log_dir=self.create_tempdir().full_path)
        self.addCleanup(tutorial.cleanup)
        output = tutorial.output
        tutorial.wait_for_output('version 1 AVAILABLE', _TIMEOUT_SECONDS)
        self.assertFalse(_nothing_listens(self.grpc_port), output())

        tutorial.send_signal(signal.SIGTERM)
        code = tutorial.wait(_TIMEOUT_SECONDS)
        self.assertEqual(code, 128 + signal.SIGTERM, output())
        self.assertIn('Got SIGTERM; stopped everything the tutorial started.',
                      output())
        self.assertNotIn('Traceback', output())
        self._assert_server_gone(output())


if __name__ == '__main__':
    absltest.main()

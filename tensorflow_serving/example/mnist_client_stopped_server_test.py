"""mnist_client against a port where no server listens: a clean failure."""

from absl.testing import absltest
from absl.testing import parameterized

from tensorflow_serving.example import mnist_test_util
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.test_util import test_util


class MnistClientStoppedServerTest(parameterized.TestCase):

    @parameterized.named_parameters(('grpc', False), ('rest', True))
    def test_fails_with_one_line(self, rest):
        port = server_launcher.pick_unused_port()  # nothing listens there
        result = mnist_test_util.run_client(self, 'localhost:%d' % port,
                                            num_tests=10, rest=rest)
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn('Traceback', result.stderr + result.stdout)
        lines = test_util.program_lines(result.stderr)
        self.assertLen(lines, 1, result.stderr)
        self.assertIn('The first request to localhost:%d failed' % port,
                      lines[0])
        self.assertNotIn('Inference error rate', result.stdout)


if __name__ == '__main__':
    absltest.main()

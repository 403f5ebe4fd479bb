"""The tutorial's by-hand steps, run from a plain terminal, print no noise.

A learner's shell sets neither TF_CPP_MIN_LOG_LEVEL nor TF_ENABLE_ONEDNN_OPTS:
mnist_saved_model, tensorflow_model_server and mnist_client must then write
no CUDA, oneDNN, CPU-feature or deprecation lines, only their own words.
"""

import os
import re
import subprocess

from absl.testing import absltest

from tensorflow_serving.example import mnist_loop
from tensorflow_serving.example import mnist_test_util
from tensorflow_serving.model_servers import server_launcher

_TIMEOUT_SECONDS = 300
_NOISE = re.compile(r"cuda|cuInit|oneDNN|deprecat|absl::InitializeLog|"
                    r"cpu_feature_guard|This TensorFlow binary|\.cc:\d+\]",
                    re.IGNORECASE)
# What the server writes: absl log lines of its own Python modules.
_SERVER_LINE = re.compile(r"^[IWE]\d{4} [\d:.]+ +\d+ \w+\.py:\d+\] ")


def _terminal_env():
    env = server_launcher.child_env()
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):
        env.pop(name, None)
    return env


class QuietStepsTest(absltest.TestCase):

    def _run(self, command):
        result = subprocess.run(command, env=_terminal_env(), capture_output=True,
                                text=True, timeout=_TIMEOUT_SECONDS, check=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stderr, "", result.stderr)
        self.assertNotRegex(result.stdout, _NOISE)
        return result.stdout

    def test_train_serve_query_print_only_their_own_lines(self):
        base = os.path.join(self.create_tempdir().full_path, "mnist")
        work_dir = mnist_test_util.data_dir(self)
        out = self._run(mnist_loop.export_command(base, 1, 100, work_dir))
        self.assertIn("Done exporting!", out)

        port = server_launcher.pick_unused_port()
        server = server_launcher.Process(
            server_launcher.server_command() + [f"--port={port}"]
            + mnist_loop.server_flags(base), env=_terminal_env(),
            log_dir=self.create_tempdir().full_path)
        self.addCleanup(server.cleanup)
        server.wait_for_output(f"Running gRPC ModelServer at 0.0.0.0:{port}",
                               _TIMEOUT_SECONDS)
        out = self._run(mnist_loop.client_command(
            f"localhost:{port}", num_tests=50, work_dir=work_dir))
        self.assertRegex(out.splitlines()[-1],
                         r"^Inference error rate: \d+(\.\d\d?)?%$")
        self.assertEqual(server.stop(), 0, server.output())
        log = server.output()
        self.assertNotRegex(log, _NOISE)
        for line in log.splitlines():
            self.assertRegex(line, _SERVER_LINE, log)


if __name__ == "__main__":
    absltest.main()

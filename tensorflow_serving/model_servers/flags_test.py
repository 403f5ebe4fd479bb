"""The binary's command line: bad flags and configs fail fast with one line."""

import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized

from tensorflow_serving.model_servers.test_util import server_runner


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class FlagsTest(parameterized.TestCase):

    def assertFailsWithOneLine(self, args, fragment):
        result = server_runner.run_to_completion(args)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertLen(lines, 1, result.stderr)
        self.assertIn(fragment, lines[0])
        self.assertNotIn("Traceback", result.stderr)

    def test_version(self):
        result = server_runner.run_to_completion(["--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^TensorFlow ModelServer: \d+\.\d+")
        self.assertIn("TensorFlow Library: ", result.stdout)

    @parameterized.named_parameters(
        ("unknown_flag", ["--no_such_flag=1"], "no_such_flag"),
        ("bad_int", ["--port=eighty"], "--port"),
        ("neither", [], "--model_base_path"),
        ("both", ["--model_base_path=/a", "--model_config_file=/b"], "only one"),
        ("missing_config", ["--model_config_file=/no/such/file"], "/no/such/file"),
        ("port_range", ["--model_base_path=/a", "--port=70000"], "--port"),
        ("positional", ["--model_base_path=/a", "extra"], "extra"),
        ("channel_args", ["--model_base_path=/a", "--grpc_channel_arguments=x"],
         "--grpc_channel_arguments"),
        ("rest_max_connections", ["--model_base_path=/a",
                                  "--rest_api_max_connections=0"],
         "--rest_api_max_connections"),
        ("rest_max_body", ["--model_base_path=/a", "--rest_api_max_body_bytes=-1"],
         "--rest_api_max_body_bytes"),
        ("rest_read_timeout", ["--model_base_path=/a",
                               "--rest_api_read_timeout_in_ms=0"],
         "--rest_api_read_timeout_in_ms"),
    )
    def test_bad_command_line(self, args, fragment):
        self.assertFailsWithOneLine(args, fragment)

    def test_bad_files(self):
        tmp = tempfile.mkdtemp()
        bad_config = write(tmp, "bad.config", 'model_config_list { config { nme: "a" } }')
        self.assertFailsWithOneLine([f"--model_config_file={bad_config}"], bad_config)
        no_path = write(tmp, "nopath.config", 'model_config_list { config { name: "a" } }')
        self.assertFailsWithOneLine([f"--model_config_file={no_path}"], "base_path")
        bad_batching = write(tmp, "batching.config", "max_batch_size { value: x }")
        self.assertFailsWithOneLine(
            ["--model_base_path=/a", "--enable_batching",
             f"--batching_parameters_file={bad_batching}"], "batching")
        bad_monitoring = write(tmp, "monitoring.config", "prometheus_config { foo: 1 }")
        self.assertFailsWithOneLine(
            ["--model_base_path=/a", f"--monitoring_config_file={bad_monitoring}"],
            "monitoring")


if __name__ == "__main__":
    absltest.main()

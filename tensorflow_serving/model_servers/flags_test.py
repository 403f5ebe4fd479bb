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

    def assertFailsWithOneLine(self, args, fragment, after_tensorflow_import=False):
        """The server exits non-zero with one line saying why.

        after_tensorflow_import: the file is checked after TensorFlow was
        imported (TensorFlow's own start-up lines come first).
        """
        result = server_runner.run_to_completion(args)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        lines = result.stderr.strip().splitlines()
        if after_tensorflow_import:
            lines = [l for l in lines if l.startswith("tensorflow_model_server:")]
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
        ("neither", [], "server_options.model_base_path"),
        ("no_model", ["--port=8500"], "model_base_path"),
        ("batching_file_without_batching",
         ["--model_base_path=/a", "--batching_parameters_file=/b"], "enable_batching"),
        ("all_thread_flags", ["--model_base_path=/a", "--tensorflow_session_parallelism=2",
                              "--tensorflow_intra_op_parallelism=2",
                              "--tensorflow_inter_op_parallelism=2"], "You cannot configure all"),
        ("alts_and_ssl", ["--model_base_path=/a", "--use_alts_credentials",
                          "--ssl_config_file=/c"], "use_alts_credentials"),
        ("negative_threads", ["--model_base_path=/a", "--num_load_threads=-1"],
         "--num_load_threads"),
        ("missing_config", ["--model_config_file=/no/such/file"], "/no/such/file"),
        ("port_range", ["--model_base_path=/a", "--port=70000"], "--port"),
        ("positional", ["--model_base_path=/a", "extra"], "extra"),
        ("channel_args", ["--model_base_path=/a", "--grpc_channel_arguments=x"],
         "--grpc_channel_arguments"),
    )
    def test_bad_command_line(self, args, fragment):
        self.assertFailsWithOneLine(args, fragment)

    def test_bad_files(self):
        tmp = tempfile.mkdtemp()
        bad_config = write(tmp, "bad.config", 'model_config_list { config { nme: "a" } }')
        self.assertFailsWithOneLine([f"--model_config_file={bad_config}"],
                                    f"'{bad_config}': Error parsing text-format "
                                    "tensorflow.serving.ModelServerConfig: 1:30: ")
        no_path = write(tmp, "nopath.config", 'model_config_list { config { name: "a" } }')
        self.assertFailsWithOneLine([f"--model_config_file={no_path}"], "base_path")
        bad_batching = write(tmp, "batching.config", "max_batch_size { value: x }")
        self.assertFailsWithOneLine(
            ["--model_base_path=/a", "--enable_batching",
             f"--batching_parameters_file={bad_batching}"],
            f"'{bad_batching}': Error parsing text-format "
            "tensorflow.serving.BatchingParameters: 1:25: ")
        bad_monitoring = write(tmp, "monitoring.config", "prometheus_config {\n foo: 1 }")
        self.assertFailsWithOneLine(
            ["--model_base_path=/a", "--rest_api_port=8501",
             f"--monitoring_config_file={bad_monitoring}"],
            f"'{bad_monitoring}': Error parsing text-format "
            "tensorflow.serving.MonitoringConfig: 2:2: ")
        bad_session = write(tmp, "session.config", "intra_op_parallelism_threads: -")
        self.assertFailsWithOneLine(
            ["--model_base_path=/a", f"--tensorflow_session_config_file={bad_session}"],
            f"'{bad_session}': Error parsing text-format tensorflow.ConfigProto: 1:",
            after_tensorflow_import=True)
        bad_ssl = write(tmp, "ssl.config", 'server_key: "x" server_cert: 7')
        self.assertFailsWithOneLine(
            ["--model_base_path=/a", f"--ssl_config_file={bad_ssl}"],
            f"'{bad_ssl}': Error parsing text-format tensorflow.serving.SSLConfig: 1:")


if __name__ == "__main__":
    absltest.main()

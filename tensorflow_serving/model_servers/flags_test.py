"""The binary's command line: upstream's 48 flags and launch lines work, and bad
flags and config files fail fast with one line."""

import os
import re
import socket
import tempfile

import numpy as np
from absl.testing import absltest
from absl.testing import parameterized

from tensorflow_serving.model_servers import server_launcher
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
        result = server_launcher.run_to_completion(args)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        lines = result.stderr.strip().splitlines()
        if after_tensorflow_import:
            lines = [l for l in lines if l.startswith("tensorflow_model_server:")]
        self.assertLen(lines, 1, result.stderr)
        self.assertIn(fragment, lines[0])
        self.assertNotIn("Traceback", result.stderr)

    def test_version(self):
        result = server_launcher.run_to_completion(["--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^TensorFlow ModelServer: \d+\.\d+")
        # The wheel is tensorflow or tensorflow-cpu: its version either way.
        self.assertRegex(result.stdout, r"\nTensorFlow Library: \d+\.\d+\.\d+")

    def test_help_starts_with_a_usage_line_and_exits_0(self):
        result = server_launcher.run_to_completion(["--help"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith("usage: tensorflow_model_server "),
                        result.stdout[:500])
        self.assertIn("  --model_base_path: ", result.stdout)
        self.assertEqual(result.stderr, "")

    def test_port_in_use_is_one_clear_line(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("0.0.0.0", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            base = os.path.join(tempfile.mkdtemp(), "m")
            server_runner.export_half_plus_two_versions(base, {1: 2.0})
            result = server_launcher.run_to_completion(
                [f"--port={port}", "--model_name=m", f"--model_base_path={base}"],
                timeout=120)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(lines[-1], "tensorflow_model_server: Failed to start gRPC "
                         f"server: could not bind 0.0.0.0:{port} (port in use?)")
        # Not gRPC core's error tree: only the server's own log lines before it.
        for line in lines[:-1]:
            self.assertRegex(line, r"^I\d{4} .*\.py:\d+\] ", result.stderr)
        self.assertNotIn("Address already in use", result.stderr)

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
        self.assertFailsWithOneLine([f"--model_config_file={bad_config}"],
                                    f"'{bad_config}': Error parsing text-format "
                                    "tensorflow.serving.ModelServerConfig: 1:30: ")
        no_path = write(tmp, "nopath.config",
                        'model_config_list { config { name: "a" model_platform: "tensorflow" } }')
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


# Upstream's 48 flags (main.cc), each set here to a value that serves.
UPSTREAM_FLAGS = [
    "port", "grpc_socket_path", "rest_api_port", "rest_api_num_threads",
    "rest_api_timeout_in_ms", "rest_api_enable_cors_support", "enable_batching",
    "allow_version_labels_for_unavailable_models", "batching_parameters_file",
    "enable_per_model_batching_parameters", "model_config_file",
    "model_config_file_poll_wait_seconds", "model_name", "model_base_path",
    "num_load_threads", "num_unload_threads", "max_num_load_retries",
    "load_retry_interval_micros", "file_system_poll_wait_seconds",
    "flush_filesystem_caches", "tensorflow_session_parallelism",
    "tensorflow_session_config_file", "tensorflow_intra_op_parallelism",
    "tensorflow_inter_op_parallelism", "use_alts_credentials", "ssl_config_file",
    "platform_config_file", "per_process_gpu_memory_fraction", "saved_model_tags",
    "grpc_channel_arguments", "grpc_max_threads", "enable_model_warmup",
    "num_request_iterations_for_warmup", "version", "monitoring_config_file",
    "remove_unused_fields_from_bundle_metagraph", "prefer_tflite_model",
    "num_tflite_pools", "num_tflite_interpreters_per_pool",
    "enable_signature_method_name_check", "xla_cpu_compilation_enabled",
    "xla_gpu_compilation_enabled", "enable_profiler", "thread_pool_factory_config_file",
    "mixed_precision", "skip_initialize_tpu", "enable_grpc_healthcheck_service",
    "enable_serialization_as_tensor_content",
]
NO_EFFECT = ["flush_filesystem_caches", "per_process_gpu_memory_fraction",
             "remove_unused_fields_from_bundle_metagraph", "prefer_tflite_model",
             "num_tflite_pools", "num_tflite_interpreters_per_pool",
             "xla_cpu_compilation_enabled", "xla_gpu_compilation_enabled",
             "enable_profiler", "thread_pool_factory_config_file", "mixed_precision",
             "skip_initialize_tpu"]


class UpstreamLaunchLinesTest(server_runner.ServerTestCase):

    def test_help_lists_every_upstream_flag(self):
        self.assertLen(UPSTREAM_FLAGS, 48)
        result = server_launcher.run_to_completion(["--helpshort"])
        listed = re.findall(r"^  --(?:\[no\])?(\w+):", result.stdout + result.stderr,
                            re.MULTILINE)
        # Ours, beyond upstream's: each in docs/serving_config.md's flag tables.
        ours = ["max_tensor_fill_bytes", "rest_api_max_connections",
                "rest_api_max_body_bytes", "rest_api_read_timeout_in_ms",
                "request_log_max_file_bytes"]
        self.assertCountEqual(listed, UPSTREAM_FLAGS + ours)

    def test_every_upstream_flag_on_one_command_line(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        socket_path = os.path.join(tempfile.mkdtemp(prefix="tfs", dir="/tmp"), "g.sock")
        values = {
            "grpc_socket_path": socket_path, "rest_api_num_threads": "2",
            "rest_api_timeout_in_ms": "5000", "rest_api_enable_cors_support": "false",
            "enable_batching": "false", "allow_version_labels_for_unavailable_models": "false",
            "batching_parameters_file": "", "enable_per_model_batching_parameters": "false",
            "model_config_file": "", "model_config_file_poll_wait_seconds": "0",
            "model_name": "m", "model_base_path": base, "num_load_threads": "2",
            "num_unload_threads": "1", "max_num_load_retries": "1",
            "load_retry_interval_micros": "1000", "file_system_poll_wait_seconds": "1",
            "flush_filesystem_caches": "true", "tensorflow_session_parallelism": "0",
            "tensorflow_session_config_file": "", "tensorflow_intra_op_parallelism": "1",
            "tensorflow_inter_op_parallelism": "1", "use_alts_credentials": "false",
            "ssl_config_file": "", "platform_config_file": "",
            "per_process_gpu_memory_fraction": "0.5", "saved_model_tags": "serve",
            "grpc_channel_arguments": "grpc.max_connection_age_ms=60000",
            "grpc_max_threads": "4", "enable_model_warmup": "true",
            "num_request_iterations_for_warmup": "0", "version": "false",
            "monitoring_config_file": "",
            "remove_unused_fields_from_bundle_metagraph": "true",
            "prefer_tflite_model": "true", "num_tflite_pools": "2",
            "num_tflite_interpreters_per_pool": "1",
            "enable_signature_method_name_check": "false",
            "xla_cpu_compilation_enabled": "false", "xla_gpu_compilation_enabled": "false",
            "enable_profiler": "true", "thread_pool_factory_config_file": "",
            "mixed_precision": "bfloat16", "skip_initialize_tpu": "true",
            "enable_grpc_healthcheck_service": "true",
            "enable_serialization_as_tensor_content": "true",
        }
        # --port and --rest_api_port come from the runner.
        self.assertEqual(sorted(values), sorted(set(UPSTREAM_FLAGS) - {"port", "rest_api_port"}))
        server = self.start_server([f"--{k}={v}" for k, v in values.items()], ["m"],
                                   rest=True)
        response = server.prediction_stub.Predict(
            server_runner.half_plus_two_request("m", [1.0, 2.0]), timeout=30)
        # --enable_serialization_as_tensor_content: packed little-endian floats.
        self.assertEqual(list(response.outputs["y"].float_val), [])
        self.assertEqual(np.frombuffer(response.outputs["y"].tensor_content, "<f4").tolist(),
                         [2.5, 3.0])
        logs = server.logs()
        for name in NO_EFFECT:
            self.assertIn(f"--{name} has no effect here: ", logs)
        self.assertNotIn("--grpc_max_threads has no effect", logs)

    def test_rest_api_port_same_as_port_serves_grpc_without_rest(self):
        # Upstream's server.cc logs an error and goes on without REST.
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        port = server_launcher.pick_unused_port()
        server = server_launcher.ServerRunner(
            ["--model_name=m", f"--model_base_path={base}", f"--rest_api_port={port}"],
            rest=False, grpc_port=port)
        self.addCleanup(server.cleanup)
        server.start(["m"])
        response = server.prediction_stub.Predict(
            server_runner.half_plus_two_request("m", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [3.0])
        logs = server.logs()
        self.assertIn("--rest_api_port cannot be same as --port. Please use a different "
                      "port for HTTP/REST API. Skipped exporting HTTP/REST API.", logs)
        self.assertNotIn("Exporting HTTP/REST API", logs)

    def test_docker_entrypoint_line_with_model_config_file(self):
        # Upstream's image runs tensorflow_model_server --port=8500
        # --rest_api_port=8501 --model_name=${MODEL_NAME}
        # --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} "$@".
        base = os.path.join(self.tmp, "half")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        config = write(self.tmp, "models.config",
                       f'model_config_list {{ config {{ name: "half" base_path: "{base}" '
                       'model_platform: "tensorflow" } }')
        server = self.start_server(["--model_name=model", "--model_base_path=/models/model",
                                    f"--model_config_file={config}"], ["half"], rest=True)
        response = server.prediction_stub.Predict(
            server_runner.half_plus_two_request("half", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [3.0])
        self.assertNotIn("Building single TensorFlow model file config", server.logs())


if __name__ == "__main__":
    absltest.main()

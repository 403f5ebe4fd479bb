"""End-to-end: version rollover under load, a broken version next to a good one,
and how startup and reloads report models that fail."""

import os
import signal
import subprocess
import threading

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.test_util import test_util

_request = server_runner.half_plus_two_request

_State = get_model_status_pb2.ModelVersionStatus


class LifecycleTest(server_runner.ServerTestCase):

    def test_rollover_under_load(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        server = self.start_server([f"--model_name=m", f"--model_base_path={base}",
                                    "--file_system_poll_wait_seconds=1"], ["m"])
        failures, answers, versions, stop = [], set(), set(), threading.Event()

        def client():
            while not stop.is_set():
                try:
                    response = server.prediction_stub.Predict(_request("m", [1.0]),
                                                              timeout=30)
                    version = response.model_spec.version.value
                    answers.add((version, response.outputs["y"].float_val[0]))
                    versions.add(version)
                except grpc.RpcError as e:
                    failures.append(e)

        threads = [threading.Thread(target=client) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            # Traffic flows before, during and after the switch.
            test_util.wait_for(lambda: 1 in versions, "an answer of version 1")
            server_runner.export_half_plus_two_versions(base, {2: 7.0})
            server.wait_for_version("m", 2, timeout=60)
            server.wait_for_version("m", 1, timeout=60, state="END")
            test_util.wait_for(lambda: 2 in versions, "an answer of version 2")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertEqual(answers, {(1, 2.5), (2, 7.5)})
        self.assertIn("Successfully loaded servable version {name: m version: 2}",
                      server.logs())

    def test_broken_version_next_to_good_one(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        server = self.start_server(["--model_name=m", f"--model_base_path={base}",
                                    "--max_num_load_retries=1",
                             "--load_retry_interval_micros=100000",
                             "--file_system_poll_wait_seconds=1"], ["m"])
        # A newer version that cannot load must not take the good one down.
        os.makedirs(os.path.join(base, ".tmp-2"))
        with open(os.path.join(base, ".tmp-2", "saved_model.pb"), "wb") as f:
            f.write(b"this is not a SavedModel")
        os.rename(os.path.join(base, ".tmp-2"), os.path.join(base, "2"))
        server.wait_for_version("m", 2, state="END")
        status = {s.version: s for s in server.model_status("m").model_version_status}
        self.assertEqual(status[1].state, _State.AVAILABLE)
        self.assertEqual(status[2].status.error_code, grpc.StatusCode.DATA_LOSS.value[0])
        self.assertEqual(status[2].status.error_message, "Can't parse "
                         f"{os.path.join(base, '2', 'saved_model.pb')} as binary proto")
        response = server.prediction_stub.Predict(_request("m", [2.0]), timeout=30)
        self.assertEqual(response.model_spec.version.value, 1)
        self.assertEqual(response.outputs["y"].float_val, [3.0])
        with self.assertRaises(grpc.RpcError) as cm:
            request = _request("m", [1.0])
            request.model_spec.version.value = 2
            server.prediction_stub.Predict(request, timeout=30)
        # As upstream: a version that is not AVAILABLE is not found.
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND,
                         cm.exception.details())


def _broken_version(base, version):
    os.makedirs(os.path.join(base, str(version)))
    with open(os.path.join(base, str(version), "saved_model.pb"), "wb") as f:
        f.write(b"this is not a SavedModel")


class LifecycleReportingTest(server_runner.ServerTestCase):
    """Startup and reload report failures as upstream's ServerCore does."""

    def test_startup_fails_when_a_model_fails_to_load(self):
        base = os.path.join(self.tmp, "m")
        _broken_version(base, 1)
        result = server_launcher.run_to_completion(
            ["--model_name=m", f"--model_base_path={base}", "--max_num_load_retries=0"])
        self.assertNotEqual(result.returncode, 0)
        last = result.stderr.strip().splitlines()[-1]
        self.assertRegex(last, r"^tensorflow_model_server: UNKNOWN: 1 servable\(s\) did not "
                         r"become available: \{\{\{name: m version: 1\} due to error: "
                         r"[A-Z_]+: .*\}, \}$")

    def test_reload_answers_an_error_when_a_new_model_fails(self):
        good, bad = os.path.join(self.tmp, "good"), os.path.join(self.tmp, "bad")
        server_runner.export_half_plus_two_versions(good, {1: 2.0})
        _broken_version(bad, 1)
        server = self.start_server(["--model_name=good", f"--model_base_path={good}",
                                    "--max_num_load_retries=0"], ["good"])
        request = model_management_pb2.ReloadConfigRequest()
        for name, base in (("good", good), ("bad", bad)):
            model = request.config.model_config_list.config.add()
            model.name, model.base_path, model.model_platform = name, base, "tensorflow"
        with self.assertRaises(grpc.RpcError) as cm:
            server.model_stub.HandleReloadConfigRequest(request, timeout=60)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNKNOWN)
        self.assertIn("1 model(s) did not become available: {{{name: bad version: 1} "
                      "due to error: ", cm.exception.details())
        response = server.prediction_stub.Predict(_request("good", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [3.0])

    def test_logging_config_without_a_known_collector_is_refused(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        config = os.path.join(self.tmp, "models.config")
        with open(config, "w") as f:
            f.write(f'model_config_list {{ config {{ name: "m" base_path: "{base}" '
                    'model_platform: "tensorflow" logging_config { sampling_config { '
                    'sampling_rate: 1 } } } }')
        result = server_launcher.run_to_completion([f"--model_config_file={config}"])
        self.assertNotEqual(result.returncode, 0)
        # Refused as the config file is read, before any model loads.
        self.assertEqual(result.stderr.strip().splitlines()[-1],
                         f"tensorflow_model_server: {config}: Model m: "
                         "logging_config.log_collector_config.type '' is not a log "
                         "collector of this server; use 'tfrecord' (PredictionLog "
                         "records in TFRecord files)")


class SignalDuringStartupTest(server_runner.ServerTestCase):
    """SIGTERM or SIGINT ends a server still waiting for its models at once.

    Nothing is served yet, so there is nothing to drain: a container stopped
    on an empty store must not wait out its grace period for a SIGKILL.
    """

    # An exit takes milliseconds; the bound only allows for a loaded machine,
    # far below the 60 s load retry interval and the endless wait for versions.
    _EXIT_BOUND_S = 10.0

    def assertSignalEndsStartup(self, base, waiting_line, sig=signal.SIGTERM, args=()):
        """Returns the server's log."""
        server = server_launcher.ServerRunner(
            ["--model_name=m", f"--model_base_path={base}", *args], rest=True)
        self.addCleanup(server.cleanup)
        server.launch()
        server.wait_for_log(waiting_line)
        server.send_signal(sig)
        try:
            code = server.wait(self._EXIT_BOUND_S)
        except subprocess.TimeoutExpired:
            self.fail(f"still running {self._EXIT_BOUND_S:.0f} s after signal {sig}:\n"
                      f"{server.logs()}")
        self.assertEqual(code, 128 + sig, server.logs())
        self.assertIn(f"Received signal {sig} during startup, exiting now.", server.logs())
        return server.logs()

    def test_base_path_that_does_not_exist(self):
        self.assertSignalEndsStartup(os.path.join(self.tmp, "does_not_exist"),
                                     "Will keep polling for it.")

    def test_version_directory_one_level_too_deep(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(os.path.join(base, "model"), {1: 2.0})
        self.assertSignalEndsStartup(base, "No versions of servable m found",
                                     sig=signal.SIGINT)

    def test_empty_store(self):
        base = os.path.join(self.tmp, "m")
        os.makedirs(base)
        self.assertSignalEndsStartup(base, "No versions of servable m found")

    def test_corrupt_saved_model_during_load_retries(self):
        base = os.path.join(self.tmp, "m")
        _broken_version(base, 1)
        # The default retry interval: a minute between attempts, which the
        # log names along with the flags that set it.
        logs = self.assertSignalEndsStartup(
            base, "--max_num_load_retries, --load_retry_interval_micros",
            args=["--max_num_load_retries=5"])
        saved_model = os.path.join(base, "1", "saved_model.pb")
        # Upstream's words (TensorFlow's ReadBinaryProto), with a plain path.
        self.assertIn(f"Loading servable: {{name: m version: 1}} failed: Can't parse "
                      f"{saved_model} as binary proto\n", logs)
        self.assertIn("Loading servable: {name: m version: 1} will be retried 5 more "
                      "time(s), 60 s apart (--max_num_load_retries, "
                      "--load_retry_interval_micros)", logs)
        self.assertNotIn("b'", logs)


if __name__ == "__main__":
    absltest.main()

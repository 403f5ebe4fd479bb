"""End-to-end: config reloads (file polling, the RPC), readiness, warmup replay."""

import os

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.config import model_server_config_pb2
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.test_util import test_util

_request = server_runner.half_plus_two_request


def config_text(models):
    """models: {name: base_path}."""
    config = model_server_config_pb2.ModelServerConfig()
    for name, base in models.items():
        model = config.model_config_list.config.add()
        model.name, model.base_path, model.model_platform = name, base, "tensorflow"
    return config


class ConfigReloadTest(server_runner.ServerTestCase):

    def _wait_until_gone(self, server, name, timeout=60):
        """Waits until Predict on `name` answers NOT_FOUND (it left the config)."""
        def gone():
            try:
                server.prediction_stub.Predict(_request(name, [1.0]), timeout=30)
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
                return True
            return False
        test_util.wait_for(gone, f"model {name} to leave with the config", timeout,
                           interval=0.1)

    def test_config_file_and_rpc_reload(self):
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        server_runner.export_half_plus_two_versions(a, {1: 2.0})
        server_runner.export_half_plus_two_versions(b, {1: 10.0})
        config_path = os.path.join(self.tmp, "models.config")
        with open(config_path, "w") as f:
            f.write(str(config_text({"a": a})))
        server = self.start_server([f"--model_config_file={config_path}",
                                    "--model_config_file_poll_wait_seconds=1"], ["a"])
        # The file changes: b is added, a removed.
        with open(config_path + ".tmp", "w") as f:
            f.write(str(config_text({"b": b})))
        os.rename(config_path + ".tmp", config_path)
        server.wait_for_version("b", 1, timeout=60)
        self._wait_until_gone(server, "a")
        response = server.prediction_stub.Predict(_request("b", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [11.0])
        # HandleReloadConfigRequest: both models; the reload answers once a loaded.
        request = model_management_pb2.ReloadConfigRequest()
        request.config.CopyFrom(config_text({"a": a, "b": b}))
        response = server.model_stub.HandleReloadConfigRequest(request, timeout=60)
        self.assertEqual(response.status.error_code, 0)
        # As upstream, the next poll applies the file again: a leaves, b stays.
        self._wait_until_gone(server, "a")
        response = server.prediction_stub.Predict(_request("b", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [11.0])
        # A config that is not a model_config_list is refused.
        with self.assertRaises(grpc.RpcError) as cm:
            server.model_stub.HandleReloadConfigRequest(
                model_management_pb2.ReloadConfigRequest(), timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_warmup_file_is_replayed(self):
        from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two  # pylint: disable=g-import-not-at-top
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        saved_model_half_plus_two.write_warmup_requests(
            os.path.join(base, "1"), [_request("m", [float(i)]) for i in range(3)])
        server = self.start_server(["--model_name=m", f"--model_base_path={base}",
                                    "--num_request_iterations_for_warmup=2"], ["m"])
        logs = server.logs()
        self.assertIn("Finished reading warmup data for model at", logs)
        self.assertIn("Number of warmup records read: 3.", logs)

    def test_startup_waits_for_a_model_without_versions(self):
        good, empty = os.path.join(self.tmp, "good"), os.path.join(self.tmp, "empty")
        server_runner.export_half_plus_two_versions(good, {1: 2.0})
        os.makedirs(empty)
        config_path = os.path.join(self.tmp, "models.config")
        with open(config_path, "w") as f:
            f.write(str(config_text({"good": good, "empty": empty})))
        server = server_launcher.ServerRunner([f"--model_config_file={config_path}"])
        self.addCleanup(server.cleanup)
        server.launch()
        # As upstream, the server does not listen before every model has a version.
        server.wait_for_log("No versions of servable empty found")
        server.wait_for_log("Successfully loaded servable version {name: good version: 1}")
        with self.assertRaises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(server.channel).result(timeout=1)
        self.assertIsNone(server.process.poll())
        # Once a version appears it is loaded and the server starts serving.
        server_runner.export_half_plus_two_versions(empty, {3: 1.0})
        server.wait_until_ready(["empty", "good"])
        response = server.prediction_stub.Predict(_request("empty", [1.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [1.5])
        response = server.prediction_stub.Predict(_request("good", [1.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [2.5])

if __name__ == "__main__":
    absltest.main()

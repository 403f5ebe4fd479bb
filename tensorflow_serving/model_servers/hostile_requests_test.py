"""Hostile requests get client errors and harm no one else.

Each test starts the real binary, keeps a steady client calling it during the
attack, and checks the attack's answers, the steady client's (no failure, no
stall) and what the server used or logged.
"""

import concurrent.futures
import json
import os
import socket
import tempfile
import threading
import urllib.error
import urllib.request

import grpc
from absl.testing import absltest

from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from google.protobuf import text_format

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import model_server_config_pb2
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.model_servers.test_util import steady_client

_MODEL = "hp2"
# A steady call slower than this means the attack stalled other clients;
# generous, so a loaded machine does not trip it.
_STALL_SECONDS = 5.0


def _peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class HostileRequestsTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmpdir = tempfile.TemporaryDirectory()
        base = os.path.join(cls._tmpdir.name, _MODEL)
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        cls.server = server_launcher.ServerRunner(
            [f"--model_name={_MODEL}", f"--model_base_path={base}"], rest=True)
        cls.server.start([_MODEL])

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls._tmpdir.cleanup()
        super().tearDownClass()

    def _rest(self, body: bytes, path=f"/v1/models/{_MODEL}:predict"):
        request = urllib.request.Request(
            f"http://localhost:{self.server.rest_port}{path}", data=body)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_tiny_request_declaring_a_huge_tensor(self):
        # 59 bytes on the wire that declare [1, 2**30] floats filled with one value.
        request = predict_pb2.PredictRequest()
        request.model_spec.name = _MODEL
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0])
        tensor.tensor_shape.dim.add(size=1)
        tensor.tensor_shape.dim.add(size=2**30)
        request.inputs["x"].CopyFrom(tensor)
        self.assertLess(request.ByteSize(), 64)
        peak_before = _peak_rss_bytes(self.server.process.pid)
        stub = self.server.prediction_stub

        def attack(_):
            try:
                stub.Predict(request, timeout=60)
            except grpc.RpcError as e:
                return e.code(), e.details()
            return grpc.StatusCode.OK, ""

        with steady_client.SteadyClient(self.server, _MODEL) as steady:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(attack, range(8)))
        steady.check(self, _STALL_SECONDS)
        for code, details in answers:
            self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, code)
            self.assertIn("tensor parsing error: x", details)
            self.assertIn("--max_tensor_fill_bytes", details)
        grown = _peak_rss_bytes(self.server.process.pid) - peak_before
        self.assertLess(grown, 512 << 20, f"peak RSS grew by {grown >> 20} MiB")

    def test_shapes_that_overflow_are_client_errors(self):
        request = server_runner.half_plus_two_request(_MODEL, [1.0], shape=[2**40, 2**40])
        with self.assertRaises(grpc.RpcError) as cm:
            self.server.prediction_stub.Predict(request, timeout=30)
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, cm.exception.code())
        self.assertEqual("tensor parsing error: x", cm.exception.details())

    def test_rest_bodies_that_are_client_errors(self):
        depth = 100000
        with steady_client.SteadyClient(self.server, _MODEL) as steady:
            nested = self._rest(b'{"instances": ' + b"[" * depth + b"1.0"
                                + b"]" * depth + b"}")
            huge_int = self._rest(b'{"instances": [' + b"9" * 5000 + b"]}")
        steady.check(self, _STALL_SECONDS)
        self.assertEqual(400, nested[0], nested[1][:200])
        self.assertEqual({"error": "tensor parsing error: x"}, json.loads(nested[1]))
        self.assertEqual(400, huge_int[0])
        self.assertEqual(
            {"error": "JSON Parse error: Number too big to be stored in double. "
                      "at offset: 15"}, json.loads(huge_int[1]))

    def test_version_of_5000_digits(self):
        digits = "9" * 5000
        code, body = self._rest(b'{"instances": [[1.0]]}',
                                f"/v1/models/{_MODEL}/versions/{digits}:predict")
        self.assertEqual(400, code, body[:200])
        self.assertEqual({"error": f"Failed to convert version: {digits} to numeric."},
                         json.loads(body))
        # Leading zeros are no reason to refuse a version, as for absl::SimpleAtoi.
        code, body = self._rest(b'{"instances": [[1.0]]}',
                                f"/v1/models/{_MODEL}/versions/{'0' * 5000}1:predict")
        self.assertEqual(200, code, body[:200])

    def test_base64_that_is_no_example(self):
        # Valid base64 without padding, whose bytes are no tf.Example and no
        # UTF-8 either: TensorFlow's error quotes them.
        code, body = self._rest(b'{"signature_name": "classify_x_to_y", '
                                b'"instances": [{"b64": "abc"}]}')
        self.assertEqual(400, code, body[:300])
        self.assertIn("Could not parse example input, value: ", json.loads(body)["error"])

    def test_undecodable_requests_are_logged_once(self):
        channel = self.server.channel
        predict = channel.unary_unary(
            "/tensorflow.serving.PredictionService/Predict",
            request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
        logs_before = len(self.server.logs())
        with steady_client.SteadyClient(self.server, _MODEL) as steady:
            for i in range(200):
                with self.assertRaises(grpc.RpcError) as cm:
                    predict(b"\xff\xff\xff" + bytes([i]), timeout=30)
                # grpc's (and upstream's) answer to a message that does not parse.
                self.assertEqual(grpc.StatusCode.INTERNAL, cm.exception.code())
        steady.check(self, _STALL_SECONDS)
        new_logs = self.server.logs()[logs_before:]
        self.assertLessEqual(new_logs.count("Exception deserializing"), 2, new_logs[-2000:])
        self.assertNotIn("Traceback", new_logs)
        self.assertLess(len(new_logs), 20000)

    def test_calls_no_method_answers(self):
        channel = self.server.channel

        def call(path, requests):
            multi = channel.stream_unary(path, request_serializer=lambda raw: raw,
                                         response_deserializer=lambda raw: raw)
            with self.assertRaises(grpc.RpcError) as cm:
                multi(iter(requests), timeout=30)
            return cm.exception
        # What gRPC answers for a method no service has.
        error = call("/tensorflow.serving.PredictionService/Explain", [b""])
        self.assertEqual(grpc.StatusCode.UNIMPLEMENTED, error.code())
        self.assertEqual("Method not found!", error.details())
        # A method of Triton's service this server does not implement.
        error = call("/inference.GRPCInferenceService/RepositoryIndex", [b""])
        self.assertEqual(grpc.StatusCode.UNIMPLEMENTED, error.code())
        # A unary call whose client sent no request message: grpcio's answer.
        for path in ("/tensorflow.serving.PredictionService/Predict",
                     "/tensorflow.serving.ModelService/GetModelStatus",
                     "/inference.GRPCInferenceService/ModelInfer"):
            error = call(path, [])
            self.assertEqual(grpc.StatusCode.UNIMPLEMENTED, error.code())
            self.assertEqual(f"\"b'{path}'\" requires exactly one request message.",
                             error.details())
        response = self.server.prediction_stub.Predict(
            server_runner.half_plus_two_request(_MODEL, [2.0]), timeout=30)
        self.assertEqual([3.0], list(response.outputs["y"].float_val))

    def test_requests_slow_to_arrive_hold_up_no_call(self):
        # Calls whose request message has not come (more of them than the
        # server has gRPC threads) while another call is made.
        release = threading.Event()

        def held():
            release.wait(60)
            yield from ()
        predict = self.server.channel.stream_unary(
            "/tensorflow.serving.PredictionService/Predict",
            request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
        waiting = [predict.future(held(), timeout=90) for _ in range(16)]
        try:
            response = self.server.prediction_stub.Predict(
                server_runner.half_plus_two_request(_MODEL, [2.0]), timeout=30)
            self.assertEqual([3.0], list(response.outputs["y"].float_val))
            self.assertFalse(any(call.done() for call in waiting))
        finally:
            release.set()
        for call in waiting:
            self.assertEqual(grpc.StatusCode.UNIMPLEMENTED, call.exception().code())

    def test_server_survives_garbage_on_its_ports(self):
        for port in (self.server.grpc_port, self.server.rest_port):
            with socket.create_connection(("localhost", port), timeout=10) as s:
                s.sendall(os.urandom(4096))
        response = self.server.prediction_stub.Predict(
            server_runner.half_plus_two_request(_MODEL, [2.0]), timeout=30)
        self.assertEqual([3.0], list(response.outputs["y"].float_val))


class ReloadStormTest(absltest.TestCase):
    """Reloads that wait on failing loads never starve Predict."""

    def test_concurrent_reloads_of_failing_models(self):
        tmp = self.create_tempdir().full_path
        base = os.path.join(tmp, _MODEL)
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        broken = os.path.join(tmp, "broken", "1")
        os.makedirs(broken)
        with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
            f.write(b"not a SavedModel")

        def config(*extra):
            text = (f'model_config_list {{ config {{ name: "{_MODEL}" base_path: '
                    f'"{base}" model_platform: "tensorflow" }}')
            for name in extra:
                text += (f' config {{ name: "{name}" base_path: '
                         f'"{os.path.dirname(broken)}" model_platform: "tensorflow" }}')
            return text_format.Parse(text + " }",
                                     model_server_config_pb2.ModelServerConfig())

        config_path = os.path.join(tmp, "models.config")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(text_format.MessageToString(config()))
        # A failing load takes at least six seconds of retries.
        with server_launcher.ServerRunner(
                [f"--model_config_file={config_path}",
                 "--max_num_load_retries=3", "--load_retry_interval_micros=2000000"],
                rest=True) as server:
            server.start([_MODEL])
            stub = server.model_stub

            def reload(name, timeout):
                request = model_management_pb2.ReloadConfigRequest(config=config(name))
                try:
                    stub.HandleReloadConfigRequest(request, timeout=timeout)
                except grpc.RpcError as e:
                    return e.code(), e.details()
                return grpc.StatusCode.OK, ""

            with steady_client.SteadyClient(server, _MODEL) as steady:
                with concurrent.futures.ThreadPoolExecutor(9) as pool:
                    # One reload with time to wait holds the config for its
                    # model's six seconds of retries...
                    blocker = pool.submit(reload, "blocker", 60)
                    server.wait_for_log("(Re-)adding model: blocker")
                    # ...while eight more queue behind it, whose callers give
                    # up after three seconds.
                    answers = list(pool.map(reload, [f"broken{i}" for i in range(8)],
                                            [3] * 8))
                    blocked = blocker.result()
            steady.check(self, _STALL_SECONDS)
            self.assertEqual(grpc.StatusCode.UNKNOWN, blocked[0], blocked)
            self.assertIn("blocker", blocked[1])
            # A last reload queues behind the others: once it answers, every
            # earlier one has run (or been skipped).
            stub.HandleReloadConfigRequest(
                model_management_pb2.ReloadConfigRequest(config=config()), timeout=120)
            for i, (code, details) in enumerate(answers):
                self.assertEqual(grpc.StatusCode.DEADLINE_EXCEEDED, code, details)
                # Never applied: the model was never configured, not even
                # for a moment.
                status_request = get_model_status_pb2.GetModelStatusRequest()
                status_request.model_spec.name = f"broken{i}"
                with self.assertRaises(grpc.RpcError) as cm:
                    stub.GetModelStatus(status_request, timeout=30)
                self.assertEqual(grpc.StatusCode.NOT_FOUND, cm.exception.code())


if __name__ == "__main__":
    absltest.main()

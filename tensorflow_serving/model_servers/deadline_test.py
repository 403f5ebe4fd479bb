"""End-to-end: deadlines become the model run's timeout, and the server keeps serving.

A "blocking" model's runs never finish on their own (they wait on an empty
queue), so every answer below comes from TensorFlow cancelling the run when
its timeout expires: the gRPC deadline, --rest_api_timeout_in_ms, or the
session config's operation_timeout_in_ms (--tensorflow_session_config_file).
A "busy" TF2 model computes for hours instead, on the request thread where
its graph is small enough: there the answer alone proves little, so those
tests watch the server's CPU time go idle after the deadline.
"""

import json
import os
import time
import urllib.error
import urllib.request

import grpc
from absl.testing import absltest

from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import saved_model_busy
from tensorflow_serving.test_util import test_util

_request = server_runner.half_plus_two_request

CONFIG = """
model_config_list {{
  config {{ name: "blocking" base_path: "{blocking}" model_platform: "tensorflow" }}
  config {{ name: "good" base_path: "{good}" model_platform: "tensorflow" }}
}}
"""


def _input(request):
    example = example_pb2.Example()
    example.features.feature["x"].float_list.value.append(1.0)
    request.input.example_list.examples.add().CopyFrom(example)
    return request


class DeadlineTest(server_runner.ServerTestCase):

    def setUp(self):
        super().setUp()
        blocking, good = os.path.join(self.tmp, "blocking"), os.path.join(self.tmp, "good")
        server_runner.export_half_plus_two_versions(blocking, {1: 2.0}, blocking=True)
        server_runner.export_half_plus_two_versions(good, {1: 2.0})
        self.config = os.path.join(self.tmp, "models.config")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(blocking=blocking, good=good))

    def assertServes(self, server):
        response = server.prediction_stub.Predict(_request("good", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [3.0])

    def assertDeadlineExceeded(self, call, request, timeout=1.0):
        with self.assertRaises(grpc.RpcError) as cm:
            call(request, timeout=timeout)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_grpc_deadline_is_the_run_timeout_of_every_rpc(self):
        # Two gRPC threads: if timed-out runs kept their threads, the calls
        # after the first two could never be answered.
        server = self.start_server([f"--model_config_file={self.config}",
                                    "--grpc_max_threads=2"], ["blocking", "good"])
        stub = server.prediction_stub
        classify = _input(classification_pb2.ClassificationRequest())
        classify.model_spec.name = "blocking"
        classify.model_spec.signature_name = "classify_x_to_y"
        regress = _input(regression_pb2.RegressionRequest())
        regress.model_spec.name = "blocking"
        regress.model_spec.signature_name = "regress_x_to_y"
        multi = _input(inference_pb2.MultiInferenceRequest())
        task = multi.tasks.add()
        task.model_spec.name = "blocking"
        task.model_spec.signature_name = "regress_x_to_y"
        task.method_name = "tensorflow/serving/regress"
        for call, request in ((stub.Predict, _request("blocking", [1.0])),
                              (stub.Classify, classify), (stub.Regress, regress),
                              (stub.MultiInference, multi),
                              (stub.Predict, _request("blocking", [1.0]))):
            self.assertDeadlineExceeded(call, request)
            self.assertServes(server)

    def test_rest_timeout_is_the_run_timeout(self):
        server = self.start_server([f"--model_config_file={self.config}",
                                    "--rest_api_timeout_in_ms=1000"],
                                   ["blocking", "good"], rest=True)
        url = f"http://localhost:{server.rest_port}/v1/models/"
        for _ in range(2):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(urllib.request.Request(
                    url + "blocking:predict",
                    data=json.dumps({"instances": [[1.0]]}).encode()), timeout=60)
            self.assertEqual(cm.exception.code, 504)
            self.assertIn("error", json.loads(cm.exception.read()))
            with urllib.request.urlopen(urllib.request.Request(
                    url + "good:predict",
                    data=json.dumps({"instances": [[1.0]]}).encode()), timeout=60) as r:
                self.assertEqual(json.loads(r.read()), {"predictions": [[2.5]]})

    def test_deadline_covers_batching_queue_and_run(self):
        batching = os.path.join(self.tmp, "batching.config")
        with open(batching, "w") as f:
            f.write("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 0 }\n"
                    "num_batch_threads { value: 1 }\n")
        server = self.start_server([f"--model_config_file={self.config}",
                                    "--enable_batching",
                                    f"--batching_parameters_file={batching}"],
                                   ["blocking", "good"])
        stub = server.prediction_stub
        classify = _input(classification_pb2.ClassificationRequest())
        classify.model_spec.name = "blocking"
        classify.model_spec.signature_name = "classify_x_to_y"
        regress = _input(regression_pb2.RegressionRequest())
        regress.model_spec.name = "blocking"
        regress.model_spec.signature_name = "regress_x_to_y"
        # One batch thread: each batch must be cut off, whichever RPC queued it.
        for call, request in ((stub.Predict, _request("blocking", [1.0])),
                              (stub.Classify, classify), (stub.Regress, regress),
                              (stub.Predict, _request("blocking", [1.0]))):
            self.assertDeadlineExceeded(call, request)
            self.assertServes(server)

    def test_session_config_operation_timeout_applies_without_run_timeout(self):
        # With --rest_api_timeout_in_ms=0 a REST run has no timeout of its own,
        # so the session config's operation_timeout_in_ms decides (a gRPC call
        # always has one: no deadline is an infinite one, as upstream).
        session = os.path.join(self.tmp, "session.config")
        with open(session, "w") as f:
            f.write("operation_timeout_in_ms: 1000\n")
        server = self.start_server([f"--model_config_file={self.config}",
                                    f"--tensorflow_session_config_file={session}",
                                    "--rest_api_timeout_in_ms=0"],
                                   ["blocking", "good"], rest=True)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(urllib.request.Request(
                f"http://localhost:{server.rest_port}/v1/models/blocking:predict",
                data=json.dumps({"instances": [[1.0]]}).encode()), timeout=60)
        self.assertEqual(cm.exception.code, 504)
        self.assertServes(server)

# The busy model's run must be cut off by this; the client waits longer.
_DEADLINE_S = 0.5
# How long a run holds its thread while other calls are made.
_RUNNING_S = 15
# A CPU-time window of the server, and the most an idle server uses in it: a
# run still computing takes a core's share, well above it even on a loaded
# machine.
_WINDOW_S = 0.5
_IDLE_CPU_S = 0.05


def _busy_request(iterations=saved_model_busy.FOREVER) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "busy"
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64)
    tensor.tensor_shape.dim.add(size=1)
    tensor.int64_val.append(iterations)
    request.inputs["iterations"].CopyFrom(tensor)
    return request


class DeadlineEndsTheRunTest(server_runner.ServerTestCase):
    """The busy model's runs only end when TensorFlow cancels them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = os.path.join(absltest.get_default_test_tmpdir(), "busy")
        if not os.path.isdir(os.path.join(cls.base, "1")):
            saved_model_busy.export_busy_model(os.path.join(cls.base, "1"))

    def start_busy_server(self, *args):
        return self.start_server(["--model_name=busy", f"--model_base_path={self.base}",
                                  f"--rest_api_timeout_in_ms={int(_DEADLINE_S * 1000)}",
                                  *args], ["busy"], rest=True)

    def assertRunEnds(self, server, answered_at):
        """The server's CPU goes idle: its run was cancelled, not left to go on."""
        pid = procstat.serving_pid(server.process.pid)

        def idle_window():
            before = procstat.cpu_seconds(pid)
            time.sleep(_WINDOW_S)  # a measurement window, not a wait for an event
            return procstat.cpu_seconds(pid) - before < _IDLE_CPU_S
        test_util.wait_for(idle_window, "the server's CPU to go idle after the "
                           "deadline (the run went on)", timeout=30, interval=0)
        return time.monotonic() - answered_at

    def assertGrpcDeadlineEndsTheRun(self, server):
        with self.assertRaises(grpc.RpcError) as cm:
            server.prediction_stub.Predict(_busy_request(), timeout=_DEADLINE_S)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertRunEnds(server, time.monotonic())

    def assertRestTimeoutEndsTheRun(self, server):
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(urllib.request.Request(
                f"http://localhost:{server.rest_port}/v1/models/busy:predict",
                data=json.dumps({"instances": [saved_model_busy.FOREVER]}).encode()),
                timeout=60)
        self.assertEqual(cm.exception.code, 504, cm.exception.read())
        self.assertRunEnds(server, time.monotonic())

    def assertServes(self, server):
        response = server.prediction_stub.Predict(_busy_request(3), timeout=30)
        self.assertEqual(list(response.outputs["count"].int64_val), [3])

    def test_grpc_deadline_and_rest_timeout_end_the_run(self):
        server = self.start_busy_server()
        for _ in range(2):
            self.assertGrpcDeadlineEndsTheRun(server)
            self.assertRestTimeoutEndsTheRun(server)
            self.assertServes(server)

    def test_a_running_call_holds_up_no_other_call(self):
        # Two gRPC threads: while one computes the busy model's run, every
        # other call is answered by the other, long before that run ends.
        server = self.start_busy_server("--grpc_max_threads=2")
        pid = procstat.serving_pid(server.process.pid)
        running = server.prediction_stub.Predict.future(_busy_request(), timeout=_RUNNING_S)

        def computing():
            before = procstat.cpu_seconds(pid)
            time.sleep(_WINDOW_S)  # a measurement window, not a wait for an event
            return procstat.cpu_seconds(pid) - before > 2 * _IDLE_CPU_S
        test_util.wait_for(computing, "the busy run to start", timeout=30, interval=0)
        for _ in range(20):
            self.assertServes(server)
        self.assertFalse(running.done(), "the calls were answered only after the run ended")
        self.assertEqual(running.exception().code(), grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_with_batching_the_deadline_ends_the_batch_run(self):
        batching = os.path.join(self.tmp, "batching.config")
        with open(batching, "w") as f:
            f.write("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 0 }\n"
                    "num_batch_threads { value: 1 }\n")
        # One batch thread: a run left going would hold it, and the requests
        # after it could not be answered either.
        server = self.start_busy_server("--enable_batching",
                                        f"--batching_parameters_file={batching}")
        for _ in range(2):
            self.assertGrpcDeadlineEndsTheRun(server)
            self.assertRestTimeoutEndsTheRun(server)
            self.assertServes(server)


if __name__ == "__main__":
    absltest.main()

"""End-to-end: deadlines become the model run's timeout, and the server keeps serving.

A "blocking" model's runs never finish on their own (they wait on an empty
queue), so every answer below comes from TensorFlow cancelling the run when
its timeout expires: the gRPC deadline, --rest_api_timeout_in_ms, or the
session config's operation_timeout_in_ms (--tensorflow_session_config_file).
"""

import json
import os
import urllib.error
import urllib.request

import grpc
from absl.testing import absltest

from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers.test_util import server_runner

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
        for _ in range(3):  # one batch thread: each batch must be cut off
            self.assertDeadlineExceeded(server.prediction_stub.Predict,
                                        _request("blocking", [1.0]))
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

if __name__ == "__main__":
    absltest.main()

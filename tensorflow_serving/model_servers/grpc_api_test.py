"""End-to-end: every gRPC RPC and its error statuses against the real binary."""

import os
import tempfile

import grpc
import numpy as np
from absl.testing import absltest

from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner

MODEL = "half_plus_two"
_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE

CONFIG = """
model_config_list {{
  config {{
    name: "{name}"
    base_path: "{base}"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
    version_labels {{ key: "canary" value: 2 }}
  }}
}}
"""


def float_tensor(values, shape):
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    for s in shape:
        t.tensor_shape.dim.add(size=s)
    t.float_val.extend(values)
    return t


def example(x):
    e = example_pb2.Example()
    e.features.feature["x"].float_list.value.append(x)
    return e


class GrpcApiTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        base = os.path.join(cls.tmp, MODEL)
        server_runner.export_half_plus_two_versions(base, {1: 2.0, 2: 3.0})
        config = os.path.join(cls.tmp, "models.config")
        with open(config, "w") as f:
            f.write(CONFIG.format(name=MODEL, base=base))
        # Unix socket paths are limited to ~107 bytes: keep it short.
        cls.socket_path = os.path.join(tempfile.mkdtemp(prefix="tfs", dir="/tmp"),
                                       "grpc.sock")
        cls.server = server_launcher.ServerRunner(
            [f"--model_config_file={config}", f"--grpc_socket_path={cls.socket_path}",
             "--enable_grpc_healthcheck_service", "--file_system_poll_wait_seconds=0"],
            rest=False)
        cls.server.start()
        cls.server.wait_for_version(MODEL, 1)
        cls.server.wait_for_version(MODEL, 2)
        cls.stub = cls.server.prediction_stub

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def predict(self, xs, version=None, label=None, signature=None, stub=None):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL
        if version is not None:
            request.model_spec.version.value = version
        if label is not None:
            request.model_spec.version_label = label
        if signature is not None:
            request.model_spec.signature_name = signature
        request.inputs["x"].CopyFrom(float_tensor(xs, [len(xs), 1]))
        return (stub or self.stub).Predict(request, timeout=30)

    def assertRpcError(self, fn, code, *fragments):
        with self.assertRaises(grpc.RpcError) as cm:
            fn()
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        for fragment in fragments:
            self.assertIn(fragment, cm.exception.details())
        return cm.exception.details()

    def test_predict_latest_version_and_model_spec(self):
        response = self.predict([1.0, 2.0])
        np.testing.assert_allclose(response.outputs["y"].float_val, [3.5, 4.0])
        self.assertEqual(response.model_spec.name, MODEL)
        self.assertEqual(response.model_spec.version.value, 2)
        self.assertEqual(response.model_spec.signature_name, "serving_default")
        self.assertEqual([d.size for d in response.outputs["y"].tensor_shape.dim], [2, 1])

    def test_predict_specific_version_and_labels(self):
        self.assertEqual(self.predict([2.0], version=1).outputs["y"].float_val, [3.0])
        self.assertEqual(self.predict([2.0], label="stable").outputs["y"].float_val, [3.0])
        self.assertEqual(self.predict([2.0], label="canary").outputs["y"].float_val, [4.0])

    def test_unix_socket(self):
        with grpc.insecure_channel(f"unix:{self.socket_path}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            self.assertEqual(self.predict([0.0], stub=stub).outputs["y"].float_val, [3.0])

    def test_health_check(self):
        from grpc_health.v1 import health_pb2, health_pb2_grpc  # pylint: disable=g-import-not-at-top
        stub = health_pb2_grpc.HealthStub(self.server.channel)
        response = stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)

    def test_classify(self):
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = MODEL
        request.model_spec.signature_name = "classify_x_to_classes"
        request.input.example_list.examples.extend([example(1.0), example(4.0)])
        response = self.server.prediction_stub.Classify(request, timeout=30)
        classes = [[(c.label, round(c.score, 4)) for c in cl.classes]
                   for cl in response.result.classifications]
        self.assertEqual(classes, [[("3.5", 3.5)], [("5.0", 5.0)]])
        self.assertEqual(response.model_spec.version.value, 2)
        self.assertEqual(response.model_spec.signature_name, "classify_x_to_classes")

    def test_regress(self):
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = MODEL
        request.model_spec.version.value = 1
        request.model_spec.signature_name = "regress_x_to_y"
        request.input.example_list.examples.extend([example(2.0)])
        response = self.stub.Regress(request, timeout=30)
        self.assertEqual([r.value for r in response.result.regressions], [3.0])

    def test_multi_inference(self):
        request = inference_pb2.MultiInferenceRequest()
        for sig, method in [("classify_x_to_y", "tensorflow/serving/classify"),
                            ("regress_x_to_y", "tensorflow/serving/regress")]:
            task = request.tasks.add()
            task.model_spec.name = MODEL
            task.model_spec.version.value = 1
            task.model_spec.signature_name = sig
            task.method_name = method
        request.input.example_list.examples.extend([example(4.0)])
        response = self.stub.MultiInference(request, timeout=30)
        self.assertLen(response.results, 2)
        self.assertEqual(response.results[0].classification_result.classifications[0]
                         .classes[0].score, 4.0)
        self.assertEqual(response.results[1].regression_result.regressions[0].value, 4.0)

    def test_get_model_metadata(self):
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = MODEL
        request.metadata_field.append("signature_def")
        response = self.stub.GetModelMetadata(request, timeout=30)
        self.assertEqual(response.model_spec.version.value, 2)
        sigs = get_model_metadata_pb2.SignatureDefMap()
        self.assertTrue(response.metadata["signature_def"].Unpack(sigs))
        self.assertIn("serving_default", sigs.signature_def)
        self.assertIn("x", sigs.signature_def["serving_default"].inputs)
        request.metadata_field[:] = ["nope"]
        self.assertRpcError(lambda: self.stub.GetModelMetadata(request, timeout=30),
                            grpc.StatusCode.INVALID_ARGUMENT, "nope")

    def test_get_model_status(self):
        response = self.server.model_status(MODEL)
        self.assertEqual([(s.version, s.state, s.status.error_code)
                          for s in response.model_version_status],
                         [(2, _AVAILABLE, 0), (1, _AVAILABLE, 0)])
        response = self.server.model_status(MODEL, 1)
        self.assertEqual([s.version for s in response.model_version_status], [1])
        self.assertRpcError(lambda: self.server.model_status("nope"),
                            grpc.StatusCode.NOT_FOUND,
                            "Could not find any versions of model nope")
        self.assertRpcError(lambda: self.server.model_status(MODEL, 7),
                            grpc.StatusCode.NOT_FOUND,
                            f"Could not find version 7 of model {MODEL}")

    def test_unknown_model_and_version(self):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "nope"
        request.inputs["x"].CopyFrom(float_tensor([1.0], [1, 1]))
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.NOT_FOUND, "nope")
        self.assertRpcError(lambda: self.predict([1.0], version=9),
                            grpc.StatusCode.NOT_FOUND, "9")

    def test_unknown_label_and_signature(self):
        self.assertRpcError(lambda: self.predict([1.0], label="nope"),
                            grpc.StatusCode.INVALID_ARGUMENT, "nope")
        self.assertRpcError(lambda: self.predict([1.0], signature="nope"),
                            grpc.StatusCode.FAILED_PRECONDITION,
                            'Serving signature key "nope" not found.')

    def test_bad_inputs(self):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL
        request.inputs["z"].CopyFrom(float_tensor([1.0], [1, 1]))
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "Signature input alias: x(feed name: x:0) not found in "
                            "request and no default value provided. Inputs expected "
                            "to be in the request {z}")
        request.inputs.clear()
        bad_dtype = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64)
        bad_dtype.tensor_shape.dim.add(size=1)
        bad_dtype.tensor_shape.dim.add(size=1)
        bad_dtype.int64_val.append(1)
        request.inputs["x"].CopyFrom(bad_dtype)
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "Expects arg[0] to be float but int64 is provided")
        malformed = float_tensor([], [3, 1])
        malformed.tensor_content = b"\x00" * 5
        request.inputs["x"].CopyFrom(malformed)
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.INVALID_ARGUMENT, "tensor parsing error: x")
        # Shapes are TensorFlow's business: [1, 2] where the signature says
        # [-1, 1] runs, as upstream runs it.
        request.inputs["x"].CopyFrom(float_tensor([1.0, 2.0], [1, 2]))
        response = self.stub.Predict(request, timeout=30)
        self.assertEqual([3.5, 4.0], list(response.outputs["y"].float_val))

    def test_server_logs(self):
        logs = self.server.logs()
        self.assertIn(f"Running gRPC ModelServer at 0.0.0.0:{self.server.grpc_port} ...",
                      logs)
        self.assertNotIn("Exporting HTTP/REST API", logs)


if __name__ == "__main__":
    absltest.main()

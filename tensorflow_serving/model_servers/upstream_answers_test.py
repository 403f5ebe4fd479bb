"""The server answers as upstream's does: requests it accepts, codes, bodies.

End to end against the real binary, over the official gRPC stubs and plain
HTTP, with models the test exports itself: the TF1 half_plus_two (inputs
declared [-1,1]), its native TF2 variant (every signature's method is
"predict") and a Keras model.
"""

import json
import os
import tempfile
import urllib.error
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
from absl.testing import absltest
from grpc_health.v1 import health_pb2
from grpc_health.v1 import health_pb2_grpc

from google.protobuf import text_format

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.config import model_server_config_pb2
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import keras_saved_model
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)

_CONFIG = """
model_config_list {{
  config {{
    name: "hp2" base_path: "{hp2}" model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
  }}
  config {{ name: "tf2" base_path: "{tf2}" model_platform: "tensorflow" }}
  config {{ name: "keras" base_path: "{keras}" model_platform: "tensorflow" }}
  config {{ name: "hp 2" base_path: "{hp2}" model_platform: "tensorflow" }}
}}
"""
_CLASSIFY = "tensorflow/serving/classify"
_REGRESS = "tensorflow/serving/regress"


def _example(x):
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))}))


def _export_models(tmp):
    paths = {name: os.path.join(tmp, name)
             for name in ("hp2", "tf2", "keras", "broken")}
    server_runner.export_half_plus_two_versions(paths["hp2"], {1: 2.0, 2: 3.0})
    hp2.export_half_plus_two_tf2(os.path.join(paths["tf2"], "123"))
    keras_saved_model.export_keras_affine(os.path.join(paths["keras"], "1"))
    # A version that never loads: its SavedModel is not a protobuf.
    os.makedirs(os.path.join(paths["broken"], "1"))
    with open(os.path.join(paths["broken"], "1", "saved_model.pb"), "wb") as f:
        f.write(b"not a SavedModel")
    config = os.path.join(tmp, "models.config")
    with open(config, "w", encoding="utf-8") as f:
        f.write(_CONFIG.format(**paths))
    return paths, config


class UpstreamAnswersTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = cls._tmp.name
        cls.paths, config = _export_models(cls.tmp)
        cls.config_text = open(config, encoding="utf-8").read()
        cls.server = server_launcher.ServerRunner(
            [f"--model_config_file={config}", "--enable_grpc_healthcheck_service",
             "--max_num_load_retries=0"], rest=True)
        cls.server.start(["hp2", "tf2", "keras", "hp 2"])
        cls.server.wait_for_version("hp2", 1)
        cls.stub = cls.server.prediction_stub

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls._tmp.cleanup()
        super().tearDownClass()

    # ------------------------------------------------------------ helpers

    def assertRpcError(self, call, code, message=""):
        with self.assertRaises(grpc.RpcError) as cm:
            call()
        self.assertEqual(code, cm.exception.code(), cm.exception.details())
        self.assertIn(message, cm.exception.details())
        return cm.exception.details()

    def rest(self, path, body=None, method=None):
        """(HTTP status, raw body) of a REST call; body is bytes or JSON-able."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://localhost:{self.server.rest_port}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def _classify(self, model, signature, *xs):
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = model
        request.model_spec.signature_name = signature
        for x in xs:
            request.input.example_list.examples.add().CopyFrom(_example(x))
        return request

    def _regress(self, model, signature, *xs):
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = model
        request.model_spec.signature_name = signature
        for x in xs:
            request.input.example_list.examples.add().CopyFrom(_example(x))
        return request

    # ------------------------------------------------------------- inputs

    def test_predict_feeds_what_was_sent(self):
        # The signature declares [-1,1]; upstream runs [1] and answers [3.0].
        request = server_runner.half_plus_two_request("hp2", [2.0], shape=[1])
        request.model_spec.version.value = 1
        response = self.stub.Predict(request, timeout=30)
        self.assertEqual([3.0], list(response.outputs["y"].float_val))
        self.assertEqual([1], [d.size for d in response.outputs["y"].tensor_shape.dim])
        self.assertEqual("serving_default", response.model_spec.signature_name)
        # A dtype the graph cannot take is TensorFlow's INVALID_ARGUMENT, in
        # the words of upstream's Session::Run.
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([2], np.int32)))
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "Expects arg[0] to be float but int32 is provided")

    def test_short_value_list_is_filled_as_tensorflow_does(self):
        request = server_runner.half_plus_two_request("hp2", [2.0], shape=[3, 1])
        request.model_spec.version.value = 1
        response = self.stub.Predict(request, timeout=30)
        self.assertEqual([3.0, 3.0, 3.0], list(response.outputs["y"].float_val))

    def test_rest_predict_with_shapes_the_signature_does_not_declare(self):
        status, body = self.rest("/v1/models/hp2/versions/1:predict",
                                 {"instances": [1.0, 2.0, 5.0]})
        self.assertEqual(200, status, body)
        self.assertEqual(b'{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}', body)
        status, body = self.rest("/v1/models/hp2/versions/1:predict",
                                 {"inputs": {"x": [[1.0]], "unused": "ignored"}})
        self.assertEqual(200, status, body)
        self.assertEqual({"outputs": [[2.5]]}, json.loads(body))

    def test_rest_inf_and_nan(self):
        status, body = self.rest("/v1/models/hp2/versions/1:predict",
                                 b'{"instances": [Inf, -Inf, NaN]}')
        self.assertEqual(200, status, body)
        self.assertEqual(b'{\n    "predictions": [Infinity, -Infinity, NaN\n    ]\n}', body)

    # ------------------------------------- classify, regress, multi-inference

    def test_tf2_classify_regress_multi_inference(self):
        response = self.stub.Classify(self._classify("tf2", "classify_x_to_y", 2.0),
                                      timeout=30)
        self.assertEqual(3.0, response.result.classifications[0].classes[0].score)
        response = self.stub.Regress(self._regress("tf2", "regress_x_to_y", 2.0),
                                     timeout=30)
        self.assertEqual([3.0], [r.value for r in response.result.regressions])
        request = inference_pb2.MultiInferenceRequest()
        for signature, method in (("regress_x_to_y", _REGRESS),
                                  ("classify_x_to_y", _CLASSIFY)):
            task = request.tasks.add()
            task.model_spec.name = "tf2"
            task.model_spec.signature_name = signature
            task.method_name = method
        request.input.example_list.examples.add().CopyFrom(_example(2.0))
        response = self.stub.MultiInference(request, timeout=30)
        self.assertEqual(3.0, response.results[0].regression_result.regressions[0].value)
        self.assertEqual(
            3.0, response.results[1].classification_result.classifications[0]
            .classes[0].score)
        self.assertEqual(123, response.results[1].model_spec.version.value)

    def test_rest_classify_and_regress_on_tf2(self):
        body = {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}
        self.assertEqual((200, b'{\n    "results": [[["", 3.0]]\n    ]\n}'),
                         self.rest("/v1/models/tf2:classify", body))
        body = {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}
        self.assertEqual((200, b'{\n    "results": [3.0]\n}'),
                         self.rest("/v1/models/tf2:regress", body))

    def test_example_features_as_upstream_converts_them(self):
        # Booleans are int64 features; the model reads only "x".
        body = {"signature_name": "regress_x_to_y",
                "examples": [{"x": 2.0, "flag": True}]}
        self.assertEqual(200, self.rest("/v1/models/hp2/versions/1:regress", body)[0])
        # A list mixing integers and floats is refused as upstream refuses it.
        body = {"signature_name": "regress_x_to_y", "examples": [{"x": [1, 2.5]}]}
        status, text = self.rest("/v1/models/hp2:regress", body)
        self.assertEqual(400, status)
        self.assertEqual({"error": "Unexpected element type in feature: x expecting "
                                   "type: int64"}, json.loads(text))

    def test_keras_model(self):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "keras"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[2.0]], np.float32)))
        response = self.stub.Predict(request, timeout=30)
        (name,) = response.outputs
        self.assertEqual([5.0], list(response.outputs[name].float_val))
        status, body = self.rest("/v1/models/keras:predict", {"instances": [[2.0], [0.0]]})
        self.assertEqual(200, status, body)
        self.assertEqual({"predictions": [[5.0], [1.0]]}, json.loads(body))

    # --------------------------------------------------------- status codes

    def test_status_codes_as_upstream(self):
        # Classify on a signature without classification inputs.
        self.assertRpcError(
            lambda: self.stub.Classify(self._classify("hp2", "", 1.0), timeout=30),
            grpc.StatusCode.INVALID_ARGUMENT, "No classification inputs found in SignatureDef")
        self.assertRpcError(
            lambda: self.stub.Regress(self._regress("hp2", "classify_x_to_y", 1.0),
                                      timeout=30),
            grpc.StatusCode.INVALID_ARGUMENT, "No regression outputs found in SignatureDef")
        # A label on a model that does not exist is an unknown label.
        request = server_runner.half_plus_two_request("nope", [1.0])
        request.model_spec.version_label = "stable"
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "Unrecognized servable version label: stable")
        self.assertRpcError(
            lambda: self.stub.Predict(predict_pb2.PredictRequest(), timeout=30),
            grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
        self.assertRpcError(
            lambda: self.stub.MultiInference(inference_pb2.MultiInferenceRequest(),
                                             timeout=30),
            grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")
        request = server_runner.half_plus_two_request("hp2", [1.0])
        request.model_spec.signature_name = "nope"
        self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                            grpc.StatusCode.FAILED_PRECONDITION,
                            'Serving signature key "nope" not found.')

    def test_configured_model_with_nothing_loaded_is_not_found(self):
        # A reload adds a model whose only version fails to load: the reload
        # answers an error, the model stays configured with nothing to serve.
        config = text_format.Parse(self.config_text,
                                   model_server_config_pb2.ModelServerConfig())
        config.model_config_list.config.add(
            name="broken", base_path=self.paths["broken"], model_platform="tensorflow")
        request = model_management_pb2.ReloadConfigRequest(config=config)
        self.assertRpcError(
            lambda: self.server.model_stub.HandleReloadConfigRequest(request, timeout=60),
            grpc.StatusCode.UNKNOWN, "did not become available")
        request = server_runner.half_plus_two_request("broken", [1.0])
        details = self.assertRpcError(lambda: self.stub.Predict(request, timeout=30),
                                      grpc.StatusCode.NOT_FOUND)
        self.assertEqual("Servable not found for request: Latest(broken); no version "
                         "of the model could be loaded", details)
        status, body = self.rest("/v1/models/broken:predict", {"instances": [1.0]})
        self.assertEqual(404, status)
        self.assertNotIn(self.tmp, body.decode())

    def test_get_model_status_as_upstream(self):
        stub = self.server.model_stub
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = ""
        self.assertRpcError(lambda: stub.GetModelStatus(request, timeout=30),
                            grpc.StatusCode.NOT_FOUND, "Could not find any versions of model ")
        # A version label is not resolved: every version is reported.
        request.model_spec.name = "hp2"
        request.model_spec.version_label = "stable"
        response = stub.GetModelStatus(request, timeout=30)
        self.assertEqual([2, 1], [s.version for s in response.model_version_status])

    def test_reload_refuses_anything_but_a_model_config_list(self):
        stub = self.server.model_stub
        request = model_management_pb2.ReloadConfigRequest()
        request.config.custom_model_config.Pack(predict_pb2.PredictRequest())
        message = ("ServerModelConfig type not supported by HandleReloadConfigRequest. "
                   "Only ModelConfigList is currently supported")
        for bad in (request, model_management_pb2.ReloadConfigRequest()):
            self.assertRpcError(lambda: stub.HandleReloadConfigRequest(bad, timeout=30),
                                grpc.StatusCode.INVALID_ARGUMENT, message)

    def test_health_service_names(self):
        stub = health_pb2_grpc.HealthStub(self.server.channel)
        for service in ("", "ModelService", "PredictionService",
                        "tensorflow.serving.ModelService",
                        "tensorflow.serving.PredictionService"):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service),
                                  timeout=30)
            self.assertEqual(health_pb2.HealthCheckResponse.SERVING, response.status,
                             service)

    # ----------------------------------------------------------- REST bodies

    def test_rest_metadata_prints_default_fields(self):
        status, body = self.rest("/v1/models/hp2/versions/1/metadata")
        self.assertEqual(200, status, body)
        self.assertTrue(body.startswith(
            b'{\n"model_spec":{\n "name": "hp2",\n "signature_name": "",\n'
            b' "version": "1"\n}\n,\n"metadata": {"signature_def": {\n'), body[:200])
        doc = json.loads(body)
        regress = doc["metadata"]["signature_def"]["signature_def"]["regress_x_to_y"]
        self.assertEqual({}, regress["defaults"])
        info = regress["inputs"]["inputs"]
        self.assertEqual(["dtype", "tensor_shape", "name"], list(info))
        self.assertEqual({"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
                         info["tensor_shape"])

    def test_rest_parse_errors_are_upstreams(self):
        for body, message in [
                (b"", "JSON Parse error: The document is empty"),
                (b"instances = [1, 2]", "JSON Parse error: Invalid value. at offset: 0"),
                (b'{"instances": ["x", "y"]}',
                 'Failed to process element: 0 of \'instances\' list. Error: '
                 'INVALID_ARGUMENT: JSON Value: "x" Type: String is not of expected '
                 'type: float')]:
            status, text = self.rest("/v1/models/hp2:predict", body, method="POST")
            self.assertEqual(400, status, text)
            self.assertEqual({"error": message}, json.loads(text))

    def test_url_encoded_names_and_labels(self):
        status, body = self.rest("/v1/models/hp%202:predict", {"instances": [[2.0]]})
        self.assertEqual((200, {"predictions": [[4.0]]}), (status, json.loads(body)))
        status, body = self.rest("/v1/models/hp2/labels/sta%62le:predict",
                                 {"instances": [[2.0]]})
        self.assertEqual((200, {"predictions": [[3.0]]}), (status, json.loads(body)))
        status, body = self.rest("/v1/models/hp%202")
        self.assertEqual(200, status, body)


class MethodNameCheckTest(absltest.TestCase):
    """--enable_signature_method_name_check turns upstream's check on."""

    def test_tf2_classify_is_refused_with_the_flag(self):
        tmp = self.create_tempdir().full_path
        hp2.export_half_plus_two_tf2(os.path.join(tmp, "tf2", "1"))
        with server_launcher.ServerRunner(
                ["--model_name=tf2", f"--model_base_path={os.path.join(tmp, 'tf2')}",
                 "--enable_signature_method_name_check"], rest=False) as server:
            server.start(["tf2"])
            request = classification_pb2.ClassificationRequest()
            request.model_spec.name = "tf2"
            request.model_spec.signature_name = "classify_x_to_y"
            request.input.example_list.examples.add().CopyFrom(_example(2.0))
            with self.assertRaises(grpc.RpcError) as cm:
                server.prediction_stub.Classify(request, timeout=30)
            self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, cm.exception.code())
            self.assertEqual("Expected classification signature method_name to be "
                             "tensorflow/serving/classify. Was: tensorflow/serving/predict",
                             cm.exception.details())


class BadModelConfigTest(absltest.TestCase):

    def test_bad_model_config_file_is_upstreams_parse_error(self):
        path = os.path.join(self.create_tempdir().full_path, "bad.config")
        with open(path, "w", encoding="utf-8") as f:
            f.write("improperly formatted file")
        result = server_launcher.run_to_completion([f"--model_config_file={path}"])
        self.assertNotEqual(0, result.returncode)
        self.assertIn("Error parsing text-format tensorflow.serving.ModelServerConfig: "
                      "1:1: ", result.stderr)


if __name__ == "__main__":
    absltest.main()

"""End-to-end: the Open Inference Protocol (KServe v2) through its real
clients, tritonclient's http and grpc, against the server as built.

Every REST answer, tritonclient's and this test's own, is validated against
the protocol's OpenAPI document (third_party/open_inference_protocol) with
jsonschema. The models: the tutorial's MNIST (trained briefly by
mnist_saved_model; `predict_images` takes FP32 pixels, serving_default takes
serialized tf.Examples as BYTES), all_dtypes (BYTES echo, and dtypes without
a v2 datatype) and half_plus_two in two versions with a label.
"""

import concurrent.futures
import copy
import http.client
import json
import os
import re
import subprocess
import tempfile

from absl.testing import absltest
import jsonschema
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException
import yaml

from tensorflow_serving.benchmarks import perf_analyzer
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.util import runfiles_util
from tensorflow_serving.util import wait

_OPENAPI = "third_party/open_inference_protocol/open_inference_rest.yaml"
_EXPORTER = "tensorflow_serving/example/mnist_saved_model"

CONFIG = """
model_config_list {{
  config {{ name: "mnist" base_path: "{tmp}/mnist" model_platform: "tensorflow" }}
  config {{ name: "all_dtypes" base_path: "{tmp}/all_dtypes" model_platform: "tensorflow" }}
  config {{ name: "complex" base_path: "{tmp}/complex" model_platform: "tensorflow" }}
  config {{
    name: "half_plus_two"
    base_path: "{tmp}/half_plus_two"
    model_platform: "tensorflow"
    model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}
    version_labels {{ key: "stable" value: 1 }}
  }}
}}
"""


def _openapi():
    path = runfiles_util.runfile(f"{server_launcher.WORKSPACE}/{_OPENAPI}")
    if not path:
        path = os.path.join(server_launcher.repo_root(), _OPENAPI)
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


class RestSchema:
    """The OpenAPI document's answer schemas, by route and status."""

    # Routes (a version part is optional) and the components of their error
    # answers, which the document names in prose where its responses omit them.
    _ROUTES = [
        (r"/v2/?", "/v2/", "metadata_server_error_response"),
        (r"/v2/health/live", "/v2/health/live", None),
        (r"/v2/health/ready", "/v2/health/ready", None),
        (r"/v2/models/[^/]+(/versions/[^/]+)?/ready",
         "/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}/ready", None),
        (r"/v2/models/[^/]+(/versions/[^/]+)?/infer",
         "/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}/infer",
         "inference_error_response"),
        (r"/v2/models/[^/]+(/versions/[^/]+)?",
         "/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}",
         "metadata_model_error_response"),
    ]

    def __init__(self):
        self.document = _openapi()
        # The binary tensor data extension: an output sent as binary has no
        # `data` in the JSON part, and binary_data_size in its parameters.
        self.binary_document = copy.deepcopy(self.document)
        output = self.binary_document["components"]["schemas"]["response_output"]
        output["required"] = [k for k in output["required"] if k != "data"]

    def _validator(self, document, schema):
        root = dict(document, **schema)
        return jsonschema.Draft202012Validator(root)

    def validate(self, method, path, status, body, binary=False):
        """Raises unless `body` (bytes: the JSON part) is what the document
        says route `path` answers with `status`."""
        path = path.split("?")[0]
        for pattern, route, error_component in self._ROUTES:
            if re.fullmatch(pattern, path):
                break
        else:
            raise AssertionError(f"{path} is not a route of the protocol")
        operations = self.document["paths"][route]
        if method.lower() not in operations:
            if status != 405:
                raise AssertionError(f"{method} {path} answered {status}, not 405")
            schema = {"$ref": "#/components/schemas/inference_error_response"}
        else:
            answer = operations[method.lower()]["responses"].get(str(status), {})
            content = answer.get("content", {}).get("application/json")
            if content:
                schema = content["schema"]
            elif status >= 400 and error_component:
                schema = {"$ref": f"#/components/schemas/{error_component}"}
            elif route.endswith(("/live", "/ready")):
                # The document gives these no body; inference_rest.md's
                # objects hold a boolean `live` or `ready`.
                schema = {"type": "object", "minProperties": 1,
                          "additionalProperties": False,
                          "properties": {"live": {"type": "boolean"},
                                         "ready": {"type": "boolean"},
                                         "name": {"type": "string"}}}
            else:
                raise AssertionError(f"{method} {path} answered {status}, which "
                                     f"the document does not list")
        value = json.loads(body)
        self._validator(self.binary_document if binary else self.document,
                        schema).validate(value)
        if binary:
            for output in value.get("outputs", []):
                if "data" not in output:
                    size = output.get("parameters", {}).get("binary_data_size")
                    if not isinstance(size, int):
                        raise AssertionError(f"output {output} has neither data "
                                             f"nor binary_data_size")
        return value


class _CheckedResponse:
    """geventhttpclient's response, read once and validated; what
    tritonclient reads of it."""

    def __init__(self, response, method, path, schema, answers):
        self._response = response
        self.body = response.read()
        self._at = 0
        self.status_code = response.status_code
        header_length = response.get("Inference-Header-Content-Length")
        json_part = self.body[:int(header_length)] if header_length else self.body
        schema.validate(method, path, self.status_code, json_part,
                        binary=header_length is not None)
        answers.append((method, path, self.status_code))

    def read(self, length=-1):
        """The body from where the last read stopped (all of it by default)."""
        start = self._at
        end = len(self.body) if length is None or length < 0 else start + length
        self._at = min(end, len(self.body))
        return self.body[start:self._at]

    def get(self, name, default=None):
        return self._response.get(name, default)

    def __getattr__(self, name):
        return getattr(self._response, name)


class CheckedHttpClient(httpclient.InferenceServerClient):
    """tritonclient's HTTP client, unchanged but for every answer it gets
    being validated against the protocol's OpenAPI document."""

    def __init__(self, url, schema):
        super().__init__(url)
        self._schema = schema
        self.answers = []

    def _get(self, request_uri, headers, query_params):
        response = super()._get(request_uri, headers, query_params)
        return _CheckedResponse(response, "GET", "/" + request_uri, self._schema,
                                self.answers)

    def _post(self, request_uri, request_body, headers, query_params):
        response = super()._post(request_uri, request_body, headers, query_params)
        return _CheckedResponse(response, "POST", "/" + request_uri, self._schema,
                                self.answers)


def _export_complex(export_dir):
    """serving_default: "x" float [-1] -> "z" = x + x (complex64, which has
    no v2 datatype) and "twice" = 2x (float)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    v1 = tf.compat.v1
    info = v1.saved_model.utils.build_tensor_info
    builder = v1.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Graph().as_default(), v1.Session() as sess:
        x = v1.placeholder(tf.float32, shape=[None], name="x")
        signature = v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"x": info(x)},
            outputs={"z": info(tf.complex(x, x, name="z")),
                     "twice": info(tf.multiply(x, 2.0, name="twice"))},
            method_name=v1.saved_model.signature_constants.PREDICT_METHOD_NAME)
        builder.add_meta_graph_and_variables(
            sess, [v1.saved_model.tag_constants.SERVING],
            signature_def_map={"serving_default": signature})
    builder.save()


def _example(pixels):
    """A serialized tf.Example with feature `x` (as mnist_saved_model parses)."""
    from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top
    example = example_pb2.Example()
    example.features.feature["x"].float_list.value.extend(pixels.tolist())
    return example.SerializeToString()


class OpenInferenceTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        subprocess.run(
            server_launcher.program_command(_EXPORTER) + [
                "--training_iteration=200", "--model_version=1",
                "--work_dir=" + os.path.join(cls.tmp, "data"),
                os.path.join(cls.tmp, "mnist")],
            check=True, env=server_launcher.child_env(), timeout=300,
            stdout=subprocess.DEVNULL)
        from tensorflow_serving.servables.tensorflow.testdata import saved_model_all_dtypes  # pylint: disable=g-import-not-at-top
        saved_model_all_dtypes.export_all_dtypes(os.path.join(cls.tmp, "all_dtypes", "1"))
        _export_complex(os.path.join(cls.tmp, "complex", "1"))
        server_runner.export_half_plus_two_versions(
            os.path.join(cls.tmp, "half_plus_two"), {1: 2.0, 2: 3.0})
        config = os.path.join(cls.tmp, "models.config")
        with open(config, "w") as f:
            f.write(CONFIG.format(tmp=cls.tmp))
        cls.server = server_launcher.ServerRunner([f"--model_config_file={config}"])
        cls.server.start(["mnist", "all_dtypes", "complex", "half_plus_two"])
        cls.schema = RestSchema()
        cls.http = CheckedHttpClient(f"localhost:{cls.server.rest_port}", cls.schema)
        cls.grpc = grpcclient.InferenceServerClient(f"localhost:{cls.server.grpc_port}")
        rng = np.random.default_rng(5)
        cls.images = rng.random((3, 784), dtype=np.float32)

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        cls.grpc.close()
        cls.server.stop()
        super().tearDownClass()

    def rest(self, method, path, body=b"", headers=None):
        """One request of this test's own: (status, response, JSON part,
        body), the JSON part validated."""
        return self.rest_to(self.server, method, path, body, headers)

    def rest_to(self, server, method, path, body=b"", headers=None):
        """rest() to `server`."""
        connection = http.client.HTTPConnection("localhost", server.rest_port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            header_length = response.getheader("Inference-Header-Content-Length")
            json_part = data[:int(header_length)] if header_length else data
            value = self.schema.validate(method, path, response.status, json_part,
                                         binary=header_length is not None)
            return response.status, response, value, data
        finally:
            connection.close()

    def v1_scores(self, images):
        connection = http.client.HTTPConnection("localhost", self.server.rest_port,
                                                timeout=30)
        try:
            connection.request("POST", "/v1/models/mnist:predict", body=json.dumps(
                {"signature_name": "predict_images", "instances": images.tolist()}))
            response = connection.getresponse()
            self.assertEqual(response.status, 200)
            return np.array(json.loads(response.read())["predictions"], np.float32)
        finally:
            connection.close()

    # ------------------------------------------------------------ health

    def test_health_and_server_metadata_over_http(self):
        self.assertTrue(self.http.is_server_live())
        self.assertTrue(self.http.is_server_ready())
        metadata = self.http.get_server_metadata()
        self.assertEqual(metadata["name"], "TensorFlow ModelServer")
        self.assertRegex(metadata["version"], r"^\d+\.\d+\.\d+")
        self.assertIn("binary_tensor_data", metadata["extensions"])
        status, _, value, _ = self.rest("GET", "/v2")
        self.assertEqual((status, value), (200, metadata))
        self.assertEqual(self.rest("GET", "/v2/health/live")[2], {"live": True})
        self.assertEqual(self.rest("GET", "/v2/health/ready")[2], {"ready": True})

    def test_health_and_server_metadata_over_grpc(self):
        self.assertTrue(self.grpc.is_server_live())
        self.assertTrue(self.grpc.is_server_ready())
        metadata = self.grpc.get_server_metadata(as_json=True)
        self.assertEqual(metadata, self.http.get_server_metadata())

    def test_model_readiness(self):
        for client in (self.http, self.grpc):
            self.assertTrue(client.is_model_ready("mnist"))
            self.assertTrue(client.is_model_ready("mnist", "1"))
            self.assertTrue(client.is_model_ready("half_plus_two", "2"))
            self.assertTrue(client.is_model_ready("half_plus_two", "stable"))
            self.assertFalse(client.is_model_ready("half_plus_two", "3"))
            self.assertFalse(client.is_model_ready("half_plus_two", "canary"))
            self.assertFalse(client.is_model_ready("no_such_model"))
        status, _, value, _ = self.rest("GET", "/v2/models/mnist/ready")
        self.assertEqual((status, value), (200, {"name": "mnist", "ready": True}))
        status, _, value, _ = self.rest("GET", "/v2/models/mnist/versions/7/ready")
        self.assertEqual((status, value["ready"]), (503, False))

    def test_server_ready_waits_for_every_configured_model(self):
        """Server ready is every configured model having a version AVAILABLE:
        not while a model added by a config reload has none, and then once
        it has. (At start-up the server listens only once its models load.)"""
        from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
        from tensorflow_serving.apis import model_management_pb2  # pylint: disable=g-import-not-at-top
        waiting = os.path.join(self.create_tempdir().full_path, "waiting")
        os.makedirs(waiting)
        server = server_launcher.ServerRunner(
            ["--model_name=half_plus_two", f"--model_base_path={self.tmp}/half_plus_two",
             "--file_system_poll_wait_seconds=1"])
        self.addCleanup(server.cleanup)
        server.start(["half_plus_two"])
        http = CheckedHttpClient(f"localhost:{server.rest_port}", self.schema)
        grpc = grpcclient.InferenceServerClient(f"localhost:{server.grpc_port}")
        self.addCleanup(http.close)
        self.addCleanup(grpc.close)
        self.assertTrue(http.is_server_ready())
        request = model_management_pb2.ReloadConfigRequest()
        text_format.Parse(f"""model_config_list {{
  config {{ name: "half_plus_two" base_path: "{self.tmp}/half_plus_two"
           model_platform: "tensorflow" }}
  config {{ name: "waiting" base_path: "{waiting}" model_platform: "tensorflow" }}
}}""", request.config)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # The reload answers once the new model has a version loaded.
            reload = pool.submit(server.model_stub.HandleReloadConfigRequest, request,
                                 timeout=120)
            wait.wait_for(lambda: not grpc.is_server_ready(), "the server not ready", 60, 0.05)
            self.assertTrue(http.is_server_live())
            self.assertFalse(http.is_server_ready())
            self.assertTrue(grpc.is_model_ready("half_plus_two"))
            self.assertFalse(http.is_model_ready("waiting"))
            status, _, value, _ = self.rest_to(server, "GET", "/v2/health/ready")
            self.assertEqual((status, value), (503, {"ready": False}))
            server_runner.export_half_plus_two_versions(waiting, {1: 2.0})
            self.assertEqual(reload.result(timeout=120).status.error_code, 0)
        wait.wait_for(http.is_server_ready, "the server to be ready", 60, 0.05)
        self.assertTrue(grpc.is_server_ready())
        self.assertTrue(grpc.is_model_ready("waiting", "1"))

    # ---------------------------------------------------------- metadata

    def test_model_metadata(self):
        expected = {
            "name": "mnist", "versions": ["1"], "platform": "tensorflow_savedmodel",
            "inputs": [{"name": "inputs", "datatype": "BYTES", "shape": [-1]}],
            "outputs": [{"name": "classes", "datatype": "BYTES", "shape": [-1, 10]},
                        {"name": "scores", "datatype": "FP32", "shape": [-1, 10]}],
        }
        self.assertEqual(self.http.get_model_metadata("mnist"), expected)
        self.assertEqual(self.http.get_model_metadata("mnist", "1"), expected)
        metadata = self.grpc.get_model_metadata("mnist", as_json=True)
        # protobuf's JSON writes int64 dims as strings.
        for tensor in metadata["inputs"] + metadata["outputs"]:
            tensor["shape"] = [int(d) for d in tensor["shape"]]
        self.assertEqual(metadata, expected)
        # A label stands for its version; versions lists every AVAILABLE one.
        labelled = self.http.get_model_metadata("half_plus_two", "stable")
        self.assertEqual(labelled["versions"], ["1", "2"])
        self.assertEqual(labelled["inputs"],
                         [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}])

    def test_metadata_errors(self):
        for client in (self.http, self.grpc):
            with self.assertRaisesRegex(InferenceServerException, "no_such_model"):
                client.get_model_metadata("no_such_model")
        status, _, value, _ = self.rest("GET", "/v2/models/no_such_model")
        self.assertEqual(status, 404)
        self.assertIn("no_such_model", value["error"])
        status, _, value, _ = self.rest("GET", "/v2/models/half_plus_two/versions/9")
        self.assertEqual(status, 404)
        status, _, value, _ = self.rest("POST", "/v2/models/mnist")
        self.assertEqual(status, 405)

    def test_a_dtype_without_a_datatype(self):
        """complex64 has no v2 datatype: an error names the tensor and its
        dtype; an inference that leaves it out runs."""
        expected = "output 'z' is DT_COMPLEX64, which has no Open Inference Protocol datatype"
        status, _, value, _ = self.rest("GET", "/v2/models/complex")
        self.assertEqual(status, 501)
        self.assertIn(expected, value["error"])
        with self.assertRaisesRegex(InferenceServerException, expected):
            self.grpc.get_model_metadata("complex")
        x = grpcclient.InferInput("x", [2], "FP32")
        x.set_data_from_numpy(np.array([1.5, -2], np.float32))
        with self.assertRaisesRegex(InferenceServerException, expected):
            self.grpc.infer("complex", [x])
        result = self.grpc.infer("complex", [x],
                                 outputs=[grpcclient.InferRequestedOutput("twice")])
        self.assertEqual(result.as_numpy("twice").tolist(), [3.0, -4.0])
        status, _, value, _ = self.rest("POST", "/v2/models/complex/infer", json.dumps({
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}))
        self.assertEqual(status, 501)
        self.assertIn(expected, value["error"])

    # ------------------------------------------------------------- infer

    def _mnist_inputs(self, module, binary):
        images = module.InferInput("images", list(self.images.shape), "FP32")
        if module is httpclient:
            images.set_data_from_numpy(self.images, binary_data=binary)
        else:
            images.set_data_from_numpy(self.images)
        return [images]

    def test_infer_mnist_over_http_json_and_binary(self):
        expected = self.v1_scores(self.images)
        for binary in (False, True):
            result = self.http.infer(
                "mnist", self._mnist_inputs(httpclient, binary),
                outputs=[httpclient.InferRequestedOutput("scores", binary_data=binary)],
                parameters={"signature_name": "predict_images"})
            np.testing.assert_array_equal(result.as_numpy("scores"), expected)
            response = result.get_response()
            self.assertEqual(response["model_name"], "mnist")
            self.assertEqual(response["model_version"], "1")
            self.assertEqual(response["outputs"][0]["datatype"], "FP32")
            self.assertEqual(response["outputs"][0]["shape"], [3, 10])
            self.assertEqual("data" not in response["outputs"][0], binary)

    def test_infer_mnist_over_grpc(self):
        expected = self.v1_scores(self.images)
        result = self.grpc.infer("mnist", self._mnist_inputs(grpcclient, True),
                                 model_version="1",
                                 parameters={"signature_name": "predict_images"})
        np.testing.assert_array_equal(result.as_numpy("scores"), expected)
        self.assertEqual(result.get_response().model_version, "1")

    def test_infer_bytes_examples(self):
        """serving_default: serialized tf.Examples (BYTES) to the top 10
        classes (BYTES) and their scores, the sorted predict_images scores."""
        expected = -np.sort(-self.v1_scores(self.images), axis=1)
        examples = np.array([_example(image) for image in self.images], dtype=np.object_)
        inputs = []
        for module in (httpclient, grpcclient):
            tensor = module.InferInput("inputs", [len(examples)], "BYTES")
            tensor.set_data_from_numpy(examples)
            inputs.append(tensor)
        http_result = self.http.infer("mnist", [inputs[0]])
        grpc_result = self.grpc.infer("mnist", [inputs[1]])
        for result in (http_result, grpc_result):
            np.testing.assert_allclose(result.as_numpy("scores"), expected, rtol=1e-6)
            classes = result.as_numpy("classes")
            self.assertEqual(classes.shape, (3, 10))
            self.assertEqual(sorted(int(c) for c in classes[0]), list(range(10)))
        # Requested outputs filter the fetches: only scores comes back.
        result = self.grpc.infer("mnist", [inputs[1]],
                                 outputs=[grpcclient.InferRequestedOutput("scores")])
        self.assertEqual([o.name for o in result.get_response().outputs], ["scores"])

    def test_infer_bytes_as_json_data(self):
        words = np.array([b"tensor", b"caf\xc3\xa9", b""], dtype=np.object_)
        for binary in (False, True):
            tensor = httpclient.InferInput("x", [3], "BYTES")
            tensor.set_data_from_numpy(words, binary_data=binary)
            result = self.http.infer(
                "all_dtypes", [tensor], parameters={"signature_name": "batch_string"},
                outputs=[httpclient.InferRequestedOutput("y", binary_data=binary)])
            # tritonclient hands JSON strings back decoded, binary ones as bytes.
            expected = words.tolist() if binary else [w.decode() for w in words]
            self.assertEqual(result.as_numpy("y").tolist(), expected)
        status, _, value, _ = self.rest("POST", "/v2/models/all_dtypes/infer", json.dumps({
            "id": "w", "parameters": {"signature_name": "batch_string"},
            "inputs": [{"name": "x", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}]}))
        self.assertEqual(status, 200)
        self.assertEqual(value["id"], "w")
        self.assertEqual(value["outputs"], [
            {"name": "y", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}])

    def test_binary_extension_by_hand(self):
        """The extension on the wire: a JSON header, then the raw input; the
        answer's JSON header, then the raw output."""
        header = json.dumps({
            "parameters": {"signature_name": "predict_images"},
            "inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 784],
                        "parameters": {"binary_data_size": 784 * 4}}],
            "outputs": [{"name": "scores", "parameters": {"binary_data": True}}],
        }).encode()
        raw = self.images[:1].astype("<f4").tobytes()
        status, response, value, data = self.rest(
            "POST", "/v2/models/mnist/versions/1/infer", header + raw,
            {"Inference-Header-Content-Length": str(len(header)),
             "Content-Type": "application/octet-stream"})
        self.assertEqual(status, 200)
        length = int(response.getheader("Inference-Header-Content-Length"))
        self.assertEqual(value["outputs"][0]["parameters"], {"binary_data_size": 40})
        scores = np.frombuffer(data[length:], "<f4").reshape(1, 10)
        np.testing.assert_array_equal(scores, self.v1_scores(self.images[:1]))

    def test_infer_errors(self):
        status, _, value, _ = self.rest("POST", "/v2/models/mnist/infer", b"{not json")
        self.assertEqual(status, 400)
        self.assertIn("JSON", value["error"])
        status, _, value, _ = self.rest("POST", "/v2/models/mnist/infer", json.dumps({
            "parameters": {"signature_name": "predict_images"},
            "inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 784],
                        "data": [0.5]}]}))
        self.assertEqual(status, 400)
        self.assertIn("images", value["error"])
        status, _, value, _ = self.rest("POST", "/v2/models/mnist/infer", json.dumps({
            "parameters": {"signature_name": "no_such_signature"},
            "inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 1],
                        "data": [0.5]}]}))
        self.assertEqual(status, 400)
        self.assertIn("no_such_signature", value["error"])
        status, _, _, _ = self.rest("GET", "/v2/models/mnist/infer")
        self.assertEqual(status, 405)
        with self.assertRaises(InferenceServerException) as raised:
            self.grpc.infer("mnist", self._mnist_inputs(grpcclient, True),
                            parameters={"signature_name": "nope"})
        # As Predict's for a signature the model lacks.
        self.assertEqual(raised.exception.status(), "StatusCode.FAILED_PRECONDITION")

    def test_perf_analyzer(self):
        """NVIDIA's perf_analyzer with nothing but host, port and model in v2
        mode (it reads the model configuration extension), and in its
        tfserving mode, which needs the -1 batch dimension's size."""
        command, env = perf_analyzer.command()
        runs = [["-u", f"localhost:{self.server.rest_port}", "-i", "http"],
                ["-u", f"localhost:{self.server.grpc_port}", "-i", "grpc"],
                ["-u", f"localhost:{self.server.grpc_port}", "-i", "grpc",
                 "--service-kind=tfserving", "--shape=x:1,1"]]
        for args in runs:
            # A failed request fails the run. Short windows, a bounded number
            # of them, and any three count as stable: what is checked here is
            # that it works, not how fast (the benchmark measures that).
            output = perf_analyzer.run(
                command + ["-m", "half_plus_two", "--measurement-interval=300",
                           "--max-trials=10", "--stability-percentage=1000"] + args,
                env, timeout=120)
            self.assertGreater(perf_analyzer.throughput(output), 0, output)

    def test_every_tritonclient_answer_was_validated(self):
        self.test_model_readiness()
        self.assertNotEmpty(self.http.answers)
        for method, path, status in self.http.answers:
            self.assertIn(method, ("GET", "POST"))
            self.assertTrue(path.startswith("/v2"), path)
            self.assertIn(status, (200, 400, 404, 503))


if __name__ == "__main__":
    absltest.main()

"""End-to-end: --enable_batching gives the same answers, and SIGTERM drains requests."""

import concurrent.futures
import json
import os
import shutil
import signal
import tempfile
import urllib.request

from absl.testing import absltest
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import saved_model_all_dtypes
from tensorflow_serving.test_util import test_util


def predict(stub, x):
    request = server_runner.half_plus_two_request("m", [x, x + 0.25])
    return list(stub.Predict(request, timeout=60).outputs["y"].float_val)


def _examples(request, xs):
    for x in xs:
        example = example_pb2.Example()
        example.features.feature["x"].float_list.value.append(x)
        request.input.example_list.examples.add().CopyFrom(example)
    return request


def classify(stub, x):
    """classify_x_to_classes on examples x and x + 1: [(label, score)] per example."""
    request = _examples(classification_pb2.ClassificationRequest(), [x, x + 1])
    request.model_spec.name = "m"
    request.model_spec.signature_name = "classify_x_to_classes"
    response = stub.Classify(request, timeout=60)
    return [[(c.label, c.score) for c in cl.classes] for cl in response.result.classifications]


def regress(stub, x):
    """regress_x_to_y on examples x, 2x and 3x."""
    request = _examples(regression_pb2.RegressionRequest(), [x, 2 * x, 3 * x])
    request.model_spec.name = "m"
    request.model_spec.signature_name = "regress_x_to_y"
    return [r.value for r in stub.Regress(request, timeout=60).result.regressions]


def batching_metrics(server) -> dict:
    """{sample name: value} of the batching_session families on the
    Prometheus page (absent until first recorded)."""
    url = f"http://localhost:{server.rest_port}/monitoring/prometheus/metrics"
    with urllib.request.urlopen(url, timeout=30) as response:
        page = response.read().decode()
    prefix = ":tensorflow:serving:batching_session:"
    return {sample.name[len(prefix):]: sample.value
            for family in text_string_to_metric_families(page)
            for sample in family.samples
            if sample.name.startswith(prefix) and not sample.name.endswith("_bucket")}


def queued_requests(server) -> int:
    """How many requests joined a batching queue: the count of upstream's
    input_batch_size samples (one per input tensor; half_plus_two has one)."""
    return int(batching_metrics(server).get("input_batch_size_count", 0))


def rest_predict(server, x):
    """half_plus_two's y for one row x, over REST."""
    request = urllib.request.Request(
        f"http://localhost:{server.rest_port}/v1/models/m:predict",
        data=json.dumps({"instances": [[x]]}).encode())
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())["predictions"]


class BatchingTest(server_runner.ServerTestCase):

    def setUp(self):
        super().setUp()
        self.base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(self.base, {1: 2.0})

    def start(self, batching_text=None, extra_args=()):
        args = ["--model_name=m", f"--model_base_path={self.base}", *extra_args]
        if batching_text is not None:
            path = self.create_tempfile(content=batching_text).full_path
            args += ["--enable_batching", f"--batching_parameters_file={path}"]
        return self.start_server(args, ["m"], rest=bool(extra_args))

    def test_batched_equals_unbatched(self):
        plain = self.start()
        batched = self.start("max_batch_size { value: 16 }\n"
                             "batch_timeout_micros { value: 20000 }\n"
                             "num_batch_threads { value: 2 }\n"
                             "max_enqueued_batches { value: 100 }\n")
        xs = [float(i) for i in range(96)]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            got = list(pool.map(lambda x: predict(batched.prediction_stub, x), xs))
        want = [predict(plain.prediction_stub, x) for x in xs]
        self.assertEqual(got, want)
        self.assertEqual(want[3], [3.5, 3.625])

    def test_classify_and_regress_join_batches(self):
        # Each batchable request records one input_batch_size sample when it
        # joins a queue: Classify and Regress (on signatures whose input is
        # [-1]) are batched as Predict is, with the same answers as unbatched.
        plain = self.start()
        monitoring = self.create_tempfile(
            content="prometheus_config { enable: true }\n").full_path
        batched = self.start("max_batch_size { value: 16 }\n"
                             "batch_timeout_micros { value: 5000 }\n"
                             "max_enqueued_batches { value: 100 }\n",
                             [f"--monitoring_config_file={monitoring}"])
        calls = [(f, float(i)) for i in range(30) for f in (classify, regress, predict)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda call: call[0](batched.prediction_stub, call[1]), calls))
        want = [f(plain.prediction_stub, x) for f, x in calls]
        self.assertEqual(got, want)
        self.assertEqual(want[:2], [[[("2.0", 2.0)], [("2.5", 2.5)]], [2.0, 2.0, 2.0]])
        self.assertEqual(queued_requests(batched), len(calls))

    def test_rest_and_grpc_requests_share_a_batch(self):
        # A batch of exactly four rows, which runs the moment it is full: two
        # REST requests of one row wait in the queue (the batch timeout, a
        # minute, is far longer than anything here takes, and the REST
        # timeout longer still) until two gRPC requests join them.
        monitoring = self.create_tempfile(
            content="prometheus_config { enable: true }\n").full_path
        server = self.start("max_batch_size { value: 4 }\n"
                            "batch_timeout_micros { value: 60000000 }\n"
                            "num_batch_threads { value: 1 }\n",
                            [f"--monitoring_config_file={monitoring}",
                             "--rest_api_timeout_in_ms=120000"])
        before = batching_metrics(server)
        self.assertEqual(before.get("wrapped_run_count", 0), 0)

        def grpc_predict(x):
            request = server_runner.half_plus_two_request("m", [x])
            return list(server.prediction_stub.Predict(request, timeout=120)
                        .outputs["y"].float_val)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            rest = [pool.submit(rest_predict, server, x) for x in (1.0, 2.0)]
            test_util.wait_for(lambda: queued_requests(server) == 2,
                               "two REST requests in the batching queue")
            self.assertFalse(any(f.done() for f in rest))
            grpc_calls = [pool.submit(grpc_predict, x) for x in (3.0, 4.0)]
            answers = ([f.result(timeout=120) for f in rest],
                       [f.result(timeout=120) for f in grpc_calls])
        self.assertEqual(answers, ([[[2.5]], [[3.0]]], [[3.5], [4.0]]))
        after = batching_metrics(server)
        # One run, of one batch of four rows: the two REST rows and the two
        # gRPC rows together.
        self.assertEqual(after["wrapped_run_count"], 1, after)
        self.assertEqual(after["input_batch_size_count"], 4, after)
        self.assertEqual(after["processed_batch_size_count"], 1, after)
        self.assertEqual(after["processed_batch_size_sum"], 4, after)

    def test_open_inference_requests_share_a_batch_with_predict(self):
        # As above, with the Open Inference Protocol: two v2 REST infers of
        # one row wait in the queue until a v2 gRPC ModelInfer and a Predict
        # join them in one batch of four rows, which runs the moment it is full.
        import tritonclient.grpc as grpcclient  # pylint: disable=g-import-not-at-top
        monitoring = self.create_tempfile(
            content="prometheus_config { enable: true }\n").full_path
        server = self.start("max_batch_size { value: 4 }\n"
                            "batch_timeout_micros { value: 60000000 }\n"
                            "num_batch_threads { value: 1 }\n",
                            [f"--monitoring_config_file={monitoring}",
                             "--rest_api_timeout_in_ms=120000"])

        def v2_rest(x):
            request = urllib.request.Request(
                f"http://localhost:{server.rest_port}/v2/models/m/infer",
                data=json.dumps({"inputs": [{"name": "x", "datatype": "FP32",
                                             "shape": [1, 1], "data": [x]}]}).encode())
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["outputs"][0]["data"]

        def v2_grpc(x):
            client = grpcclient.InferenceServerClient(f"localhost:{server.grpc_port}")
            try:
                tensor = grpcclient.InferInput("x", [1, 1], "FP32")
                tensor.set_data_from_numpy(np.array([[x]], np.float32))
                return client.infer("m", [tensor], client_timeout=120).as_numpy("y").tolist()
            finally:
                client.close()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            rest = [pool.submit(v2_rest, x) for x in (1.0, 2.0)]
            test_util.wait_for(lambda: queued_requests(server) == 2,
                               "two v2 REST requests in the batching queue")
            self.assertFalse(any(f.done() for f in rest))
            one_row = server_runner.half_plus_two_request("m", [4.0])
            others = [pool.submit(v2_grpc, 3.0),
                      pool.submit(lambda: list(server.prediction_stub.Predict(
                          one_row, timeout=120).outputs["y"].float_val))]
            answers = ([f.result(timeout=120) for f in rest],
                       [f.result(timeout=120) for f in others])
        self.assertEqual(answers, ([[2.5], [3.0]], [[[3.5]], [4.0]]))
        after = batching_metrics(server)
        # One run, of one batch of the four rows.
        self.assertEqual(after["wrapped_run_count"], 1, after)
        self.assertEqual(after["input_batch_size_count"], 4, after)
        self.assertEqual(after["processed_batch_size_count"], 1, after)
        self.assertEqual(after["processed_batch_size_sum"], 4, after)

    def test_sigterm_drains_in_flight_requests(self):
        # A long batch timeout keeps requests in flight while SIGTERM arrives;
        # the server's input_batch_size metric, recorded as a request joins the
        # queue, says when all eight are in.
        monitoring = self.create_tempfile(
            content="prometheus_config { enable: true }\n").full_path
        server = self.start("max_batch_size { value: 64 }\n"
                            "batch_timeout_micros { value: 5000000 }\n"
                            "num_batch_threads { value: 1 }\n",
                            [f"--monitoring_config_file={monitoring}"])
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(predict, server.prediction_stub, float(x))
                       for x in range(8)]
            test_util.wait_for(lambda: queued_requests(server) == 8,
                               "eight requests in the batching queue")
            self.assertFalse(any(f.done() for f in futures))
            server.send_signal(signal.SIGTERM)
            results = [f.result(timeout=60) for f in futures]
        self.assertEqual(results, [[0.5 * x + 2, 0.5 * (x + 0.25) + 2]
                                   for x in range(8)])
        self.assertEqual(server.wait(60), 0, server.logs())
        self.assertIn("Done unloading servable version {name: m version: 1}",
                      server.logs())



def batch_request(model, signature, array):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    t = request.inputs["x"]
    for size in array.shape:
        t.tensor_shape.dim.add(size=size)
    if array.dtype.kind == "O":
        t.dtype = types_pb2.DT_STRING
        t.string_val.extend(array.ravel().tolist())
    else:
        t.dtype = types_pb2.DT_FLOAT
        t.float_val.extend(array.ravel().tolist())
    return request


def outputs(response):
    def value(t: tensor_pb2.TensorProto):
        shape = [d.size for d in t.tensor_shape.dim]
        values = list(t.string_val) if t.dtype == types_pb2.DT_STRING else list(t.float_val)
        return shape, values
    return {k: value(v) for k, v in sorted(response.outputs.items())}


def expected_float(x):
    """What batch_float answers for x alone: y = 2x, rows = row sums."""
    return {"rows": ([x.shape[0]], x.sum(axis=1).tolist()),
            "y": (list(x.shape), (2 * x).ravel().tolist())}


# Each BatchingSemanticsTest case's batching parameters, as the
# batching_params.pbtxt of a model of its own: one server
# (--enable_per_model_batching_parameters) serves them all.
_SEMANTICS_BATCHING = {
    "padding": ("max_batch_size { value: 8 }\n"
                "batch_timeout_micros { value: 2000 }\n"
                "allowed_batch_sizes: 4\nallowed_batch_sizes: 8\n"
                "max_enqueued_batches { value: 100 }\n"),
    # Full before its long timeout: the test sends exactly three rows.
    "ragged": ("max_batch_size { value: 3 }\n"
               "batch_timeout_micros { value: 20000000 }\n"
               "pad_variable_length_inputs: true\n"),
    "row_shapes": ("max_batch_size { value: 2 }\n"
                   "batch_timeout_micros { value: 20000000 }\n"),
    "split": ("max_batch_size { value: 8 }\n"
              "batch_timeout_micros { value: 1000 }\n"
              "enable_large_batch_splitting { value: true }\n"
              "max_execution_batch_size { value: 2 }\n"
              "allowed_batch_sizes: 1\nallowed_batch_sizes: 2\n"),
    "strings": ("max_batch_size { value: 16 }\n"
                "batch_timeout_micros { value: 2000 }\n"
                "allowed_batch_sizes: 16\n"),
}


class BatchingSemanticsTest(absltest.TestCase):
    """How batches are formed, padded and split, each case on a model batched
    by its own parameters."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmpdir = tempfile.TemporaryDirectory()
        export = os.path.join(cls._tmpdir.name, "export")
        saved_model_all_dtypes.export_all_dtypes(export)
        configs = []
        for name, text in _SEMANTICS_BATCHING.items():
            version = os.path.join(cls._tmpdir.name, name, "1")
            shutil.copytree(export, version)
            with open(os.path.join(version, "batching_params.pbtxt"), "w",
                      encoding="utf-8") as f:
                f.write(text)
            configs.append(f'config {{ name: "{name}" base_path: "{os.path.dirname(version)}" '
                           'model_platform: "tensorflow" }')
        config_file = os.path.join(cls._tmpdir.name, "models.config")
        with open(config_file, "w", encoding="utf-8") as f:
            f.write("model_config_list { " + " ".join(configs) + " }")
        cls.server = server_launcher.ServerRunner(
            [f"--model_config_file={config_file}", "--enable_batching",
             "--enable_per_model_batching_parameters"], rest=False)
        cls.server.start(list(_SEMANTICS_BATCHING))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls._tmpdir.cleanup()
        super().tearDownClass()

    def concurrently(self, requests):
        with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
            futures = [pool.submit(self.server.prediction_stub.Predict, r, timeout=60)
                       for r in requests]
            return [outputs(f.result()) for f in futures]

    def test_padding_to_allowed_batch_sizes(self):
        rng = np.random.default_rng(1)
        xs = [rng.integers(-9, 9, size=(1 + i % 3, 3)).astype(np.float32) for i in range(12)]
        got = self.concurrently([batch_request("padding", "batch_float", x) for x in xs])
        self.assertEqual(got, [expected_float(x) for x in xs])

    def test_ragged_inputs_are_padded_with_their_first_element(self):
        # One batch of exactly three rows: each request's dim 1 is padded to
        # the batch's widest with its own first value.
        xs = [np.array([[1, 2]], np.float32), np.array([[5, 6, 7, 8]], np.float32),
              np.array([[3, 4, 9]], np.float32)]
        got = self.concurrently([batch_request("ragged", "batch_float", x) for x in xs])
        padded = [np.array([[1, 2, 1, 1]], np.float32), xs[1],
                  np.array([[3, 4, 9, 3]], np.float32)]
        self.assertEqual(got, [expected_float(x) for x in padded])

    def test_different_row_shapes_run_as_separate_batches(self):
        xs = [np.array([[1, 2]], np.float32), np.array([[5, 6, 7]], np.float32)]
        got = self.concurrently([batch_request("row_shapes", "batch_float", x) for x in xs])
        self.assertEqual(got, [expected_float(x) for x in xs])

    def test_large_requests_are_split(self):
        xs = [np.arange(15, dtype=np.float32).reshape(5, 3),
              np.arange(6, dtype=np.float32).reshape(2, 3)]
        got = self.concurrently([batch_request("split", "batch_float", x) for x in xs])
        self.assertEqual(got, [expected_float(x) for x in xs])

    def test_strings(self):
        xs = [np.array([b"x" * n, bytes([n]) * (40 - n)], dtype=object) for n in range(12)]
        got = self.concurrently([batch_request("strings", "batch_string", x) for x in xs])
        self.assertEqual(got, [{"y": ([2], x.tolist())} for x in xs])


if __name__ == "__main__":
    absltest.main()

"""End-to-end: upstream's metric families on /monitoring/prometheus/metrics."""

import json
import os
import urllib.error
import urllib.request

import grpc
from absl.testing import absltest
from prometheus_client.parser import text_string_to_metric_families

from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two

_request = server_runner.half_plus_two_request
_PATH = "/monitoring/prometheus/metrics"


def _examples(request, n):
    for i in range(n):
        example = example_pb2.Example()
        example.features.feature["x"].float_list.value.append(float(i))
        request.input.example_list.examples.add().CopyFrom(example)
    return request


class PrometheusTest(server_runner.ServerTestCase):

    def test_upstream_families_names_labels_and_counts(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        version_dir = os.path.join(base, "1")
        saved_model_half_plus_two.write_warmup_requests(
            version_dir, [_request("m", [1.0]), _request("m", [2.0])])
        monitoring = os.path.join(self.tmp, "monitoring.config")
        with open(monitoring, "w") as f:
            f.write("prometheus_config { enable: true }\n")  # default path
        server = self.start_server(
            ["--model_name=m", f"--model_base_path={base}", "--enable_batching",
             f"--monitoring_config_file={monitoring}"], ["m"], rest=True)
        stub = server.prediction_stub
        for x in (1.0, 2.0):
            stub.Predict(_request("m", [x]), timeout=30)
        with self.assertRaises(grpc.RpcError):
            stub.Predict(_request("nope", [1.0]), timeout=30)
        classify = _examples(classification_pb2.ClassificationRequest(), 1)
        classify.model_spec.name = "m"
        classify.model_spec.signature_name = "classify_x_to_y"
        stub.Classify(classify, timeout=30)
        multi = _examples(inference_pb2.MultiInferenceRequest(), 2)
        task = multi.tasks.add()
        task.model_spec.name = "m"
        task.model_spec.signature_name = "regress_x_to_y"
        task.method_name = "tensorflow/serving/regress"
        stub.MultiInference(multi, timeout=30)
        metadata = get_model_metadata_pb2.GetModelMetadataRequest()
        metadata.model_spec.name = "m"
        metadata.metadata_field.append("signature_def")
        stub.GetModelMetadata(metadata, timeout=30)
        url = f"http://localhost:{server.rest_port}"
        with urllib.request.urlopen(urllib.request.Request(
                url + "/v1/models/m:predict",
                data=json.dumps({"instances": [[1.0]]}).encode()), timeout=30) as r:
            r.read()
        with urllib.request.urlopen(url + "/v1/models/m", timeout=30) as r:
            r.read()
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "/v1/models/m/versions/9", timeout=30)

        with urllib.request.urlopen(url + _PATH, timeout=30) as r:
            self.assertEqual(r.status, 200)
            page = r.read().decode()
        lines = page.splitlines()
        families = {f.name: f for f in text_string_to_metric_families(page)}

        def value(family, sample_name, **labels):
            for s in families[family].samples:
                if s.name == sample_name and s.labels == labels:
                    return s.value
            return None

        count = ":tensorflow:serving:request_count"
        # gRPC Predict x2, Classify, REST predict and status; not MultiInference
        # nor GetModelMetadata, as upstream.
        self.assertEqual(value(count, count, model_name="m", status="OK"), 5)
        self.assertEqual(value(count, count, model_name="nope", status="NOT_FOUND"), 1)
        self.assertEqual(value(count, count, model_name="m", status="NOT_FOUND"), 1)
        self.assertIn(f"# TYPE {count} untyped", lines)

        latency = ":tensorflow:serving:request_latency"
        self.assertIn(f"# TYPE {latency} histogram", lines)
        for api, entrypoint, n in (("Predict", "GRPC", 2), ("Classify", "GRPC", 1),
                                   ("predict", "REST", 1), ("", "REST", 1)):
            self.assertEqual(value(latency, latency + "_count", model_name="m", API=api,
                                   entrypoint=entrypoint), n, (api, entrypoint))
        # Failed requests are counted, not timed.
        self.assertIsNone(value(latency, latency + "_count", model_name="nope",
                                API="Predict", entrypoint="GRPC"))
        self.assertIn(f'{latency}_bucket{{API="Predict",entrypoint="GRPC",le="10",'
                      f'model_name="m"}} 0.0', lines)
        self.assertIn(f'{latency}_bucket{{API="Predict",entrypoint="GRPC",le="18",'
                      f'model_name="m"}} 0.0', lines)

        runtime = ":tensorflow:serving:runtime_latency"
        # Two warmup replays, two gRPC and one REST Predict.
        self.assertEqual(value(runtime, runtime + "_count", model_name="m", API="Predict",
                               runtime="TF1"), 5)
        self.assertEqual(value(runtime, runtime + "_count", model_name="m",
                               API="Classify", runtime="TF1"), 1)

        examples = ":tensorflow:serving:request_example_counts"
        self.assertEqual(value(examples, examples + "_sum", model="m"), 2)
        total = ":tensorflow:serving:request_example_count_total"
        self.assertIn(f"# TYPE {total} counter", lines)
        self.assertEqual(value(":tensorflow:serving:request_example_count", total,
                               model="m"), 2)

        warmup = ":tensorflow:serving:model_warmup_latency"
        self.assertEqual(value(warmup, warmup + "_count", model_path=version_dir,
                               status="OK"), 1)
        records = ":tensorflow:serving:model_warmup_records_read"
        self.assertEqual(value(records, records, model_path=version_dir, status="OK"), 2)

        attempts = ":tensorflow:cc:saved_model:load_attempt_count"
        self.assertEqual(value(attempts, attempts, model_path=version_dir,
                               status="success"), 1)
        load = ":tensorflow:cc:saved_model:load_latency"
        self.assertGreater(value(load, load, model_path=version_dir), 0)

        runs = ":tensorflow:serving:batching_session:wrapped_run_count"
        self.assertGreaterEqual(value(runs, runs), 3)
        queuing = ":tensorflow:serving:batching_session:queuing_latency"
        self.assertGreaterEqual(value(queuing, queuing + "_count",
                                      thread_pool_name="model_server_batch_threads"), 3)
        for name in ("input_batch_size", "processed_batch_size"):
            family = f":tensorflow:serving:batching_session:{name}"
            self.assertGreaterEqual(value(family, family + "_count"), 3)
        padding = ":tensorflow:serving:batching_session:padding_size"
        self.assertGreaterEqual(value(padding, padding + "_count",
                                      execution_batch_size="1"), 1)
        # No invented families.
        self.assertNotIn("request_count_by_api", page)


if __name__ == "__main__":
    absltest.main()

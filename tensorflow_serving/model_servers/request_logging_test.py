"""Request logging (a model's logging_config) end to end, on the real server.

Sampled requests, over gRPC and REST, come back as PredictionLog records in
TFRecord files: with the request, the response and the resolved ModelSpec.
Reloads turn logging on and off, a full file is closed and the next begun,
and a logged file warms a new version up as upstream's warmup file does.
"""

import glob
import json
import os
import shutil
import urllib.request

from absl.testing import absltest
import grpc
from prometheus_client.parser import text_string_to_metric_families
import tensorflow as tf

from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.config import model_server_config_pb2
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.util import wait

_TIMEOUT = 60


def _config(base, prefix=None, rate=1.0):
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(name="m", base_path=base,
                                                model_platform="tensorflow")
    if prefix is not None:
        model.logging_config.log_collector_config.type = "tfrecord"
        model.logging_config.log_collector_config.filename_prefix = prefix
        model.logging_config.sampling_config.sampling_rate = rate
    return config


def _regress_request(value):
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "regress_x_to_y"
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(value)
    return request


def _logs(prefix, tmp_too=False):
    """The PredictionLogs in the prefix's files, file by file, in order."""
    pattern = prefix + "-*.tfrecord" + ("*" if tmp_too else "")
    return [[prediction_log_pb2.PredictionLog.FromString(r.numpy())
             for r in tf.data.TFRecordDataset(path)]
            for path in sorted(glob.glob(pattern))]


class RequestLoggingTest(server_runner.ServerTestCase):

    def setUp(self):
        super().setUp()
        self.base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(self.base, {1: 2.0})
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)

    def _start(self, config, *flags):
        path = os.path.join(self.tmp, "models.config")
        with open(path, "w") as f:
            f.write(str(config))
        return self.start_server([f"--model_config_file={path}", *flags], ["m"], rest=True)

    def _rest(self, server, path, body):
        request = urllib.request.Request(
            f"http://localhost:{server.rest_port}/v1/models/m{path}",
            data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            return json.loads(response.read())

    def test_every_api_and_transport_logged_with_request_response_and_spec(self):
        prefix = os.path.join(self.logs, "m")
        server = self._start(_config(self.base, prefix))
        predict = server_runner.half_plus_two_request("m", [1.0, 2.0])
        server.prediction_stub.Predict(predict, timeout=_TIMEOUT)
        regress = _regress_request(4.0)
        server.prediction_stub.Regress(regress, timeout=_TIMEOUT)
        self.assertEqual(self._rest(server, ":predict", {"instances": [6.0]}),
                         {"predictions": [5.0]})
        self._rest(server, ":regress", {"signature_name": "regress_x_to_y",
                                        "examples": [{"x": 8.0}]})
        # The Open Inference Protocol's infer, logged as the Predict it runs.
        request = urllib.request.Request(
            f"http://localhost:{server.rest_port}/v2/models/m/infer",
            data=json.dumps({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                         "data": [10.0]}]}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            self.assertEqual(json.loads(response.read())["outputs"][0]["data"], [7.0])
        # A request that fails is not logged (a PredictionLog has no error).
        bad = server_runner.half_plus_two_request("m", [1.0])
        bad.inputs["nope"].CopyFrom(bad.inputs.pop("x"))
        with self.assertRaises(grpc.RpcError) as cm:
            server.prediction_stub.Predict(bad, timeout=_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(server.stop(), 0, server.process.output())
        (records,) = _logs(prefix)
        kinds = [r.WhichOneof("log_type") for r in records]
        self.assertEqual(kinds, ["predict_log", "regress_log", "predict_log", "regress_log",
                                 "predict_log"])
        self.assertEqual(records[0].predict_log.request, predict)
        self.assertEqual(list(records[0].predict_log.response.outputs["y"].float_val),
                         [2.5, 3.0])
        self.assertEqual(records[1].regress_log.request, regress)
        self.assertAlmostEqual(
            records[1].regress_log.response.result.regressions[0].value, 4.0)
        self.assertEqual(list(records[2].predict_log.request.inputs["x"].float_val), [6.0])
        self.assertEqual(
            records[3].regress_log.request.input.example_list.examples[0]
            .features.feature["x"].float_list.value, [8.0])
        self.assertEqual(tf.make_ndarray(records[4].predict_log.request.inputs["x"]).tolist(),
                         [[10.0]])
        self.assertEqual(tf.make_ndarray(records[4].predict_log.response.outputs["y"])
                         .tolist(), [[7.0]])
        for record in records:
            metadata = record.log_metadata
            self.assertEqual(metadata.model_spec.name, "m")
            self.assertEqual(metadata.model_spec.version.value, 1)
            self.assertIn(metadata.model_spec.signature_name,
                          ("serving_default", "regress_x_to_y"))
            self.assertEqual(metadata.sampling_config.sampling_rate, 1.0)
            self.assertEqual(list(metadata.saved_model_tags), ["serve"])
            self.assertGreater(metadata.timestamp_secs, 0)

    def test_sampling_rate_zero_logs_nothing(self):
        prefix = os.path.join(self.logs, "m")
        server = self._start(_config(self.base, prefix, rate=0.0))
        for _ in range(20):
            server.prediction_stub.Predict(server_runner.half_plus_two_request("m", [1.0]),
                                           timeout=_TIMEOUT)
        self.assertEqual(server.stop(), 0)
        self.assertEqual(_logs(prefix, tmp_too=True), [])

    def test_reload_turns_logging_on_and_off_and_full_files_rotate(self):
        prefix = os.path.join(self.logs, "m")
        server = self._start(_config(self.base), "--request_log_max_file_bytes=1000")
        predict = server_runner.half_plus_two_request("m", [1.0])

        def reload(config):
            request = model_management_pb2.ReloadConfigRequest(config=config)
            response = server.model_stub.HandleReloadConfigRequest(request, timeout=_TIMEOUT)
            self.assertEqual(response.status.error_code, 0, response)

        server.prediction_stub.Predict(predict, timeout=_TIMEOUT)  # not logged
        reload(_config(self.base, prefix))
        for _ in range(30):
            server.prediction_stub.Predict(predict, timeout=_TIMEOUT)
        reload(_config(self.base))
        server.prediction_stub.Predict(predict, timeout=_TIMEOUT)  # not logged
        # A full file is closed while the server runs.
        wait.wait_for(lambda: _logs(prefix), "a closed request log file", _TIMEOUT)
        self.assertEqual(server.stop(), 0)
        files = _logs(prefix)
        self.assertGreater(len(files), 1)
        self.assertEqual(sum(len(f) for f in files), 30)
        self.assertFalse(glob.glob(prefix + "-*.tmp"))

    def _metric(self, server, family, **labels):
        """The value of a sample of the server's Prometheus page, or None."""
        url = f"http://localhost:{server.rest_port}/monitoring/prometheus/metrics"
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            page = response.read().decode()
        for metric in text_string_to_metric_families(page):
            for sample in metric.samples:
                if sample.name == family and sample.labels == labels:
                    return sample.value
        return None

    def test_a_logged_file_warms_a_new_version_up(self):
        monitoring = os.path.join(self.tmp, "monitoring.config")
        with open(monitoring, "w") as f:
            f.write('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }')
        flags = ["--file_system_poll_wait_seconds=1", f"--monitoring_config_file={monitoring}"]
        prefix = os.path.join(self.logs, "m")
        server = self._start(_config(self.base, prefix), *flags)
        for value in (1.0, 2.0, 3.0):
            server.prediction_stub.Predict(server_runner.half_plus_two_request("m", [value]),
                                           timeout=_TIMEOUT)
        server.prediction_stub.Regress(_regress_request(4.0), timeout=_TIMEOUT)
        count = ":tensorflow:serving:request_log_count"
        wait.wait_for(lambda: self._metric(server, count, model_name="m",
                                           status_code="OK") == 4,
                      "request_log_count 4", _TIMEOUT)
        # Logging off: the file of the four records is closed and complete.
        request = model_management_pb2.ReloadConfigRequest(config=_config(self.base))
        server.model_stub.HandleReloadConfigRequest(request, timeout=_TIMEOUT)
        (logged,) = wait.wait_for(lambda: glob.glob(prefix + "-*.tfrecord"),
                                  "the log file closed once logging is off", _TIMEOUT)
        self.assertEqual(server.stop(), 0)
        staging = os.path.join(self.tmp, "v2")
        server_runner.export_half_plus_two_versions(staging, {2: 3.0})
        extra = os.path.join(staging, "2", "assets.extra")
        os.makedirs(extra)
        shutil.copy(logged, os.path.join(extra, "tf_serving_warmup_requests"))
        server = self._start(_config(self.base), *flags)
        os.rename(os.path.join(staging, "2"), os.path.join(self.base, "2"))
        server.wait_for_version("m", 2, timeout=_TIMEOUT)
        records = ":tensorflow:serving:model_warmup_records_read"
        self.assertEqual(self._metric(server, records, model_path=os.path.join(self.base, "2"),
                                      status="OK"), 4)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    absltest.main()

"""End-to-end: models, configs, warmup and batching files through TensorFlow's
file systems (file:// URIs here; ram:// is covered in-process by the source's
and the bundle factory's tests), and a failing file system never stops serving.
"""

import json
import os
import urllib.request

from absl.testing import absltest
from prometheus_client.parser import text_string_to_metric_families

from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two

_request = server_runner.half_plus_two_request


class StorageTest(server_runner.ServerTestCase):

    def test_file_uris_for_every_file(self):
        batched, plain = os.path.join(self.tmp, "batched"), os.path.join(self.tmp, "plain")
        server_runner.export_half_plus_two_versions(batched, {1: 2.0})
        server_runner.export_half_plus_two_versions(plain, {1: 5.0})
        saved_model_half_plus_two.write_warmup_requests(
            os.path.join(plain, "1"), [_request("plain", [1.0])])
        # The batched model's own batching: every batch padded to 4 rows.
        with open(os.path.join(batched, "1", "batching_params.pbtxt"), "w") as f:
            f.write("max_batch_size { value: 4 }\nallowed_batch_sizes: 4\n")
        config = os.path.join(self.tmp, "models.config")
        with open(config, "w") as f:
            f.write(f'model_config_list {{\n'
                    f'  config {{ name: "batched" base_path: "file://{batched}" '
                    f'model_platform: "tensorflow" }}\n'
                    f'  config {{ name: "plain" base_path: "file://{plain}" '
                    f'model_platform: "tensorflow" }}\n}}\n')
        batching = os.path.join(self.tmp, "batching.config")
        with open(batching, "w") as f:
            f.write("num_batch_threads { value: 2 }\n")
        monitoring = os.path.join(self.tmp, "monitoring.config")
        with open(monitoring, "w") as f:
            f.write("prometheus_config { enable: true }\n")
        server = self.start_server(
            [f"--model_config_file=file://{config}", "--enable_batching",
             "--enable_per_model_batching_parameters",
             f"--batching_parameters_file=file://{batching}",
             f"--monitoring_config_file=file://{monitoring}"],
            ["batched", "plain"], rest=True)
        for name, y in (("batched", 3.0), ("plain", 6.0)):
            response = server.prediction_stub.Predict(_request(name, [2.0]), timeout=30)
            self.assertEqual(response.outputs["y"].float_val, [y])
        logs = server.logs()
        self.assertIn("Number of warmup records read: 1.", logs)
        self.assertIn(f"file://{plain}/1", logs)
        with urllib.request.urlopen(
                f"http://localhost:{server.rest_port}/monitoring/prometheus/metrics",
                timeout=30) as r:
            page = r.read().decode()
        padding = {tuple(sorted(s.labels.items())): s.value
                   for f in text_string_to_metric_families(page)
                   if f.name == ":tensorflow:serving:batching_session:padding_size"
                   for s in f.samples if s.name.endswith("_sum")}
        # Only the model with a batching_params.pbtxt batches: one 1-row
        # request padded to 4 rows; the other model's request was not batched.
        self.assertEqual(padding, {(("execution_batch_size", "4"),): 3.0})

    def test_failing_file_system_does_not_stop_serving(self):
        base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(base, {1: 2.0})
        server = self.start_server(["--model_name=m", f"--model_base_path={base}",
                                    "--file_system_poll_wait_seconds=1"], ["m"], rest=True)
        # The loaded version lives in memory; its base path goes away.
        moved = base + ".moved"
        os.rename(base, moved)
        server.wait_for_log(f"Could not find base path {base} for servable m")
        response = server.prediction_stub.Predict(_request("m", [2.0]), timeout=30)
        self.assertEqual(response.outputs["y"].float_val, [3.0])
        with urllib.request.urlopen(urllib.request.Request(
                f"http://localhost:{server.rest_port}/v1/models/m:predict",
                data=json.dumps({"instances": [[2.0]]}).encode()), timeout=30) as r:
            self.assertEqual(json.loads(r.read()), {"predictions": [[3.0]]})
        self.assertEqual(server.model_status("m").model_version_status[0].version, 1)
        os.rename(moved, base)


if __name__ == "__main__":
    absltest.main()

"""The README's example configs (configs/models.config, configs/monitoring.config)
start the server and do what the README says they do.

models.config names /tmp paths, as the README's commands write them; the test
serves a copy whose base paths point into its own temporary directory, and
changes nothing else. The models are written at build time
(example_config_models), so the test process never imports TensorFlow.
"""

import json
import os
import shutil
import urllib.request

from absl.testing import absltest
from prometheus_client.parser import text_string_to_metric_families

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.util import runfiles_util

_EXAMPLE = "tf_serving/tensorflow_serving/example/"
_BASE_PATHS = {"mnist": "/tmp/mnist_model", "half_plus_two": "/tmp/half_plus_two"}
# The README's hand-drawn "1": a vertical bar two pixels wide.
_ONE = [float(13 <= i % 28 <= 14 and 4 <= i // 28 <= 23) for i in range(784)]


def _runfile(path):
    location = runfiles_util.runfile(_EXAMPLE + path)
    if location is None:
        raise AssertionError(f"{path} is not in the test's runfiles")
    return location


def _read(path):
    with open(_runfile(path), encoding="utf-8") as f:
        return f.read()


class ExampleConfigsTest(server_runner.ServerTestCase):

    def _get(self, path):
        url = f"http://localhost:{self.server.rest_port}{path}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read().decode()

    def _post(self, path, body):
        url = f"http://localhost:{self.server.rest_port}{path}"
        request = urllib.request.Request(url, data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def test_two_models_a_label_and_the_metrics_page(self):
        config = _read("configs/models.config")
        for name, path in _BASE_PATHS.items():
            self.assertEqual(config.count(f'base_path: "{path}"'), 1, path)
            base_path = os.path.join(self.tmp, name)
            config = config.replace(f'base_path: "{path}"', f'base_path: "{base_path}"')
            built = _runfile(f"example_config_saved_models/{name}/1")
            shutil.copytree(built, os.path.join(base_path, "1"))
            if name == "mnist":  # a version the policy (specific: 1) leaves alone
                shutil.copytree(built, os.path.join(base_path, "2"))
        config_path = os.path.join(self.tmp, "models.config")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(config)
        self.assertIn('path: "/monitoring/prometheus/metrics"',
                      _read("configs/monitoring.config"))

        self.server = server_launcher.ServerRunner(
            [f"--model_config_file={config_path}",
             f"--monitoring_config_file={_runfile('configs/monitoring.config')}"],
            rest=True, status_over_rest=True)
        self.addCleanup(self.server.cleanup)
        self.server.start(["mnist", "half_plus_two"])

        self.assertEqual(
            self._post("/v1/models/half_plus_two:predict", {"instances": [1.0, 2.0, 5.0]}),
            {"predictions": [2.5, 3.0, 4.5]})
        status = json.loads(self._get("/v1/models/mnist"))
        self.assertEqual([(s["version"], s["state"]) for s in status["model_version_status"]],
                         [("1", "AVAILABLE")])
        body = {"signature_name": "predict_images", "instances": [_ONE]}
        by_label = self._post("/v1/models/mnist/labels/stable:predict", body)
        self.assertLen(by_label["predictions"][0], 10)
        self.assertAlmostEqual(sum(by_label["predictions"][0]), 1.0, places=4)
        self.assertEqual(by_label, self._post("/v1/models/mnist/versions/1:predict", body))

        # The page counts each model's REST predicts (status requests have API "").
        latency = ":tensorflow:serving:request_latency"
        families = {f.name: f for f in text_string_to_metric_families(
            self._get("/monitoring/prometheus/metrics"))}
        predicts = {s.labels["model_name"]: s.value for s in families[latency].samples
                    if s.name == latency + "_count" and s.labels["API"] == "predict"}
        self.assertEqual(predicts, {"half_plus_two": 1, "mnist": 2})


if __name__ == "__main__":
    absltest.main()

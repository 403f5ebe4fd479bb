"""End-to-end: KServe's Python SDK clients (InferenceRESTClient with protocol
v2, InferenceGRPCClient) against the server as built, unchanged and given
only host, port and model name.

They run in KServe's own venv (@kserve_client//:python: kserve's pins clash
with the toolchain's), through test_util/kserve_client_calls.py, which prints
what they answered; this test starts the server and checks the answers.
"""

import json
import os
import subprocess

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.util import runfiles_util

_CALLS = "tensorflow_serving/model_servers/test_util/kserve_client_calls.py"

CONFIG = """
model_config_list {{
  config {{
    name: "half_plus_two"
    base_path: "{base}"
    model_platform: "tensorflow"
    model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}
    version_labels {{ key: "stable" value: 1 }}
  }}
}}
"""

X = [1.0, 2.0, 5.0]


class KServeClientTest(server_runner.ServerTestCase):

    def test_kserve_clients(self):
        base = os.path.join(self.tmp, "half_plus_two")
        server_runner.export_half_plus_two_versions(base, {1: 2.0, 2: 3.0})
        config = os.path.join(self.tmp, "models.config")
        with open(config, "w") as f:
            f.write(CONFIG.format(base=base))
        server = self.start_server([f"--model_config_file={config}"],
                                   models=["half_plus_two"], rest=True)
        python = runfiles_util.runfile("kserve_client/python")
        calls = runfiles_util.runfile(f"{server_launcher.WORKSPACE}/{_CALLS}")
        self.assertIsNotNone(python, "KServe's SDK venv is not in the runfiles")
        result = subprocess.run(
            [python, calls, f"http://localhost:{server.rest_port}",
             f"localhost:{server.grpc_port}", "half_plus_two"],
            capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        answers = json.loads(result.stdout.strip().splitlines()[-1])

        latest = {"model_version": "2", "outputs": {"y": [[0.5 * x + 3.0] for x in X]}}
        stable = {"model_version": "1", "outputs": {"y": [[0.5 * x + 2.0] for x in X]}}
        for transport in ("rest", "grpc"):
            got = answers[transport]
            self.assertIs(got["live"], True, transport)
            self.assertIs(got["ready"], True, transport)
            self.assertIs(got["model_ready"], True, transport)
            self.assertIs(got["missing_model_ready"], False, transport)
        # KServe's REST client reads no model_version (InferResponse.from_bytes
        # leaves it out); the server's is checked over gRPC and by
        # open_inference_test.
        self.assertEqual(answers["rest"]["json"]["outputs"], latest["outputs"])
        self.assertEqual(answers["rest"]["binary"]["outputs"], latest["outputs"])
        self.assertEqual(answers["grpc"]["latest"], latest)
        self.assertEqual(answers["grpc"]["stable"], stable)


if __name__ == "__main__":
    absltest.main()

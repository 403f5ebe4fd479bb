"""A huge REST predict body is served without stalling anyone else.

Parsing JSON and writing it are Python work; the server does both for large
payloads in a worker process, so while a 64 MB body is read, run and
answered, a steady gRPC and REST client keeps getting prompt answers.
"""

import os
import tempfile
import urllib.request

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.model_servers.test_util import steady_client

_MODEL = "hp2"
_ROWS = 8 * 1000 * 1000  # "[0.125]," per row: 64 MB


class RestLargeBodyTest(absltest.TestCase):

    def test_large_body_leaves_other_clients_alone(self):
        with tempfile.TemporaryDirectory() as tmp:
            base = os.path.join(tmp, _MODEL)
            server_runner.export_half_plus_two_versions(base, {1: 2.0})
            with server_launcher.ServerRunner(
                    [f"--model_name={_MODEL}", f"--model_base_path={base}"],
                    rest=True) as server:
                server.start([_MODEL])
                body = b'{"instances": [' + b",".join([b"[0.125]"] * _ROWS) + b"]}"
                request = urllib.request.Request(
                    f"http://localhost:{server.rest_port}/v1/models/{_MODEL}:predict",
                    data=body)
                with steady_client.SteadyClient(server, _MODEL) as steady:
                    with urllib.request.urlopen(request, timeout=900) as response:
                        status, answer = response.status, response.read()
                steady.check(self, 5.0)
        self.assertEqual(200, status)
        # y = 0.5 x + 2 for every row, in upstream's layout.
        self.assertTrue(answer.startswith(b'{\n    "predictions": [[2.0625], [2.0625]'))
        self.assertEqual(_ROWS, answer.count(b"[2.0625]"))


if __name__ == "__main__":
    absltest.main()

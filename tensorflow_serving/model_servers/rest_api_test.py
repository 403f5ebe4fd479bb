"""End-to-end: every REST route, its JSON and its errors, gzip bodies and
bombs, plus Prometheus metrics."""

import gzip
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
import zlib

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner

MODEL = "half_plus_two"
METRICS_PATH = "/monitoring/prometheus/metrics"
MAX_BODY = 4 << 20

CONFIG = """
model_config_list {{
  config {{
    name: "{name}"
    base_path: "{base}"
    model_platform: "tensorflow"
    model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}
    version_labels {{ key: "stable" value: 1 }}
  }}
}}
"""


def _peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class RestApiTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        base = os.path.join(cls.tmp, MODEL)
        server_runner.export_half_plus_two_versions(base, {1: 2.0, 2: 3.0})
        config = os.path.join(cls.tmp, "models.config")
        with open(config, "w") as f:
            f.write(CONFIG.format(name=MODEL, base=base))
        monitoring = os.path.join(cls.tmp, "monitoring.config")
        with open(monitoring, "w") as f:
            f.write('prometheus_config { enable: true path: "%s" }\n' % METRICS_PATH)
        cls.server = server_launcher.ServerRunner(
            [f"--model_config_file={config}", f"--monitoring_config_file={monitoring}",
             f"--rest_api_max_body_bytes={MAX_BODY}"])
        cls.server.start()
        cls.server.wait_for_version(MODEL, 1)
        cls.server.wait_for_version(MODEL, 2)
        cls.url = f"http://localhost:{cls.server.rest_port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def call(self, path, body=None, method=None):
        """Returns (http status, parsed JSON or raw text)."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                code, raw, ctype = response.status, response.read(), response.headers
        except urllib.error.HTTPError as e:
            code, raw, ctype = e.code, e.read(), e.headers
        if "json" in ctype.get("Content-Type", ""):
            return code, json.loads(raw)
        return code, raw.decode()

    def assertError(self, path, body, code, fragment, method=None):
        got_code, got = self.call(path, body, method)
        self.assertEqual(got_code, code, got)
        self.assertIsInstance(got, dict)
        self.assertIn(fragment, got["error"])

    def test_predict_row_format(self):
        self.assertEqual(self.call(f"/v1/models/{MODEL}:predict",
                                   {"instances": [[1.0], [2.0], [5.0]]}),
                         (200, {"predictions": [[3.5], [4.0], [5.5]]}))
        self.assertEqual(self.call(f"/v1/models/{MODEL}/versions/1:predict",
                                   {"instances": [[1.0]]}),
                         (200, {"predictions": [[2.5]]}))
        self.assertEqual(self.call(f"/v1/models/{MODEL}/labels/stable:predict",
                                   {"signature_name": "serving_default",
                                    "instances": [{"x": [4.0]}]}),
                         (200, {"predictions": [[4.0]]}))

    def test_predict_columnar_format(self):
        self.assertEqual(self.call(f"/v1/models/{MODEL}:predict",
                                   {"inputs": {"x": [[1.0], [3.0]]}}),
                         (200, {"outputs": [[3.5], [4.5]]}))
        self.assertEqual(self.call(f"/v1/models/{MODEL}/versions/1:predict",
                                   {"inputs": [[0.0]]}),
                         (200, {"outputs": [[2.0]]}))

    def test_classify_and_regress(self):
        self.assertEqual(self.call(
            f"/v1/models/{MODEL}/versions/1:classify",
            {"signature_name": "classify_x_to_classes",
             "examples": [{"x": 1.0}, {"x": 2.0}]}),
            (200, {"results": [[["2.5", 2.5]], [["3.0", 3.0]]]}))
        self.assertEqual(self.call(
            f"/v1/models/{MODEL}:regress",
            {"signature_name": "regress_x_to_y", "context": {"y": "ignored"},
             "examples": [{"x": 4.0}]}),
            (200, {"results": [5.0]}))

    def test_model_status(self):
        code, body = self.call(f"/v1/models/{MODEL}")
        self.assertEqual(code, 200)
        self.assertEqual(body, {"model_version_status": [
            {"version": v, "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}} for v in ("2", "1")]})
        code, body = self.call(f"/v1/models/{MODEL}/versions/1")
        self.assertEqual([s["version"] for s in body["model_version_status"]], ["1"])
        # As upstream, GetModelStatus does not resolve labels: all versions.
        code, body = self.call(f"/v1/models/{MODEL}/labels/stable")
        self.assertEqual([s["version"] for s in body["model_version_status"]],
                         ["2", "1"])
        self.assertError("/v1/models/nope", None, 404, "Could not find any versions")
        self.assertError(f"/v1/models/{MODEL}/versions/5", None, 404,
                         f"Could not find version 5 of model {MODEL}")

    def test_model_metadata(self):
        code, body = self.call(f"/v1/models/{MODEL}/metadata")
        self.assertEqual(code, 200, body)
        self.assertEqual(body["model_spec"]["name"], MODEL)
        self.assertEqual(body["model_spec"]["version"], "2")
        sigs = body["metadata"]["signature_def"]["signature_def"]
        self.assertEqual(sigs["serving_default"]["inputs"]["x"]["dtype"], "DT_FLOAT")
        code, body = self.call(f"/v1/models/{MODEL}/labels/stable/metadata")
        self.assertEqual(body["model_spec"]["version"], "1")

    def test_errors(self):
        predict = f"/v1/models/{MODEL}:predict"
        self.assertError("/v1/models/nope:predict", {"instances": [[1.0]]}, 404, "nope")
        self.assertError(f"/v1/models/{MODEL}/versions/7:predict", {"instances": [[1.0]]},
                         404, "7")
        self.assertError(f"/v1/models/{MODEL}/labels/nope:predict", {"instances": [[1.0]]},
                         400, "nope")
        self.assertError(predict, {"signature_name": "nope", "instances": [[1.0]]}, 400,
                         '"nope"')
        self.assertError(predict, {"instances": [{"z": 1.0}]}, 400,
                         "JSON object: does not have named input: z")
        self.assertError(predict, {"instances": [["a"]]}, 400, "not of expected type: float")
        self.assertError(predict, {"instances": [[1.0], [1.0, 2.0]]}, 400,
                         "Expecting tensor size: 1 but got: 2")
        self.assertError(predict, b'{"instances": [[1.0]', 400,
                         "JSON Parse error: Missing a comma or ']' after an array "
                         "element. at offset: 20")
        self.assertError(predict, {"foo": 1}, 400, "Missing 'inputs' or 'instances' key")
        self.assertError(f"/v1/models/{MODEL}:regress",
                         {"signature_name": "regress_x_to_y"}, 400, "examples")
        self.assertError(f"/v1/models/{MODEL}:explode", {}, 400, "Malformed request")
        self.assertError(f"/v1/models/{MODEL}", {}, 400, "Malformed request")
        self.assertError("/v1/models", None, 400, "Missing model name")
        code, _ = self.call("/nothing/here")
        self.assertEqual(code, 404)

    def test_garbage_never_crashes_the_server(self):
        import socket  # pylint: disable=g-import-not-at-top
        for raw in [b"\x00\xff garbage\r\n\r\n", b"POST /v1/models/x:predict HTTP/1.1\r\n"
                    b"Content-Length: -5\r\n\r\n", b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"]:
            with socket.create_connection(("localhost", self.server.rest_port), 10) as s:
                s.sendall(raw)
                s.settimeout(10)
                try:
                    s.recv(1000)
                except OSError:
                    pass
        self.assertError(f"/v1/models/{MODEL}:predict", b"\xff\xfe{", 400, "JSON Parse error")
        self.assertError(f"/v1/models/{MODEL}:predict", b"", 400, "JSON Parse error")
        self.assertEqual(self.call(f"/v1/models/{MODEL}:predict", {"inputs": [[1.0]]}),
                         (200, {"outputs": [[3.5]]}))

    def post(self, path, body: bytes, headers=None):
        """(status, Content-Type, body bytes) of a POST sent as given."""
        conn = http.client.HTTPConnection("localhost", self.server.rest_port, timeout=60)
        try:
            conn.request("POST", path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            conn.close()

    def test_gzip_body_answered_as_the_plain_body(self):
        predict = f"/v1/models/{MODEL}:predict"
        for body in (json.dumps({"instances": [[float(x)] for x in range(200)]}).encode(),
                     json.dumps({"inputs": {"x": [[1.0]]}, "signature_name": "nope"}).encode(),
                     b'{"instances": [[1.0], [2.0]'):
            plain = self.post(predict, body)
            for level in (1, 9):
                compressed = gzip.compress(body, compresslevel=level)
                self.assertEqual(self.post(predict, compressed, {"Content-Encoding": "gzip"}),
                                 plain, body[:80])
        self.assertEqual(plain[0], 400)
        status, _, answer = self.post(predict, json.dumps({"instances": [[1.0]]}).encode())
        self.assertEqual((status, json.loads(answer)), (200, {"predictions": [[3.5]]}))

    def test_gzip_bomb(self):
        # 256 MiB of zeros in 256 KiB: its footer declares them, over the
        # body limit, so the body is refused before it is inflated; with a
        # footer that lies (declaring 100 bytes, or the limit), inflating
        # stops there, and the handler gets no body. Either way the server's
        # memory does not grow by the bomb's size.
        size = 256 << 20
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = bytes(1 << 20)
        bomb = b"".join(compressor.compress(block) for _ in range(size >> 20))
        bomb += compressor.flush()
        self.assertLess(len(bomb), size // 512)
        peak_before = _peak_rss_bytes(self.server.process.pid)
        predict = f"/v1/models/{MODEL}:predict"
        status, ctype, answer = self.post(predict, bomb, {"Content-Encoding": "gzip"})
        self.assertEqual((status, ctype), (413, "text/html"), answer[:300])
        self.assertIn(f"limit of {MAX_BODY} bytes".encode(), answer)
        for declared in (100, MAX_BODY):
            lying = bomb[:-4] + declared.to_bytes(4, "little")
            status, _, answer = self.post(predict, lying, {"Content-Encoding": "gzip"})
            self.assertEqual((status, json.loads(answer)),
                             (400, {"error": "JSON Parse error: The document is empty"}))
        grown = _peak_rss_bytes(self.server.process.pid) - peak_before
        self.assertLess(grown, 64 << 20, f"peak RSS grew by {grown >> 20} MiB")
        self.assertEqual(self.call(predict, {"instances": [[1.0]]}),
                         (200, {"predictions": [[3.5]]}))

    def test_keep_alive_and_metrics(self):
        conn = http.client.HTTPConnection("localhost", self.server.rest_port, timeout=30)
        try:
            for x in range(3):
                conn.request("POST", f"/v1/models/{MODEL}:predict",
                             body=json.dumps({"instances": [[float(x)]]}),
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                self.assertEqual(response.status, 200)
                self.assertEqual(json.loads(response.read()),
                                 {"predictions": [[0.5 * x + 3.0]]})
                self.assertEqual(response.getheader("Content-Type"), "application/json")
        finally:
            conn.close()
        code, text = self.call(METRICS_PATH)
        self.assertEqual(code, 200)
        self.assertIn(f':tensorflow:serving:request_count{{model_name="{MODEL}",'
                      'status="OK"}', text)
        self.assertIn(":tensorflow:serving:request_latency_bucket", text)

    def test_server_logs(self):
        self.assertIn(f"Exporting HTTP/REST API at:localhost:{self.server.rest_port} ...",
                      self.server.logs())


if __name__ == "__main__":
    absltest.main()

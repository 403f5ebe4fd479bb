"""End-to-end: the REST transport of the real binary under hostile clients.

Each test attacks the server while a steady client keeps calling it over gRPC
and REST, and checks both what the attacker got and that the steady client
saw no failure and no stall.
"""

import json
import os
import signal
import socket
import tempfile
import threading
import time

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.model_servers.test_util import steady_client
from tensorflow_serving.servables.tensorflow.testdata import saved_model_sleep
from tensorflow_serving.test_util import test_util
from tensorflow_serving.util.net_http import test_client

MODEL = "half_plus_two"
SLEEP = "sleep"
MAX_BODY = 100000
REST_TIMEOUT_MS = 3000
_WAIT = 60.0
_CONFIG = """
model_config_list {{
  config {{ name: "{m}" base_path: "{base}/{m}" model_platform: "tensorflow" }}
  config {{ name: "{s}" base_path: "{base}/{s}" model_platform: "tensorflow" }}
}}
"""
_CORS = {"access-control-allow-origin": "*",
         "access-control-allow-methods": "POST, GET",
         "access-control-allow-headers": "Content-Type"}


def export_models(base: str) -> str:
    """Exports half_plus_two and the sleep model; returns a config file."""
    server_runner.export_half_plus_two_versions(os.path.join(base, MODEL), {1: 2.0})
    saved_model_sleep.export_sleep_model(os.path.join(base, SLEEP, "1"))
    config = os.path.join(base, "models.config")
    with open(config, "w", encoding="utf-8") as f:
        f.write(_CONFIG.format(m=MODEL, s=SLEEP, base=base))
    return config


def split_response(data: bytes):
    """(status line, {lowercase name: [values]}, body) of one response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, body


def predict_body(n: int) -> bytes:
    return json.dumps({"instances": [[1.0]] * n}).encode()


class _ServerTestCase(absltest.TestCase):
    FLAGS = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        config = export_models(cls.tmp)
        cls.server = server_launcher.ServerRunner(
            [f"--model_config_file={config}", *cls.FLAGS])
        cls.server.start(models=[MODEL, SLEEP])
        cls.port = cls.server.rest_port

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.steady = steady_client.SteadyClient(self.server, MODEL)
        self.steady.__enter__()

    def tearDown(self):
        self.steady.__exit__(None, None, None)
        self.steady.check(self)
        super().tearDown()

    def request(self, raw: bytes, **kwargs):
        return split_response(test_client.exchange(self.port, raw, **kwargs))


class RestTransportTest(_ServerTestCase):
    """Upstream's answers, the body cap and strict framing."""

    FLAGS = ("--rest_api_enable_cors_support",
             f"--rest_api_max_body_bytes={MAX_BODY}",
             f"--rest_api_timeout_in_ms={REST_TIMEOUT_MS}")

    def test_cors_preflight_and_headers(self):
        status, headers, body = self.request(
            b"OPTIONS /v1/models/half_plus_two:predict HTTP/1.1\r\n"
            b"Origin: https://example.com\r\nConnection: close\r\n\r\n")
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(body, b"")
        for name, value in _CORS.items():
            self.assertEqual(headers[name], [value])
        self.assertEqual(headers["content-type"], ["text/html; charset=ISO-8859-1"])
        status, headers, body = self.request(
            b"OPTIONS /v1/models/half_plus_two HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual((status, body), ("HTTP/1.1 400 Bad Request", b""))
        self.assertEqual(headers["access-control-allow-origin"], ["*"])
        body = predict_body(1)
        status, headers, reply = self.request(
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(json.loads(reply), {"predictions": [[2.5]]})
        self.assertEqual(headers["content-type"], ["application/json"])
        for name, value in _CORS.items():
            self.assertEqual(headers[name], [value])
        # Errors carry them too; pages outside /v1 do not.
        status, headers, _ = self.request(
            b"GET /v1/models/nope HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(status, "HTTP/1.1 404 Not Found")
        self.assertEqual(headers["access-control-allow-origin"], ["*"])
        status, headers, _ = self.request(b"GET /nope HTTP/1.1\r\n\r\n")
        self.assertNotIn("access-control-allow-origin", headers)

    def test_unknown_paths_methods_and_head(self):
        status, headers, body = self.request(b"GET /index.html HTTP/1.1\r\n\r\n")
        self.assertEqual(status, "HTTP/1.1 404 Not Found")
        self.assertEqual(headers["content-type"], ["text/html"])
        self.assertEqual(headers["connection"], ["close"])
        self.assertIn(b"<TITLE>404 Not Found</TITLE>", body)
        for method in ("PUT", "DELETE", "PATCH"):
            status, headers, body = self.request(
                f"{method} /v1/models/{MODEL} HTTP/1.1\r\nConnection: close\r\n\r\n"
                .encode())
            self.assertEqual(status, "HTTP/1.1 400 Bad Request")
            self.assertEqual(headers["content-type"], ["application/json"])
            self.assertEqual(json.loads(body),
                             {"error": f"Malformed request: {method} /v1/models/{MODEL}"})
        for method in ("TRACE", "CONNECT", "BREW"):
            status, headers, _ = self.request(
                f"{method} /v1/models/{MODEL} HTTP/1.1\r\n\r\n".encode())
            self.assertEqual(status, "HTTP/1.1 501 Not Implemented")
            self.assertEqual(headers["connection"], ["close"])
        status, headers, body = self.request(
            f"HEAD /v1/models/{MODEL} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
        self.assertEqual(status, "HTTP/1.1 400 Bad Request")
        self.assertEqual(headers["content-type"], ["application/json"])
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["content-length"][0]), 0)
        status, _, body = self.request(b"HEAD /nope HTTP/1.1\r\n\r\n")
        self.assertEqual((status, body), ("HTTP/1.1 404 Not Found", b""))

    def test_chunked_bodies_and_keep_alive(self):
        body = predict_body(3)
        half = len(body) // 2
        chunked = (f"{half:x}\r\n".encode() + body[:half] + b"\r\n" +
                   f"{len(body) - half:x};ext=1\r\n".encode() + body[half:] +
                   b"\r\n0\r\n\r\n")
        one = (b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        two = (b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n" +
               f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        three = b"GET /v1/models/half_plus_two HTTP/1.1\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=_WAIT) as sock:
            # Separately, then pipelined, all on one connection.
            sock.sendall(one)
            first = sock.recv(65536)
            self.assertTrue(first.startswith(b"HTTP/1.1 200 OK\r\n"), first)
            self.assertTrue(first.endswith(b'{\n    "predictions": [[2.5], [2.5], [2.5]\n    ]\n}'), first)
            sock.sendall(two + one + three)
            rest = test_client.read_until_closed(sock)
        self.assertEqual(rest.count(b"HTTP/1.1 200 OK\r\n"), 3)
        self.assertEqual(rest.count(b'{\n    "predictions": [[2.5], [2.5], [2.5]\n    ]\n}'), 2)
        self.assertIn(b'"state": "AVAILABLE"', rest)

    def test_body_cap_for_content_length_and_chunked(self):
        status, headers, body = self.request(
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n" +
            f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        self.assertEqual(status, "HTTP/1.1 413 Request Entity Too Large")
        self.assertIn(f"{MAX_BODY} bytes".encode(), body)
        status, _, _ = self.request(
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" +
            (f"{MAX_BODY // 4:x}\r\n".encode() + b" " * (MAX_BODY // 4) + b"\r\n") * 5)
        self.assertEqual(status, "HTTP/1.1 413 Request Entity Too Large")
        status, _, _ = self.request(
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n"
            b"Content-Length: 99999999999999999999999\r\n\r\n")
        self.assertEqual(status, "HTTP/1.1 413 Request Entity Too Large")
        # A body of exactly the cap is served.
        body = predict_body(2)
        body += b" " * (MAX_BODY - len(body))
        status, _, reply = self.request(
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nConnection: close\r\n"
            + f"Content-Length: {MAX_BODY}\r\n\r\n".encode() + body)
        self.assertEqual((status, json.loads(reply)),
                         ("HTTP/1.1 200 OK", {"predictions": [[2.5], [2.5]]}))

    def test_content_length_bounds(self):
        body = predict_body(1)
        for value in (b"-1", b"abc", b"1e3", b""):
            status, headers, reply = self.request(
                b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nContent-Length: "
                + value + b"\r\n\r\n" + body)
            self.assertEqual(status, "HTTP/1.1 400 Bad Request", value)
            self.assertIn(b"Content-Length", reply)
            self.assertEqual(headers["connection"], ["close"])
        # Two lengths that disagree: one 400, and the bytes after the shorter
        # body are never taken for a second request.
        smuggled = b"GET /v1/models/half_plus_two HTTP/1.1\r\n\r\n"
        data = test_client.exchange(
            self.port, b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n"
            b"Content-Length: 0\r\n" +
            f"Content-Length: {len(smuggled)}\r\n\r\n".encode() + smuggled)
        self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data)
        self.assertIn(b"Conflicting Content-Length headers", data)
        self.assertEqual(data.count(b"HTTP/1.1 "), 1)
        # Shorter than the body: the rest is the next request, and is garbage.
        data = test_client.exchange(
            self.port, b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n"
            b"Content-Length: 5\r\n\r\n" + body)
        self.assertEqual(data.count(b"HTTP/1.1 400 Bad Request"), 2)

    def test_garbage_answered_at_once(self):
        # The read timeout is 50 s: an answer well before it came on sight.
        tls_hello = bytes.fromhex("1603010200010001fc0303") + os.urandom(64)
        for raw in (tls_hello, b"GET /\r\n", b"\x00\x01\x02\x03"):
            started = time.monotonic()
            status, headers, _ = self.request(raw)
            self.assertEqual(status, "HTTP/1.1 400 Bad Request", raw)
            self.assertEqual(headers["connection"], ["close"])
            self.assertLess(time.monotonic() - started, 25.0)

    def test_ipv6_and_ipv4(self):
        request = (b"GET /v1/models/half_plus_two HTTP/1.1\r\n"
                   b"Connection: close\r\n\r\n")
        hosts = ["127.0.0.1", "localhost"]
        if test_client.host_has_ipv6():
            hosts.append("::1")
        for host in hosts:
            status, _, _ = self.request(request, host=host)
            self.assertEqual(status, "HTTP/1.1 200 OK", host)

    def test_rest_timeout(self):
        # Within the timeout the model answers; past it, the reply is a 504
        # at the timeout (the model sleeps 10 s, the timeout is 3 s).
        fast = json.dumps({"instances": [1000]}).encode()
        status, _, body = self.request(
            b"POST /v1/models/sleep:predict HTTP/1.1\r\nConnection: close\r\n" +
            f"Content-Length: {len(fast)}\r\n\r\n".encode() + fast)
        self.assertEqual((status, json.loads(body)),
                         ("HTTP/1.1 200 OK", {"predictions": [1000]}))
        slow = json.dumps({"instances": [10 * 1000 * 1000]}).encode()
        started = time.monotonic()
        status, headers, body = self.request(
            b"POST /v1/models/sleep:predict HTTP/1.1\r\nConnection: close\r\n" +
            f"Content-Length: {len(slow)}\r\n\r\n".encode() + slow)
        # As upstream, the timeout is the model run's: TensorFlow's answer.
        self.assertEqual(status, "HTTP/1.1 504 Gateway Time-out")
        self.assertIn("error", json.loads(body))
        self.assertEqual(headers["access-control-allow-origin"], ["*"])
        # TensorFlow cancels the run at the timeout, before the sleep ends.
        self.assertLess(time.monotonic() - started, 9.0)


class RestReadTimeoutTest(_ServerTestCase):
    """Slow and idle connections are dropped at their deadline."""

    READ_TIMEOUT_MS = 2000
    FLAGS = (f"--rest_api_read_timeout_in_ms={READ_TIMEOUT_MS}",)

    def _trickle(self, sock, piece: bytes, seconds: float):
        def run():
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    sock.send(piece)
                except OSError:
                    return
                time.sleep(0.1)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def test_slow_head_dropped_at_its_deadline(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=_WAIT) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n")
            # A header line every 0.1 s: each read is quick, the head is not.
            self._trickle(sock, b"X-Slow: 1\r\n", 60)
            data = test_client.read_until_closed(sock)
            elapsed = time.monotonic() - started
        self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Time-out"), data)
        self.assertGreaterEqual(elapsed, self.READ_TIMEOUT_MS / 1000 - 0.1)
        self.assertLess(elapsed, 30.0)

    def test_slow_body_dropped_at_its_deadline(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=_WAIT) as sock:
            sock.sendall(b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n"
                         b"Content-Length: 100000\r\n\r\n")
            self._trickle(sock, b" ", 60)
            data = test_client.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Time-out"), data)

    def test_idle_keep_alive_closed(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=_WAIT) as sock:
            sock.sendall(b"GET /v1/models/half_plus_two HTTP/1.1\r\n\r\n")
            data = test_client.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"), data)
        self.assertNotIn(b"408", data)


class RestDrainTest(absltest.TestCase):
    """SIGTERM: requests in flight complete, new ones are refused."""

    def connect(self, port):
        """A connection the server has accepted (it answered on it)."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=_WAIT)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /v1/models/half_plus_two HTTP/1.1\r\n\r\n")
        reply = b""
        while not reply.endswith(b"}\n") and not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            self.assertTrue(chunk, reply)
            reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK"), reply)
        return sock

    def test_sigterm_drains_rest(self):
        tmp = self.create_tempdir().full_path
        config = export_models(tmp)
        server = server_launcher.ServerRunner([f"--model_config_file={config}"])
        self.addCleanup(server.cleanup)
        server.start(models=[MODEL, SLEEP])
        port = server.rest_port
        # In flight at the signal: two requests sleeping in the model and one
        # still sending its body; one more connection is idle.
        slow = json.dumps({"instances": [3 * 1000 * 1000]}).encode()
        sleepers = [self.connect(port) for _ in range(2)]
        for sock in sleepers:
            sock.sendall(b"POST /v1/models/sleep:predict HTTP/1.1\r\n" +
                         f"Content-Length: {len(slow)}\r\n\r\n".encode() + slow)
        body = predict_body(1)
        upload = self.connect(port)
        upload.sendall(b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\n" +
                       f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
        idle = self.connect(port)
        results = []
        def read_reply(sock):
            results.append(split_response(test_client.read_until_closed(sock)))
        readers = [threading.Thread(target=read_reply, args=(s,)) for s in sleepers]
        for reader in readers:
            reader.start()
        server.send_signal(signal.SIGTERM)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return False
            except OSError:
                return True
        test_util.wait_for(refused, "the listener to close", _WAIT)
        self.assertEqual(test_client.read_until_closed(idle), b"")
        upload.sendall(body[5:])
        read_reply(upload)
        for reader in readers:
            reader.join(_WAIT)
        self.assertEqual(sorted(status for status, _, _ in results),
                         ["HTTP/1.1 200 OK"] * 3)
        for _, headers, _ in results:
            self.assertEqual(headers["connection"], ["close"])
        self.assertEqual(server.wait(_WAIT), 0)


if __name__ == "__main__":
    absltest.main()

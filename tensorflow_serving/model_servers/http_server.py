"""The HTTP/REST listener: ThreadingHTTPServer with keep-alive, upstream's routes.

/v1/... goes to HttpRestApiHandler, the Prometheus path (when enabled) to the
metrics, anything else is a 404 like upstream's evhttp server. Tracks requests
in flight so a graceful stop can wait for them.
"""

import email.utils
import http.server
import socket
import socketserver
import threading
import time

from absl import logging

from tensorflow_serving.model_servers import http_rest_api_handler
from tensorflow_serving.util import json_tensor

_MAX_BODY = 2**31 - 1


class _InFlight:
    def __init__(self):
        self._cond = threading.Condition()
        self._n = 0

    def __enter__(self):
        with self._cond:
            self._n += 1

    def __exit__(self, *exc):
        with self._cond:
            self._n -= 1
            if self._n == 0:
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._n == 0, timeout)


_date_cache = (0, "")


def _http_date(timestamp=None) -> str:
    """RFC 7231 date of now, formatted once a second (it is on every response)."""
    global _date_cache  # pylint: disable=global-statement
    if timestamp is not None:
        return email.utils.formatdate(timestamp, usegmt=True)
    now = int(time.time())
    cached = _date_cache
    if cached[0] != now:
        cached = _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return cached[1]


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Our responses leave in one write (see _send), and TCP_NODELAY keeps
    # any other write (errors from http.server itself) from waiting for the
    # client's delayed ACK (~40 ms a response on Linux).
    disable_nagle_algorithm = True
    server_version = "TensorFlowServing"
    sys_version = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        logging.vlog(1, "REST %s - " + format, self.address_string(), *args)

    def log_request(self, code="-", size="-"):
        if logging.vlog_is_on(1):
            super().log_request(code, size)

    def date_time_string(self, timestamp=None):
        return _http_date(timestamp)

    def _send(self, code: int, body: bytes, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.server.enable_cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        if self.server.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        if self.command == "HEAD" or not body:
            self.end_headers()
        elif self.request_version != "HTTP/0.9":
            # Headers and body in one write: one syscall, one segment.
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        else:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _handle(self):
        server = self.server
        with server.in_flight:
            try:
                body = self._read_body() if self.command == "POST" else b""
            except (ValueError, OSError):
                self.close_connection = True
                self._send(400, json_tensor.error_json("Malformed request body"))
                return
            path = self.path
            if server.metrics_path and path.split("?", 1)[0] == server.metrics_path:
                if self.command != "GET":
                    self._send(405, b"")
                    return
                text = server.metrics.prometheus_text().encode("utf-8")
                self._send(200, text, "text/plain; version=0.0.4")
                return
            if not http_rest_api_handler.PATH_REGEX.fullmatch(path.split("?", 1)[0]):
                self._send(404, b"<html><title>404 Not Found</title></html>",
                           "text/html")
                return
            with server.workers:
                code, out = server.rest_handler.process(self.command, path, body)
            self._send(code, out)

    do_GET = do_POST = _handle

    def do_OPTIONS(self):
        if not self.server.enable_cors:
            self._handle()
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers",
                         self.headers.get("Access-Control-Request-Headers", "*"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, TimeoutError):
            self.close_connection = True


class HttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, rest_handler, timeout_in_ms: int = 30000,
                 metrics=None, metrics_path: str | None = None,
                 host: str = "0.0.0.0", num_threads: int = 0,
                 enable_cors: bool = False):
        self.rest_handler = rest_handler
        # Connections get a thread each (keep-alive); --rest_api_num_threads
        # bounds how many requests run at once.
        self.workers = threading.BoundedSemaphore(max(1, num_threads or 64))
        self.enable_cors = enable_cors
        self.metrics = metrics
        self.metrics_path = metrics_path if metrics is not None else None
        self.in_flight = _InFlight()
        self.stopping = False
        handler = type("Handler", (_RequestHandler,), {
            "timeout": timeout_in_ms / 1000.0 if timeout_in_ms > 0 else None})
        super().__init__((host, port), handler)
        self._thread = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="http_server", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float) -> None:
        """Stops accepting, waits up to grace_seconds for requests in flight."""
        self.stopping = True
        self.shutdown()
        self.server_close()
        if not self.in_flight.wait_idle(grace_seconds):
            logging.warning("HTTP requests still in flight after %.1fs", grace_seconds)

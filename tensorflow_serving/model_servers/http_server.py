"""The HTTP/REST front end, as upstream's model_servers/http_server.cc.

Routes each request as upstream does: the Prometheus path (when monitoring
enables it) to the metrics page, any path matching /v1/... to
HttpRestApiHandler, with OPTIONS answering CORS preflights and, under
--rest_api_enable_cors_support, upstream's CORS headers on every /v1 reply;
anything else gets evhttp's 404 page. The transport (connections, limits,
deadlines, drain) is util/net_http/server.py.
"""

import os
import re

from absl import logging

from tensorflow_serving.model_servers import http_rest_api_handler
from tensorflow_serving.util.net_http import server as net_http

DEFAULT_MAX_CONNECTIONS = 4096
DEFAULT_READ_TIMEOUT_MS = 50000  # libevent's read timeout, which upstream keeps

_CORS_HEADERS = (("Access-Control-Allow-Origin", "*"),
                 ("Access-Control-Allow-Methods", "POST, GET"),
                 ("Access-Control-Allow-Headers", "Content-Type"))
_JSON = ("Content-Type", "application/json")
_PREFLIGHT_ORIGIN = re.compile(r"https?://")
# Descriptors kept back from the connection cap for gRPC, models and logs.
_RESERVED_DESCRIPTORS = 256


def _memory_bytes() -> int | None:
    """The memory this process may use: its cgroup's limit, else the RAM."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max",
                 "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as f:
                limits.append(int(f.read().strip()))
        except (OSError, ValueError):
            continue
    limits = [n for n in limits if n > 0]
    return min(limits) if limits else None


def default_max_body_bytes() -> int | None:
    """Half the memory the process may use (None if unknown: no cap).

    Upstream sets no body limit (libevent's default is unlimited), but it
    holds a body at least twice while serving it (the bytes and the parsed
    JSON), so it cannot serve a larger one in the same memory either.
    """
    memory = _memory_bytes()
    return memory // 2 if memory else None


def connection_limit(requested: int) -> int:
    """`requested`, lowered to what the open-file limit allows."""
    try:
        import resource  # pylint: disable=g-import-not-at-top
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return requested
    if soft == resource.RLIM_INFINITY:
        return requested
    allowed = max(1, soft - _RESERVED_DESCRIPTORS)
    if allowed < requested:
        logging.warning("--rest_api_max_connections=%d exceeds what the open "
                        "file limit (%d) allows; using %d", requested, soft,
                        allowed)
        return allowed
    return requested


class HttpServer:
    """Serves the REST API on `port`; start(), then stop(grace)."""

    def __init__(self, port: int, rest_handler,
                 metrics=None, metrics_path: str | None = None,
                 host: str | None = None, num_threads: int = 0,
                 enable_cors: bool = False,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 max_body_bytes: int = 0,
                 read_timeout_in_ms: int = DEFAULT_READ_TIMEOUT_MS):
        """read_timeout_in_ms bounds reading a request and writing its reply;
        max_body_bytes <= 0 means default_max_body_bytes(); host None listens
        on every address, IPv6 and IPv4. --rest_api_timeout_in_ms is the
        handler's: as upstream, it bounds the model run (RunOptions)."""
        self._rest_handler = rest_handler
        self._enable_cors = enable_cors
        self._metrics = metrics
        self._metrics_path = metrics_path if metrics is not None else None
        self._server = net_http.Server(
            self._dispatch, port, host=host,
            num_threads=max(1, num_threads or 4 * (os.cpu_count() or 1)),
            max_connections=connection_limit(max_connections),
            max_body_bytes=(max_body_bytes if max_body_bytes > 0
                            else default_max_body_bytes()),
            read_timeout=read_timeout_in_ms / 1000.0)

    @property
    def server_address(self):
        return self._server.address

    def start(self) -> None:
        self._server.start()

    def stop(self, grace_seconds: float) -> None:
        """Refuses new requests, waits up to grace_seconds for those in flight."""
        if not self._server.stop(grace_seconds):
            logging.warning("HTTP requests still in flight after %.1fs",
                            grace_seconds)

    def _api_reply(self, status: int, headers: list, body: bytes):
        if self._enable_cors:
            headers.extend(_CORS_HEADERS)
        return net_http.Response(status, headers, body)

    def _dispatch(self, request: net_http.Request) -> net_http.Response:
        if self._metrics_path and request.path == self._metrics_path:
            return self._prometheus(request)
        uri_path = request.uri_path
        if not http_rest_api_handler.PATH_REGEX.fullmatch(uri_path):
            logging.vlog(1, "Ignoring HTTP request: %s %s", request.method,
                         uri_path)
            return net_http.error_response(404)
        if request.method == "OPTIONS":
            # A CORS preflight: upstream answers it whether or not CORS
            # support is on, with no body and no Content-Type of its own.
            origin = request.header("Origin") or ""
            status = 200 if _PREFLIGHT_ORIGIN.search(origin) else 400
            return self._api_reply(status, [], b"")
        status, body = self._rest_handler.process(request.method, uri_path,
                                                  request.body)
        if status != 200:
            logging.vlog(1, "Error Processing HTTP/REST request: %s %s (%d)",
                         request.method, uri_path, status)
        return self._api_reply(status, [_JSON], body)

    def _prometheus(self, request) -> net_http.Response:
        headers = [("Content-Type", "text/plain")]
        if request.uri_path != self._metrics_path:
            text = (f"Unexpected path: {request.uri_path}. "
                    f"Should be {self._metrics_path}")
            return net_http.Response(400, headers, text.encode("utf-8"))
        text = self._metrics.prometheus_text()
        return net_http.Response(200, headers, text.encode("utf-8"))

"""The REST ceilings: HTTP/1.1 servers that answer every POST with fixed bytes.

What Python alone can do for REST on this machine, two ways, neither parsing
JSON nor running a model; our REST figures are reported as ratios to them,
as gRPC's are to canned_server:

  stdlib   the standard library's HTTP server (http.server, a thread per
           connection): a complete HTTP/1.1 server, as grpcio is a complete
           gRPC one. The issue's target is against this one.
  asyncio  a bare responder on asyncio's event loop: finds the end of the
           head and skips Content-Length bytes, nothing more. Not an HTTP
           server anyone would run; it shows what moving the bytes costs.

Both keep connections alive, as h2load --h1 uses them. Run as a script:
`canned_rest_server.py --port=N --response_file=F [--kind=stdlib|asyncio]`;
it prints "READY <port>" on stdout once it serves and stops on SIGTERM.
"""

import argparse
import asyncio
import http.server
import signal
import sys
import threading

_HEAD_END = b"\r\n\r\n"
# Heads larger than this are refused, so a peer cannot grow the buffer forever.
_MAX_HEAD_BYTES = 64 * 1024


def response_bytes(body: bytes, content_type: str = "application/json") -> bytes:
    """The whole HTTP/1.1 response sent for every request."""
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def _content_length(head: bytes) -> int | None:
    """The head's Content-Length (0 without one); None if it is not a number."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            value = value.strip()
            return int(value) if value.isdigit() else None
    return 0


def _wants_close(head: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection":
            return value.strip().lower() == b"close"
    return head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.0")


class CannedProtocol(asyncio.Protocol):
    """The asyncio responder's connection: answers each complete request in the order it came."""

    def __init__(self, response: bytes):
        self._response = response
        self._buffer = bytearray()
        self._transport = None

    def connection_made(self, transport):
        self._transport = transport

    def data_received(self, data):
        self._buffer += data
        while True:
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                if len(self._buffer) > _MAX_HEAD_BYTES:
                    self._transport.close()
                return
            head = bytes(self._buffer[:end])
            length = _content_length(head)
            if length is None:
                self._transport.write(b"HTTP/1.1 400 Bad Request\r\n"
                                      b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                self._transport.close()
                return
            total = end + len(_HEAD_END) + length
            if len(self._buffer) < total:
                return
            del self._buffer[:total]
            self._transport.write(self._response)
            if _wants_close(head):
                self._transport.close()
                return


async def serve_asyncio(port: int, response: bytes, ready=None, stop: asyncio.Event = None):
    """Serves on localhost:`port` (0 = any) until `stop` is set; calls
    ready(port) once listening."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: CannedProtocol(response), "127.0.0.1", port,
                                      reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    if ready:
        ready(bound)
    async with server:
        await (stop or asyncio.Event()).wait()


class _StdlibHandler(http.server.BaseHTTPRequestHandler):
    """Reads each request's body and writes the canned response."""

    protocol_version = "HTTP/1.1"   # keep-alive
    disable_nagle_algorithm = True  # as our server's sockets
    body = b""
    content_type = "application/json"

    def do_POST(self):  # pylint: disable=invalid-name
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            self.send_error(400, "bad Content-Length")
            return
        self.rfile.read(int(length))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        del format, args  # a line per request would cost more than the answer


def make_stdlib_server(port: int, body: bytes) -> http.server.ThreadingHTTPServer:
    """A standard-library server on localhost:`port` (0 = any), not yet serving."""
    handler = type("Handler", (_StdlibHandler,), {"body": body})
    server_class = type("Server", (http.server.ThreadingHTTPServer,), {
        # The default listen backlog of 5 drops the connections h2load opens
        # at once beyond it, and h2load waits for them for good.
        "request_queue_size": 128,
        "daemon_threads": True,
    })
    return server_class(("127.0.0.1", port), handler)


def _ready(port):
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--response_file", required=True,
                        help="the JSON body every request is answered with")
    parser.add_argument("--kind", choices=("stdlib", "asyncio"), default="stdlib")
    args = parser.parse_args(argv)
    with open(args.response_file, "rb") as f:
        body = f.read()
    if args.kind == "stdlib":
        server = make_stdlib_server(args.port, body)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        _ready(server.server_address[1])
        while not stop.wait(3600):
            pass
        server.shutdown()
        server.server_close()
        return 0

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await serve_asyncio(args.port, response_bytes(body), _ready, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())

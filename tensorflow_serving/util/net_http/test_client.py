"""A raw-socket HTTP client for tests (upstream's net_http/client/test_client).

Sends bytes exactly as given, so tests can send what no well-behaved client
would, reads whatever comes back until the server closes, and splits it into
responses, refusing anything that is not a complete, well-formed one.
"""

import re
import selectors
import socket
import struct
import time

_TIMEOUT = 60.0


def read_until_closed(sock, timeout: float = _TIMEOUT) -> bytes:
    """Everything `sock` receives until the peer closes (or resets) it."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def exchange(port: int, raw: bytes, host: str = "127.0.0.1",
             timeout: float = _TIMEOUT) -> bytes:
    """Sends `raw` on a new connection; returns all received until closed."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        return read_until_closed(sock, timeout)


def host_has_ipv6() -> bool:
    """Whether this host can use IPv6 loopback (::1)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


class Conversation:
    """What one connection brought back: `data`, and whether it ended in a
    reset (`reset`) rather than a close."""

    def __init__(self, data: bytes, reset: bool):
        self.data = data
        self.reset = reset


def converse(port: int, pieces, *, host: str = "127.0.0.1", timeout: float = _TIMEOUT,
             half_close: bool = True, until=None) -> Conversation:
    """Sends `pieces` in order (one send() each at least) while reading
    whatever comes back, so a server that answers before the request is all
    sent (an error, a 413) never deadlocks the two. Then, with `half_close`,
    shuts the sending side, and reads until the server closes; `until`
    (called with the bytes so far) ends the reading earlier, with a reset.

    Raises:
      TimeoutError: the server neither closed nor satisfied `until` within
        `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    received = bytearray()
    queue = [memoryview(p) for p in pieces if p]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            sending = True
            while True:
                if sending and not queue:
                    sending = False
                    if half_close:
                        try:
                            sock.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                    selector.modify(sock, selectors.EVENT_READ)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no end after {timeout:g} s; got {bytes(received[:300])!r}")
                for _, mask in selector.select(remaining):
                    if mask & selectors.EVENT_READ:
                        try:
                            chunk = sock.recv(65536)
                        except BlockingIOError:
                            chunk = None
                        except ConnectionResetError:
                            return Conversation(bytes(received), True)
                        if chunk == b"":
                            return Conversation(bytes(received), False)
                        if chunk:
                            received += chunk
                            if until is not None and until(bytes(received)):
                                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                struct.pack("ii", 1, 0))
                                return Conversation(bytes(received), False)
                    if mask & selectors.EVENT_WRITE and sending and queue:
                        try:
                            sent = sock.send(queue[0])
                        except BlockingIOError:
                            continue
                        except (BrokenPipeError, ConnectionResetError):
                            # The server stopped reading (it answered and
                            # closed): what it said is still to be read.
                            queue.clear()
                            continue
                        queue[0] = queue[0][sent:]
                        if not queue[0]:
                            queue.pop(0)


class Response:
    """One parsed HTTP response."""

    def __init__(self, version: str, status: int, reason: str, headers, body: bytes):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)], as sent
        self.body = body

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def __repr__(self):
        return f"<{self.version} {self.status} {self.reason} {self.body[:200]!r}>"


_STATUS_LINE = re.compile(r"HTTP/(1\.\d+) (\d{3}) ([^\r\n]*)")
_HEADER_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([^\r\n]*)")


def parse_responses(data: bytes, head_method: bool = False) -> list[Response]:
    """Splits `data` into complete, well-formed responses.

    `head_method`: the request may have been a HEAD, whose answer has a
    Content-Length but no body (told apart by what follows its head).

    Raises:
      ValueError: bytes that are not whole responses, or a malformed one.
    """
    responses = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError(f"an incomplete response head at {pos}: {data[pos:pos + 300]!r}")
        lines = data[pos:end].decode("latin-1").split("\r\n")
        status_line = _STATUS_LINE.fullmatch(lines[0])
        if not status_line:
            raise ValueError(f"a bad status line: {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            header = _HEADER_LINE.fullmatch(line)
            if not header:
                raise ValueError(f"a bad header line: {line!r}")
            headers.append((header.group(1), header.group(2)))
        status = int(status_line.group(2))
        pos = end + 4
        response = Response(status_line.group(1), status, status_line.group(3), headers, b"")
        if status < 200 or status in (204, 304):
            if response.header("Content-Length"):
                raise ValueError(f"a {status} with a Content-Length")
            responses.append(response)
            continue
        lengths = response.header("Content-Length")
        if len(lengths) != 1 or not lengths[0].isdigit():
            raise ValueError(f"Content-Length {lengths} in {lines}")
        length = int(lengths[0])
        rest = data[pos:]
        if head_method and length and (not rest or rest.startswith(b"HTTP/1.")):
            length = 0  # a HEAD's answer
        if len(rest) < length:
            raise ValueError(f"a body cut short: {len(rest)} of {length} bytes in {lines}")
        response.body = data[pos:pos + length]
        pos += length
        responses.append(response)
    return responses

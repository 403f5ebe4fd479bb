"""HTTP/1.1 on the wire: request heads, chunked bodies, response heads.

What upstream's net_http server (tensorflow_serving/util/net_http/server/
internal/evhttp_request.cc) gets from libevent's evhttp: the request line and
headers, how long the body is, and the status line and headers of a reply,
including evhttp's answers of its own (its HTML error page, 501 for methods
it does not allow). Unlike evhttp it refuses a request whose body could be
read two ways (Content-Length headers that disagree, a Transfer-Encoding that
does not end in chunked) instead of picking one, rejects bytes that can never
start a request as soon as they arrive, and bounds what it buffers.

Parsing works on a growing bytearray so that a connection can call it again
as more bytes arrive; it never blocks and never reads a socket.
"""

import dataclasses
import email.utils
import html
import re
import time

MAX_HEAD_BYTES = 64 * 1024
# A chunk-size line with its extensions.
_MAX_CHUNK_LINE = 4096

# The methods upstream lets through to its handlers (it turns PATCH and
# OPTIONS on beside evhttp's defaults); anything else is answered 501.
ALLOWED_METHODS = frozenset(
    ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"))

# evhttp's Content-Type for a reply whose handler set none.
DEFAULT_CONTENT_TYPE = "text/html; charset=ISO-8859-1"

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[" + _TCHAR + rb"]+")
_NOT_TCHAR = re.compile(rb"[^" + _TCHAR + rb"]")
_VERSION = re.compile(rb"HTTP/(\d+)\.(\d+)")
_HEAD_END = re.compile(rb"\n\r?\n")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_CTL = re.compile(rb"[\x00-\x1f\x7f]")

# evhttp's reason phrases: its table where it has the code, else the name of
# the code's class (so 429 is "Client Error", as upstream sends it).
_PHRASES = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted",
    203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 305: "Use Proxy",
    307: "Temporary Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Time-out", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Large",
    415: "Unsupported Media Type", 416: "Requested range not satisfiable",
    417: "Expectation Failed",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Time-out",
    505: "HTTP Version not supported",
}
_CLASSES = {1: "Informational", 2: "Success", 3: "Redirection",
            4: "Client Error", 5: "Server Error"}


def reason(status: int) -> str:
    phrase = _PHRASES.get(status)
    if phrase is not None:
        return phrase
    return _CLASSES.get(status // 100, "Unknown Status Class")


class ProtocolError(Exception):
    """A request that cannot be served: answered with `status`, then closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass
class RequestHead:
    """A parsed request line and header block, with the body's framing."""
    method: str
    target: str
    version: tuple
    headers: list  # [(name, value)] in arrival order, names as sent
    content_length: int | None = None
    chunked: bool = False
    keep_alive: bool = True
    expect_continue: bool = False

    def header(self, name: str) -> str | None:
        """The first header called `name` (any case), as evhttp finds it."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def all_values(self, name: str) -> list:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    @property
    def uri_path(self) -> str:
        """Path and query (upstream's uri_path()); an absolute URI loses its
        scheme and authority, as evhttp's URI parser drops them."""
        target = self.target
        lowered = target[:8].lower()
        if lowered.startswith("http://") or lowered.startswith("https://"):
            rest = target[target.index("//") + 2:]
            cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0),
                      default=len(rest))
            target = rest[cut:]
            if not target.startswith("/"):
                target = "/" + target
        return target


def skip_blank_lines(buf, pos: int) -> int:
    """Skips the empty lines a client may send between requests."""
    while True:
        if buf.startswith(b"\r\n", pos):
            pos += 2
        elif buf.startswith(b"\n", pos):
            pos += 1
        else:
            return pos


def check_partial_request_line(buf, pos: int) -> None:
    """Raises ProtocolError when buf[pos:] (no line end yet) cannot begin a
    request line, so that garbage (a TLS handshake, binary noise) is answered
    at once instead of when the read deadline passes."""
    if buf[pos:] == b"\r":
        return
    end = buf.find(b" ", pos)
    method = buf[pos:end if end >= 0 else len(buf)]
    if _NOT_TCHAR.search(method):
        raise ProtocolError(400, "Malformed request line")
    if len(buf) - pos > MAX_HEAD_BYTES:
        raise ProtocolError(414, "Request line too long")


def _parse_request_line(line: bytes):
    line = line.rstrip(b"\r").rstrip(b" ")
    method, sp, rest = line.partition(b" ")
    target, sp2, version = rest.rpartition(b" ")
    if not sp:
        raise ProtocolError(400, "Malformed request line")
    if not sp2 or not target.strip(b" "):
        # "GET /" with no version: an HTTP/0.9 request.
        raise ProtocolError(400, "Malformed request line: no HTTP version")
    if not _TOKEN.fullmatch(method):
        raise ProtocolError(400, "Malformed request line")
    m = _VERSION.fullmatch(version)
    if not m:
        raise ProtocolError(400, "Malformed request line: bad HTTP version")
    major, minor = int(m.group(1)), int(m.group(2))
    if major > 1:
        raise ProtocolError(400, f"Unsupported HTTP version {major}.{minor}")
    target = target.strip(b" ")
    if _CTL.search(target):
        raise ProtocolError(400, "Malformed request target")
    return method.decode("ascii"), target.decode("latin-1"), (major, minor)


def _parse_header_lines(block: bytes) -> list:
    headers = []
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            # An obsolete folded continuation: evhttp joins it to the
            # previous value with one space, and so do we.
            if not headers:
                raise ProtocolError(400, "Malformed header line")
            name, value = headers[-1]
            more = line.strip(b" \t").decode("latin-1")
            headers[-1] = (name, f"{value} {more}")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            # Includes whitespace before the colon, which proxies read
            # differently (RFC 9112 section 5.1).
            raise ProtocolError(400, "Malformed header line")
        headers.append((name.decode("ascii"),
                        value.strip(b" \t").decode("latin-1")))
    return headers


def _content_length(values: list) -> int | None:
    if not values:
        return None
    lengths = set()
    for value in values:
        for item in value.split(","):
            item = item.strip(" \t")
            if not _DIGITS.fullmatch(item):
                raise ProtocolError(400, f"Invalid Content-Length: {value[:40]!r}")
            lengths.add(int(item))
    if len(lengths) > 1:
        raise ProtocolError(400, "Conflicting Content-Length headers")
    return lengths.pop()


def _tokens(values: list) -> list:
    return [t.strip(" \t").lower() for v in values for t in v.split(",")
            if t.strip(" \t")]


def _frame(head: RequestHead) -> None:
    """Sets the body framing and connection persistence from the headers."""
    codings = [c for c in _tokens(head.all_values("Transfer-Encoding"))
               if c != "identity"]
    length = _content_length(head.all_values("Content-Length"))
    connection = _tokens(head.all_values("Connection"))
    if head.version >= (1, 1):
        head.keep_alive = "close" not in connection
    else:
        head.keep_alive = "keep-alive" in connection
    if codings:
        if codings[-1] != "chunked":
            raise ProtocolError(
                400, "Transfer-Encoding must end with chunked")
        if codings != ["chunked"]:
            raise ProtocolError(
                501, f"Unsupported Transfer-Encoding: {', '.join(codings)}")
        head.chunked = True
        if length is not None:
            # Both framings: the chunked one wins (RFC 9112 section 6.3), and
            # the connection is not reused, so nothing can be smuggled.
            head.keep_alive = False
    else:
        head.content_length = length
    expect = head.header("Expect")
    if expect is not None and head.version >= (1, 1):
        if expect.strip().lower() != "100-continue":
            raise ProtocolError(417, f"Unsupported Expect: {expect[:40]}")
        head.expect_continue = True


def parse_head(buf, pos: int, scan_from: int):
    """Parses a request head starting at buf[pos:].

    Returns (head, end) with end just past the blank line, or (None, scan_from)
    when more bytes are needed, where scan_from is where to resume looking for
    the end of the head (so a head that trickles in is scanned once).
    Raises ProtocolError for a request that cannot be served.
    """
    line_end = buf.find(b"\n", pos)
    if line_end < 0:
        check_partial_request_line(buf, pos)
        return None, pos
    method, target, version = _parse_request_line(bytes(buf[pos:line_end]))
    m = _HEAD_END.search(buf, max(scan_from, line_end))
    if m is None:
        if len(buf) - pos > MAX_HEAD_BYTES:
            raise ProtocolError(431, "Request header fields too large")
        return None, max(line_end, len(buf) - 3)
    end = m.end()
    if end - pos > MAX_HEAD_BYTES:
        raise ProtocolError(431, "Request header fields too large")
    headers = _parse_header_lines(bytes(buf[line_end + 1:m.start() + 1]))
    head = RequestHead(method, target, version, headers)
    if method not in ALLOWED_METHODS:
        raise ProtocolError(501, f"Method {method[:20]} not implemented")
    _frame(head)
    return head, end


class ChunkedDecoder:
    """Decodes a chunked body incrementally into `body`, up to `limit` bytes."""

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self, limit: int | None):
        self.body = bytearray()
        self._limit = limit
        self._state = self._SIZE
        self._remaining = 0
        self._trailer_bytes = 0

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def feed(self, buf, pos: int) -> int:
        """Consumes what it can of buf[pos:]; returns the new position."""
        while self._state != self._DONE:
            if self._state == self._DATA:
                take = min(self._remaining, len(buf) - pos)
                if not take:
                    return pos
                self.body += memoryview(buf)[pos:pos + take]
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = self._DATA_END
                continue
            if self._state == self._DATA_END:
                if buf.startswith(b"\r\n", pos):
                    pos += 2
                elif buf.startswith(b"\n", pos):
                    pos += 1
                elif len(buf) - pos < 2 and buf[pos:] in (b"", b"\r"):
                    return pos
                else:
                    raise ProtocolError(400, "Malformed chunked body")
                self._state = self._SIZE
                continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > _MAX_CHUNK_LINE:
                    raise ProtocolError(400, "Malformed chunked body")
                return pos
            line = bytes(buf[pos:nl]).rstrip(b"\r")
            pos = nl + 1
            if self._state == self._TRAILER:
                self._trailer_bytes += len(line) + 2
                if self._trailer_bytes > MAX_HEAD_BYTES:
                    raise ProtocolError(431, "Chunked trailer too large")
                if not line:
                    self._state = self._DONE
                continue
            size = line.split(b";", 1)[0].strip(b" \t")
            if not _HEX.fullmatch(size):
                raise ProtocolError(400, "Malformed chunk size")
            size = int(size, 16)
            if not size:
                self._state = self._TRAILER
                continue
            if self._limit is not None and len(self.body) + size > self._limit:
                raise body_too_large(self._limit)
            self._remaining = size
            self._state = self._DATA
        return pos


def body_too_large(limit: int) -> ProtocolError:
    return ProtocolError(413, f"Request body is larger than the server's "
                              f"limit of {limit} bytes")


_date_cache = (0, "")


def http_date() -> str:
    """RFC 7231 date of now, formatted once a second (it is on every reply)."""
    global _date_cache  # pylint: disable=global-statement
    now = int(time.time())
    cached = _date_cache
    if cached[0] != now:
        cached = _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return cached[1]


def response_head(version: tuple, status: int, headers, content_length: int,
                  close: bool) -> bytes:
    """Status line and headers, in evhttp's order: the handler's headers, then
    Date, Content-Length and Connection."""
    major, minor = version if version >= (1, 0) else (1, 0)
    lines = [f"HTTP/{major}.{minor} {status} {reason(status)}"]
    has_type = False
    for name, value in headers:
        has_type = has_type or name.lower() == "content-type"
        lines.append(f"{name}: {value}")
    if not has_type and status >= 200 and status not in (204, 304):
        lines.append(f"Content-Type: {DEFAULT_CONTENT_TYPE}")
    lines.append(f"Date: {http_date()}")
    if status >= 200 and status not in (204, 304):
        lines.append(f"Content-Length: {content_length}")
    if close:
        lines.append("Connection: close")
    elif version < (1, 1):
        lines.append("Connection: keep-alive")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def error_page(status: int, message: str = "") -> tuple:
    """evhttp's error page (text/html), with `message` as a paragraph.

    Returns (headers, body)."""
    phrase = reason(status)
    detail = f"<P>{html.escape(message, quote=False)}</P>\n" if message else ""
    body = (f"<HTML><HEAD>\n<TITLE>{status} {phrase}</TITLE>\n</HEAD><BODY>\n"
            f"<H1>{phrase}</H1>\n{detail}</BODY></HTML>\n")
    return [("Content-Type", "text/html")], body.encode("utf-8")

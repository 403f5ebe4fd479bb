"""The C++ transport (http_server.cc) over real sockets: framing, limits,
deadlines, slots, gzip, drain.

Each test starts test_http_server (test_http_server.cc), whose routes echo,
wait for a command, reply later, fail or answer large bodies, and which
reports the transport's counters on its standard input and output.
"""

import gzip
import http.client
import json
import os
import socket
import struct
import subprocess
import threading
import time
import zlib

from absl.testing import absltest

from tensorflow_serving.test_util import test_util
from tensorflow_serving.util import runfiles_util
from tensorflow_serving.util.net_http import test_client

_BINARY = "tf_serving/tensorflow_serving/util/net_http/test_http_server"
# Bounds for waiting on conditions; generous so a loaded machine passes.
_WAIT = 30.0
_UNMETERED_BODY_BYTES = 64 * 1024


def read_response(sock, method="GET"):
    """Reads one response from `sock`: (status, headers dict, body)."""
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def without_date(data: bytes) -> bytes:
    """`data` with its Date header's value blanked."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = [b"Date: -" if line.startswith(b"Date: ") else line
             for line in head.split(b"\r\n")]
    return b"\r\n".join(lines) + sep + body


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads in /proc/pid/status")


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/pid/status")


class TestServer:
    """test_http_server in a child process."""

    def __init__(self, *flags):
        binary = runfiles_util.runfile(_BINARY)
        if binary is None:
            raise AssertionError(f"{_BINARY} is not in the runfiles")
        self.process = subprocess.Popen(
            [binary, *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise AssertionError(f"test_http_server did not start: {line!r}")
        self.port = int(line.split()[1])
        self._lock = threading.Lock()

    def command(self, line: str) -> dict:
        with self._lock:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            return json.loads(self.process.stdout.readline())

    def stats(self) -> dict:
        return self.command("stats")

    def close(self) -> None:
        """Ends the server; it must exit cleanly (AddressSanitizer's leak
        check included, under --config=asan)."""
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(_WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        self.process.stdout.close()
        if self.process.returncode != 0:
            raise AssertionError(f"test_http_server exited with {self.process.returncode}")


class ServerTestCase(absltest.TestCase):

    def start(self, *flags):
        self.server = TestServer(*flags)
        self.addCleanup(self.server.close)
        self.port = self.server.port
        return self.server

    def connect(self, timeout=_WAIT):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.addCleanup(sock.close)
        return sock

    def http(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=_WAIT)
        self.addCleanup(conn.close)
        return conn

    def exchange(self, raw: bytes) -> bytes:
        return test_client.exchange(self.port, raw, timeout=_WAIT)


class FramingTest(ServerTestCase):

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        self.start()
        conn = self.http()
        for i in range(5):
            conn.request("POST", f"/r{i}", body=b"x" * i)
            response = conn.getresponse()
            self.assertEqual(response.read(), f"POST /r{i} {i}".encode())
            self.assertEqual(response.getheader("Content-Type"), "text/plain")
            self.assertIsNone(response.getheader("Connection"))
        self.assertEqual(self.server.stats()["connections"], 1)

    def test_pipelined_requests_answered_in_order(self):
        self.start()
        data = self.exchange(
            b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3"
            b"\r\n\r\nxyz\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual([part.split(b"\r\n\r\n")[-1] for part in
                          data.split(b"HTTP/1.1 200 OK")[1:]],
                         [b"GET /a 0", b"POST /b 3", b"GET /c 0"])

    def test_reply_bytes(self):
        self.start()
        data = self.exchange(b"GET /x?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(without_date(data),
                         b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: -\r\n"
                         b"Content-Length: 12\r\nConnection: close\r\n\r\nGET /x?q=1 0")
        date = data.split(b"Date: ")[1].split(b"\r\n")[0].decode()
        self.assertRegex(date, r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")

    def test_error_page_bytes(self):
        self.start()
        data = self.exchange(b"BREW /pot HTTP/1.1\r\n\r\n")
        self.assertEqual(without_date(data),
                         b"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/html\r\n"
                         b"Date: -\r\nContent-Length: 137\r\nConnection: close\r\n\r\n"
                         b"<HTML><HEAD>\n<TITLE>501 Not Implemented</TITLE>\n</HEAD><BODY>\n"
                         b"<H1>Not Implemented</H1>\n<P>Method BREW not implemented</P>\n"
                         b"</BODY></HTML>\n")

    def test_chunked_body(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n")
        self.assertEqual(read_response(sock)[2], b"wikipedia")

    def test_large_body_arrives_intact(self):
        self.start()
        body = bytes(range(256)) * 40000  # ~10 MB
        conn = self.http()
        conn.request("POST", "/echo", body=body)
        self.assertEqual(conn.getresponse().read(), body)

    def test_large_reply(self):
        self.start()
        conn = self.http()
        conn.request("GET", "/big?n=20000000")
        response = conn.getresponse()
        self.assertEqual(response.read(), b"x" * 20000000)

    def test_headers_as_sent_and_folded(self):
        self.start()
        data = self.exchange(b"GET /headers HTTP/1.1\r\nX-A: one\r\n  two\r\n"
                             b"x-b:  3 \r\nConnection: close\r\n\r\n")
        self.assertTrue(data.endswith(b"\r\n\r\nX-A: one two\nx-b: 3\nConnection: close\n"),
                        data)

    def test_absolute_form_target_and_blank_lines(self):
        self.start()
        data = self.exchange(b"\r\n\r\nGET http://host:8501/v1/models/m?q HTTP/1.1\r\n"
                             b"Connection: close\r\n\r\n")
        self.assertTrue(data.endswith(b"GET /v1/models/m?q 0"), data)

    def test_http10(self):
        self.start()
        data = self.exchange(b"GET /old HTTP/1.0\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.0 200 OK\r\n"), data)
        self.assertIn(b"Connection: close\r\n", data)
        self.assertTrue(data.endswith(b"GET /old 0"))
        sock = self.connect()
        sock.sendall(b"GET /one HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        status, headers, body = read_response(sock)
        self.assertEqual((status, headers["connection"], body), (200, "keep-alive", b"GET /one 0"))

    def test_head_omits_the_body(self):
        self.start()
        data = self.exchange(b"HEAD /h HTTP/1.1\r\n\r\n"
                             b"GET /g HTTP/1.1\r\nConnection: close\r\n\r\n")
        head, get = data.split(b"HTTP/1.1 200 OK")[1:]
        self.assertIn(f"Content-Length: {len(b'HEAD /h 0')}\r\n".encode(), head)
        self.assertTrue(head.endswith(b"\r\n\r\n"), head)
        self.assertTrue(get.endswith(b"\r\n\r\nGET /g 0"), get)

    def test_continue_for_small_bodies(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"POST /c HTTP/1.1\r\nContent-Length: 2\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        self.assertEqual(sock.recv(100), b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"ok")
        self.assertEqual(read_response(sock, "POST")[2], b"POST /c 2")

    def test_rejected_requests(self):
        self.start()
        cases = [
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 26\r\n\r\n",
             b"400 Bad Request", b"Conflicting Content-Length headers"),
            (b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
             b"400 Bad Request", b"Invalid Content-Length: '-5'"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
             b"400 Bad Request", b"Transfer-Encoding must end with chunked"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
             b"501 Not Implemented", b"Unsupported Transfer-Encoding: gzip, chunked"),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"400 Bad Request",
             b"Unsupported HTTP version 2.0"),
            (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", b"400 Bad Request", b"Malformed header line"),
            (b"GET /a\x00b HTTP/1.1\r\n\r\n", b"400 Bad Request", b"Malformed request target"),
            (b"TRACE / HTTP/1.1\r\n\r\n", b"501 Not Implemented", b"Method TRACE"),
            (b"POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", b"417 Expectation Failed",
             b"Unsupported Expect: 200-ok"),
            (b"GET /" + b"a" * 70000, b"414 Request-URI Too Large", b"Request line too long"),
            (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 9000, b"431 Client Error",
             b"Request header fields too large"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             b"400 Bad Request", b"Malformed chunk size"),
        ]
        for raw, status, message in cases:
            data = self.exchange(raw)
            self.assertTrue(data.startswith(b"HTTP/1.1 " + status + b"\r\n"), (raw[:60], data))
            self.assertIn(b"<P>" + message, data)
            self.assertIn(b"Connection: close\r\n", data)
            self.assertEqual(data.count(b"HTTP/1.1 "), 1)
        self.assertEqual(self.server.stats()["handled"], 0)

    def test_conflicting_content_length_smuggles_nothing(self):
        self.start()
        data = self.exchange(b"POST /a HTTP/1.1\r\nContent-Length: 0\r\n"
                             b"Content-Length: 23\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data)
        self.assertIn(b"Conflicting Content-Length", data)
        self.assertEqual(data.count(b"HTTP/1.1"), 1)
        self.assertEqual(self.server.stats()["handled"], 0)

    def test_chunked_and_content_length_closes_after(self):
        self.start()
        data = self.exchange(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
                             b"GET /next HTTP/1.1\r\n\r\n")
        self.assertTrue(data.endswith(b"\r\n\r\nPOST /a 1"), data)
        self.assertIn(b"Connection: close\r\n", data)

    def test_garbage_is_answered_at_once(self):
        self.start("--read_timeout_ms=600000")
        for garbage in (bytes.fromhex("16030100c4010000c00303") + b"\x00" * 40,
                        b"GET /\r\n", b'{"instances": '):
            sock = self.connect()
            started = time.monotonic()
            sock.sendall(garbage)
            data = test_client.read_until_closed(sock, timeout=120)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request"), data)
            # Far below the 600 s read timeout: answered on sight.
            self.assertLess(time.monotonic() - started, 120)

    def test_handler_errors_are_500_without_details(self):
        self.start()
        for path in ("/throw", "/drop"):
            conn = self.http()
            conn.request("GET", path)
            response = conn.getresponse()
            self.assertEqual(response.status, 500, path)
            self.assertNotIn(b"secret", response.read())
        conn = self.http()
        conn.request("GET", "/after")
        self.assertEqual(conn.getresponse().read(), b"GET /after 0")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 0, "idle", _WAIT)


class LimitsTest(ServerTestCase):

    def test_content_length_over_the_cap_is_413_without_reading_it(self):
        self.start("--max_body_bytes=1000")
        sock = self.connect()
        sock.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n")
        status, headers, body = read_response(sock, "POST")
        self.assertEqual(status, 413)
        self.assertEqual(headers["connection"], "close")
        self.assertIn(b"limit of 1000 bytes", body)
        data = self.exchange(b"POST /x HTTP/1.1\r\n"
                             b"Content-Length: 99999999999999999999999\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data)
        # At the cap is fine.
        conn = self.http()
        conn.request("POST", "/x", body=b"a" * 1000)
        self.assertEqual(conn.getresponse().status, 200)

    def test_chunked_body_over_the_cap_is_413(self):
        self.start("--max_body_bytes=1000")
        sock = self.connect()
        sock.sendall(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            try:
                sock.sendall(b"190\r\n" + b"a" * 400 + b"\r\n")
            except ConnectionResetError:
                break
        self.assertEqual(read_response(sock, "POST")[0], 413)
        self.assertEqual(self.server.stats()["handled"], 0)

    def test_head_deadline_counts_from_the_first_byte(self):
        self.start("--read_timeout_ms=1000")
        sock = self.connect()
        started = time.monotonic()
        sock.sendall(b"POST /x HTTP/1.1\r\n")
        # Header bytes trickle in, each well within a second of the last, but
        # the head as a whole does not arrive within one.
        def trickle():
            for _ in range(600):
                try:
                    sock.send(b"X-A: b\r\n")
                except OSError:
                    return
                time.sleep(0.05)
        threading.Thread(target=trickle, daemon=True).start()
        data = test_client.read_until_closed(sock)
        elapsed = time.monotonic() - started
        self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Time-out"), data)
        self.assertIn(b"Request not received in time", data)
        self.assertGreaterEqual(elapsed, 0.9)
        # A per-read timeout would keep it for the whole 30 s trickle.
        self.assertLess(elapsed, 15.0)

    def test_idle_connection_closed_silently(self):
        self.start("--read_timeout_ms=500")
        sock = self.connect()
        self.assertEqual(test_client.read_until_closed(sock), b"")
        conn = self.http()
        conn.request("GET", "/after")
        self.assertEqual(conn.getresponse().status, 200)

    def test_idle_after_a_reply_closes_at_its_deadline(self):
        # The reply to a lone request is written by its handler's thread and
        # reaches the loop unannounced; the idle deadline still counts from
        # it, and the request stops counting as in flight.
        self.start("--read_timeout_ms=500")
        sock = self.connect()
        sock.sendall(b"GET /one HTTP/1.1\r\n\r\n")
        self.assertEqual(read_response(sock)[2], b"GET /one 0")
        replied = time.monotonic()
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 0, "idle", _WAIT)
        self.assertEqual(test_client.read_until_closed(sock), b"")
        self.assertLess(time.monotonic() - replied, 5.0)

    def test_half_closed_client_gets_its_reply(self):
        self.start()
        for path in ("/quick", "/async"):
            sock = self.connect()
            sock.sendall(f"GET {path} HTTP/1.1\r\n\r\n".encode())
            sock.shutdown(socket.SHUT_WR)
            if path == "/async":
                test_util.wait_for(lambda: self.server.stats()["pending"] == 1, "pending", _WAIT)
                self.server.command("release")
            data = test_client.read_until_closed(sock)
            self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data)
            self.assertTrue(data.endswith(path.encode()) or data.endswith(b" 0"), data)

    def test_body_deadline(self):
        self.start("--read_timeout_ms=500")
        sock = self.connect()
        sock.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
        data = test_client.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data)
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 0, "idle", _WAIT)

    def test_connection_cap_evicts_the_longest_idle(self):
        self.start("--max_connections=10")
        idle = [self.connect() for _ in range(30)]
        conn = self.http()
        conn.request("GET", "/served")
        self.assertEqual(conn.getresponse().status, 200)
        self.assertLessEqual(self.server.stats()["connections"], 10)
        # The first ones were closed to make room.
        self.assertEqual(test_client.read_until_closed(idle[0]), b"")

    def test_connection_cap_spares_requests_in_flight(self):
        self.start("--max_connections=2")
        busy = [self.connect() for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 2, "in flight", _WAIT)
        # No room and nothing to evict: the new one waits in the backlog.
        late = self.connect()
        late.sendall(b"GET /late HTTP/1.1\r\nConnection: close\r\n\r\n")
        late.settimeout(1.5)
        with self.assertRaises(socket.timeout):
            late.recv(100)
        self.server.command("open")
        for sock in busy:
            self.assertEqual(read_response(sock)[2], b"GET /wait 0")
        late.settimeout(_WAIT)
        self.assertTrue(test_client.read_until_closed(late).endswith(b"GET /late 0"))

    def test_idle_connections_cost_no_threads(self):
        self.start("--num_threads=2")
        pid = self.server.process.pid
        before = threads_of(pid)
        socks = [self.connect() for _ in range(300)]
        test_util.wait_for(lambda: self.server.stats()["connections"] == 300, "accepts", _WAIT)
        self.assertEqual(threads_of(pid), before)
        conn = self.http()
        conn.request("GET", "/x")
        self.assertEqual(conn.getresponse().status, 200)
        del socks

    def test_large_bodies_wait_for_a_slot_small_ones_do_not(self):
        self.start("--num_threads=2")
        big = _UNMETERED_BODY_BYTES + 1
        uploads = []
        for _ in range(2):
            sock = self.connect()
            sock.sendall(f"POST /u HTTP/1.1\r\nContent-Length: {big}\r\n\r\n"
                         .encode() + b"a" * 10)
            uploads.append(sock)
        test_util.wait_for(lambda: self.server.stats()["free_slots"] == 0, "slots taken", _WAIT)
        third = self.connect()
        third.sendall(f"POST /u HTTP/1.1\r\nContent-Length: {big}\r\n"
                      "Expect: 100-continue\r\n\r\n".encode())
        test_util.wait_for(lambda: self.server.stats()["slot_waiters"] == 1, "a waiter", _WAIT)
        # Small requests still go through while large ones wait.
        conn = self.http()
        conn.request("POST", "/small", body=b"s" * 100)
        self.assertEqual(conn.getresponse().status, 200)
        # One upload finishes: its slot goes to the third, which is told to
        # go on.
        uploads[0].sendall(b"a" * (big - 10))
        self.assertEqual(read_response(uploads[0], "POST")[0], 200)
        self.assertEqual(third.recv(100), b"HTTP/1.1 100 Continue\r\n\r\n")
        third.sendall(b"b" * big)
        self.assertEqual(read_response(third, "POST")[2], f"POST /u {big}".encode())
        uploads[1].close()
        test_util.wait_for(lambda: self.server.stats()["free_slots"] == 2, "slots back", _WAIT)

    def test_async_replies_release_the_thread(self):
        self.start("--num_threads=1")
        socks = [self.connect() for _ in range(3)]
        for i, sock in enumerate(socks):
            sock.sendall(f"GET /async{i} HTTP/1.1\r\n\r\n".encode())
        # One thread, yet all three are with the handler at once.
        test_util.wait_for(lambda: self.server.stats()["pending"] == 3, "three requests", _WAIT)
        self.server.command("release")
        self.assertEqual([read_response(s)[2] for s in socks],
                         [b"/async0", b"/async1", b"/async2"])

    def test_slow_handlers_do_not_stall_other_connections(self):
        self.start("--num_threads=2")
        sock = self.connect()
        sock.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 1, "in flight", _WAIT)
        for i in range(20):
            conn = self.http()
            conn.request("GET", f"/quick{i}")
            self.assertEqual(conn.getresponse().read(), f"GET /quick{i} 0".encode())
        self.server.command("open")
        self.assertEqual(read_response(sock)[2], b"GET /wait 0")


def gzip_with_size(payload: bytes, declared: int) -> bytes:
    """A gzip member of `payload` whose footer declares `declared` bytes."""
    data = gzip.compress(payload)
    return data[:-4] + struct.pack("<I", declared & 0xFFFFFFFF)


def gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    parts.append(compressor.flush())
    return b"".join(parts)


class GzipTest(ServerTestCase):

    def post(self, body: bytes, encoding: str | None, path="/echo"):
        conn = self.http()
        headers = {"Content-Encoding": encoding} if encoding else {}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def test_gzip_bodies_are_inflated(self):
        self.start()
        payload = b'{"instances": [1.0, 2.0]}' * 1000
        self.assertEqual(self.post(gzip.compress(payload), "gzip"), (200, payload))
        # As upstream: any Content-Encoding that contains "gzip", case and all.
        self.assertEqual(self.post(gzip.compress(payload), "x-gzip"), (200, payload))
        self.assertEqual(self.post(gzip.compress(payload), "GZIP"),
                         (200, gzip.compress(payload)))
        self.assertEqual(self.post(payload, None), (200, payload))
        # Chunked too, and bodies that needed a slot.
        big = os.urandom(300000)
        sock = self.connect()
        data = gzip.compress(big)
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Encoding: gzip\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" +
                     f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
        self.assertEqual(read_response(sock, "POST")[2], big)

    def test_undecodable_gzip_reaches_the_handler_empty(self):
        # Upstream's handlers then read no body (a JSON API answers that).
        self.start()
        payload = b"hello " * 100
        for body in (b"not gzip at all, just text",
                     gzip.compress(payload)[:-9],           # truncated
                     gzip.compress(payload) + b"trailing",  # more than one member
                     gzip_with_size(payload, len(payload) - 1),
                     gzip_with_size(payload, len(payload) + 1)):
            self.assertEqual(self.post(body, "gzip"), (200, b""), body[:20])
        crc = bytearray(gzip.compress(payload))
        crc[-8] ^= 1
        self.assertEqual(self.post(bytes(crc), "gzip"), (200, b""))

    def test_gzip_bomb_is_413_without_inflating_it(self):
        self.start("--max_body_bytes=1000000")
        bomb = gzip_of_zeros(256 << 20)
        self.assertLess(len(bomb), 1000000)
        pid = self.server.process.pid
        before = peak_rss(pid)
        status, body = self.post(bomb, "gzip")
        self.assertEqual(status, 413)
        self.assertIn(b"limit of 1000000 bytes", body)
        # One that lies about its size is cut off at what it declares.
        status, body = self.post(gzip_with_size(bytes(256 << 20), 1000), "gzip")
        self.assertEqual((status, body), (200, b""))
        grown = peak_rss(pid) - before
        self.assertLess(grown, 64 << 20, f"peak RSS grew by {grown >> 20} MiB")
        # At the limit is fine.
        payload = b"ab" * 500000
        self.assertEqual(self.post(gzip.compress(payload), "gzip"), (200, payload))
        status, _ = self.post(gzip.compress(payload + b"c"), "gzip")
        self.assertEqual(status, 413)


class StopTest(ServerTestCase):

    def refused(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return False
        except OSError:
            return True

    def test_stop_drains_requests_in_flight_and_refuses_new_ones(self):
        self.start()
        busy = self.connect()
        busy.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        idle = self.connect()
        # A body still arriving counts as in flight too.
        uploading = self.connect()
        uploading.sendall(b"POST /up HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 2, "in flight", _WAIT)
        self.assertEqual(self.server.command(f"stop {_WAIT}"), {})
        test_util.wait_for(self.refused, "listener closed", _WAIT)
        self.assertEqual(test_client.read_until_closed(idle), b"")
        uploading.sendall(b"cd")
        status, headers, body = read_response(uploading, "POST")
        self.assertEqual((status, body, headers["connection"]), (200, b"POST /up 4", "close"))
        self.server.command("open")
        status, headers, body = read_response(busy)
        self.assertEqual((body, headers["connection"]), (b"GET /wait 0", "close"))
        self.assertEqual(self.server.command("stopped"), {"drained": True})

    def test_stop_gives_up_after_grace(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 1, "in flight", _WAIT)
        started = time.monotonic()
        self.server.command("stop 0.2")
        self.assertEqual(self.server.command("stopped"), {"drained": False})
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(test_client.read_until_closed(sock), b"")
        self.server.command("open")


class ListenTest(absltest.TestCase):

    def test_dual_stack_by_default(self):
        server = TestServer("--host=")
        self.addCleanup(server.close)
        request = b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n"
        hosts = ["127.0.0.1"] + (["::1"] if test_client.host_has_ipv6() else [])
        for host in hosts:
            data = test_client.exchange(server.port, request, host=host, timeout=_WAIT)
            self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"), (host, data))

    def test_port_in_use_is_an_error(self):
        server = TestServer()
        self.addCleanup(server.close)
        binary = runfiles_util.runfile(_BINARY)
        second = subprocess.run([binary, "--host=127.0.0.1", f"--port={server.port}"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=_WAIT, check=False)
        self.assertEqual(second.returncode, 1)
        self.assertIn("Address already in use", second.stderr)


if __name__ == "__main__":
    absltest.main()

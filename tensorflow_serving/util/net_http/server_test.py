"""The transport in-process: framing, limits, deadlines, slots, drain."""

import concurrent.futures
import errno
import http.client
import socket
import threading
import time
from unittest import mock

from absl.testing import absltest

from tensorflow_serving.test_util import test_util
from tensorflow_serving.util.net_http import server as server_lib
from tensorflow_serving.util.net_http import test_client

# Bounds for waiting on conditions; generous so a loaded machine passes.
_WAIT = 30.0


def read_response(sock, method="GET"):
    """Reads one response from `sock`: (status, headers dict, body)."""
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


class Echo:
    """A handler that records requests and echoes their size."""

    def __init__(self):
        self.requests = []
        self.gate = None  # an Event a request waits on when set

    def __call__(self, request):
        self.requests.append((request.method, request.uri_path, request.body))
        if self.gate is not None and request.path == "/wait":
            self.gate.wait(_WAIT)
        body = f"{request.method} {request.uri_path} {len(request.body)}".encode()
        return server_lib.Response(200, [("Content-Type", "text/plain")], body)


class ServerTest(absltest.TestCase):

    def start_gated(self, **kwargs) -> threading.Event:
        """Starts an Echo server whose /wait requests wait for the event."""
        gate = threading.Event()
        self.addCleanup(gate.set)
        handler = Echo()
        handler.gate = gate
        self.start(handler, **kwargs)
        return gate

    def start(self, handler=None, **kwargs):
        kwargs.setdefault("num_threads", 2)
        kwargs.setdefault("read_timeout", 30.0)
        self.handler = handler or Echo()
        self.server = server_lib.Server(self.handler, 0, host="127.0.0.1", **kwargs)
        self.server.start()
        self.addCleanup(self.server.stop, 0)
        self.port = self.server.address[1]
        return self.server

    def connect(self, timeout=_WAIT):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.addCleanup(sock.close)
        return sock

    def http(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=_WAIT)
        self.addCleanup(conn.close)
        return conn

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
        sock = self.connect()
        sock.sendall(b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3"
                     b"\r\n\r\nxyzGET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = test_client.read_until_closed(sock)
        self.assertEqual([part.split(b"\r\n\r\n")[-1] for part in
                          data.split(b"HTTP/1.1 200 OK")[1:]],
                         [b"GET /a 0", b"POST /b 3", b"GET /c 0"])

    def test_chunked_body(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n")
        self.assertEqual(read_response(sock)[2], b"POST /c 9")
        self.assertEqual(self.handler.requests[0][2], b"wikipedia")

    def test_large_body_arrives_intact(self):
        self.start()
        body = bytes(range(256)) * 40000  # ~10 MB
        conn = self.http()
        conn.request("POST", "/big", body=body)
        self.assertEqual(conn.getresponse().read(), f"POST /big {len(body)}".encode())
        self.assertEqual(self.handler.requests[0][2], body)

    def test_content_length_over_the_cap_is_413_without_reading_it(self):
        self.start(max_body_bytes=1000)
        sock = self.connect()
        sock.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n")
        status, headers, body = read_response(sock, "POST")
        self.assertEqual(status, 413)
        self.assertEqual(headers["connection"], "close")
        self.assertIn(b"1000 bytes", body)
        # At the cap is fine.
        conn = self.http()
        conn.request("POST", "/x", body=b"a" * 1000)
        self.assertEqual(conn.getresponse().status, 200)

    def test_chunked_body_over_the_cap_is_413(self):
        self.start(max_body_bytes=1000)
        sock = self.connect()
        sock.sendall(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            sock.sendall(b"190\r\n" + b"a" * 400 + b"\r\n")
        self.assertEqual(read_response(sock, "POST")[0], 413)
        self.assertEqual(self.handler.requests, [])

    def test_conflicting_content_length_smuggles_nothing(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 0\r\n"
                     b"Content-Length: 23\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n")
        data = test_client.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data)
        self.assertIn(b"Conflicting Content-Length", data)
        self.assertEqual(data.count(b"HTTP/1.1"), 1)
        self.assertEqual(self.handler.requests, [])

    def test_garbage_is_answered_at_once(self):
        self.start(read_timeout=600.0)
        for garbage in (bytes.fromhex("16030100c4010000c00303") + b"\x00" * 40,
                        b"GET /\r\n"):
            sock = self.connect()
            started = time.monotonic()
            sock.sendall(garbage)
            data = test_client.read_until_closed(sock, timeout=120)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request"), data)
            # Far below the 600 s read timeout: answered on sight.
            self.assertLess(time.monotonic() - started, 120)

    def test_head_deadline_counts_from_the_first_byte(self):
        self.start(read_timeout=1.0)
        sock = self.connect()
        started = time.monotonic()
        sock.sendall(b"POST /x HTTP/1.1\r\n")
        # Trickle header bytes: each arrives well within a second of the
        # last, but the head as a whole does not arrive within one.
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
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data)
        self.assertGreaterEqual(elapsed, 0.9)
        # A per-read timeout would keep it for the whole 30 s trickle.
        self.assertLess(elapsed, 15.0)

    def test_idle_connection_closed_silently(self):
        self.start(read_timeout=0.5)
        sock = self.connect()
        self.assertEqual(test_client.read_until_closed(sock), b"")
        conn = self.http()
        conn.request("GET", "/after")
        self.assertEqual(conn.getresponse().status, 200)

    def test_body_deadline(self):
        self.start(read_timeout=0.5)
        sock = self.connect()
        sock.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
        data = test_client.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data)
        self.assertEqual(self.server.stats()["in_flight"], 0)

    def test_connection_cap_evicts_the_longest_idle(self):
        self.start(max_connections=10)
        idle = [self.connect() for _ in range(30)]
        conn = self.http()
        conn.request("GET", "/served")
        self.assertEqual(conn.getresponse().status, 200)
        self.assertLessEqual(self.server.stats()["connections"], 10)
        # The first ones were closed to make room.
        self.assertEqual(test_client.read_until_closed(idle[0]), b"")

    def test_idle_connections_cost_no_threads(self):
        self.start(num_threads=2)
        before = threading.active_count()
        socks = [self.connect() for _ in range(300)]
        test_util.wait_for(lambda: self.server.stats()["connections"] == 300, "accepts", _WAIT)
        self.assertEqual(threading.active_count(), before)
        conn = self.http()
        conn.request("GET", "/x")
        self.assertEqual(conn.getresponse().status, 200)
        del socks

    def test_large_bodies_wait_for_a_slot_small_ones_do_not(self):
        self.start(num_threads=2)
        big = server_lib.UNMETERED_BODY_BYTES + 1
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
        third.settimeout(_WAIT)
        self.assertEqual(third.recv(100), b"HTTP/1.1 100 Continue\r\n\r\n")
        third.sendall(b"b" * big)
        self.assertEqual(read_response(third, "POST")[2], f"POST /u {big}".encode())

    def test_handler_timeout_answers_in_its_place(self):
        gate = self.start_gated(
            request_timeout=0.3, on_request_timeout=lambda r:
            server_lib.Response(504, [], f"late {r.uri_path}".encode()))
        sock = self.connect()
        sock.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        status, headers, body = read_response(sock)
        self.assertEqual((status, body), (504, b"late /wait"))
        self.assertEqual(headers["connection"], "close")
        gate.set()
        conn = self.http()
        conn.request("GET", "/next")
        self.assertEqual(conn.getresponse().read(), b"GET /next 0")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 0, "idle", _WAIT)

    def test_future_handlers_release_the_thread(self):
        pending = []

        def handler(request):
            future = concurrent.futures.Future()
            pending.append((request, future))
            return future
        self.start(handler, num_threads=1)
        socks = [self.connect() for _ in range(3)]
        for i, sock in enumerate(socks):
            sock.sendall(f"GET /f{i} HTTP/1.1\r\n\r\n".encode())
        # One thread, yet all three are with the handler at once.
        test_util.wait_for(lambda: len(pending) == 3, "three requests", _WAIT)
        for request, future in reversed(pending):
            threading.Thread(target=future.set_result, args=(server_lib.Response(
                200, [], request.uri_path.encode()),)).start()
        self.assertEqual([read_response(s)[2] for s in socks],
                         [b"/f0", b"/f1", b"/f2"])

    def test_handler_errors_are_500_without_details(self):
        def handler(request):
            raise RuntimeError("/secret/path")
        self.start(handler)
        conn = self.http()
        conn.request("GET", "/x")
        response = conn.getresponse()
        self.assertEqual(response.status, 500)
        self.assertNotIn(b"secret", response.read())

    def test_a_bug_costs_one_connection_not_a_thread(self):
        self.start(num_threads=1)
        real = server_lib.wire.parse_head
        calls = []

        def broken_once(*args):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("bug")
            return real(*args)
        with mock.patch.object(server_lib.wire, "parse_head", broken_once):
            sock = self.connect()
            sock.sendall(b"GET /a HTTP/1.1\r\n\r\n")
            self.assertEqual(test_client.read_until_closed(sock), b"")
            conn = self.http()
            conn.request("GET", "/b")
            self.assertEqual(conn.getresponse().read(), b"GET /b 0")

    def test_head_omits_the_body(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"HEAD /h HTTP/1.1\r\n\r\n"
                     b"GET /g HTTP/1.1\r\nConnection: close\r\n\r\n")
        head, get = test_client.read_until_closed(sock).split(b"HTTP/1.1 200 OK")[1:]
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

    def test_http10(self):
        self.start()
        sock = self.connect()
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        data = test_client.read_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.0 200 OK\r\n"), data)
        self.assertTrue(data.endswith(b"GET /old 0"))

    def test_stop_drains_requests_in_flight_and_refuses_new_ones(self):
        gate = self.start_gated()
        busy = self.connect()
        busy.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        idle = self.connect()
        # A body still arriving counts as in flight too.
        uploading = self.connect()
        uploading.sendall(b"POST /up HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 2, "in flight", _WAIT)
        result = []
        stopper = threading.Thread(target=lambda: result.append(self.server.stop(_WAIT)))
        stopper.start()

        def refused():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return False
            except OSError:
                return True
        test_util.wait_for(refused, "listener closed", _WAIT)
        self.assertEqual(test_client.read_until_closed(idle), b"")
        uploading.sendall(b"cd")
        status, headers, body = read_response(uploading, "POST")
        self.assertEqual((status, body, headers["connection"]), (200, b"POST /up 4", "close"))
        gate.set()
        self.assertEqual(read_response(busy)[2], b"GET /wait 0")
        stopper.join(_WAIT)
        self.assertEqual(result, [True])

    def test_stop_gives_up_after_grace(self):
        self.start_gated()
        sock = self.connect()
        sock.sendall(b"GET /wait HTTP/1.1\r\n\r\n")
        test_util.wait_for(lambda: self.server.stats()["in_flight"] == 1, "in flight", _WAIT)
        self.assertFalse(self.server.stop(0.2))


class ListenTest(absltest.TestCase):

    def test_dual_stack_by_default(self):
        sock = server_lib.listen(None, 0)
        self.addCleanup(sock.close)
        port = sock.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        if test_client.host_has_ipv6():
            self.assertEqual(sock.getsockname()[0], "::")
            socket.create_connection(("::1", port), timeout=5).close()
        else:
            self.assertEqual(sock.getsockname()[0], "0.0.0.0")

    def test_falls_back_to_ipv4_without_ipv6(self):
        error = OSError(errno.EAFNOSUPPORT, "Address family not supported")
        with mock.patch.object(server_lib, "_dual_stack_socket", side_effect=error):
            sock = server_lib.listen(None, 0)
        self.addCleanup(sock.close)
        self.assertEqual(sock.getsockname()[0], "0.0.0.0")

    def test_port_in_use_is_an_error(self):
        sock = server_lib.listen(None, 0)
        self.addCleanup(sock.close)
        with self.assertRaises(OSError):
            server_lib.listen(None, sock.getsockname()[1])


if __name__ == "__main__":
    absltest.main()

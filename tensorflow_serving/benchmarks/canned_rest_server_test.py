"""Tests for canned_rest_server: every POST on a kept-alive connection gets the
canned body, from either kind of server."""

import asyncio
import http.client
import socket
import threading

from absl.testing import absltest

from tensorflow_serving.benchmarks import canned_rest_server

_BODY = b'{"predictions": [[0.5]]}'


class _Behaviour:
    """The tests both servers pass; subclasses start one in setUp (self.port)."""

    def test_kept_alive_posts_get_the_canned_body(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(connection.close)
        for body in (b'{"instances": [[1.0]]}', b"x" * 100_000, b""):
            connection.request("POST", "/v1/models/m:predict", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.getheader("Content-Type"), "application/json")
            self.assertEqual(response.read(), _BODY)

    def test_a_body_split_over_writes_is_answered_once(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
            sock.sendall(b"def")
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            self.assertEqual(received.count(b"HTTP/1.1 200 "), 2)
            self.assertTrue(received.endswith(_BODY))

    def test_a_bad_content_length_is_refused(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n")
            self.assertTrue(sock.recv(65536).startswith(b"HTTP/1.1 400 "))


class StdlibTest(_Behaviour, absltest.TestCase):

    def setUp(self):
        super().setUp()
        server = canned_rest_server.make_stdlib_server(0, _BODY)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        self.port = server.server_address[1]

        def stop():
            server.shutdown()
            server.server_close()
            thread.join(10)

        self.addCleanup(stop)


class AsyncioTest(_Behaviour, absltest.TestCase):

    def setUp(self):
        super().setUp()
        loop = asyncio.new_event_loop()
        started = threading.Event()
        ports = []
        stop_event = []

        def ready(port):
            ports.append(port)
            started.set()

        async def run():
            stop_event.append(asyncio.Event())
            await canned_rest_server.serve_asyncio(
                0, canned_rest_server.response_bytes(_BODY), ready, stop_event[0])

        thread = threading.Thread(target=loop.run_until_complete, args=(run(),))
        thread.start()
        self.assertTrue(started.wait(10))
        self.port = ports[0]

        def stop():
            loop.call_soon_threadsafe(stop_event[0].set)
            thread.join(10)
            loop.close()

        self.addCleanup(stop)


if __name__ == "__main__":
    absltest.main()

"""End-to-end: 2,000 slow connections against the real binary's REST port.

They must cost the server no threads, be dropped at their deadline, and never
stall a steady gRPC and REST client, with or without a connection cap below
their number.
"""

import os
import resource
import selectors
import socket
import tempfile
import time

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.model_servers.test_util import steady_client
from tensorflow_serving.test_util import test_util

MODEL = "half_plus_two"
CONNECTIONS = 2000
_WAIT = 120.0
# A request head that never ends.
_SLOW_HEAD = b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: x\r\n"


def raise_open_file_limit(needed: int) -> int:
    """Raises this process's (and its children's) soft limit; returns how many
    connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, needed + 1024)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return min(needed, soft - 512)


def proc_status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class RestFloodTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connections = raise_open_file_limit(CONNECTIONS)
        cls.tmp = tempfile.mkdtemp()
        cls.base = os.path.join(cls.tmp, MODEL)
        server_runner.export_half_plus_two_versions(cls.base, {1: 2.0})

    def start_server(self, *flags):
        server = server_launcher.ServerRunner(
            [f"--model_name={MODEL}", f"--model_base_path={self.base}", *flags])
        self.addCleanup(server.cleanup)
        return server.start(models=[MODEL])

    def open_slow_connections(self, port):
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(self.connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=_WAIT)
            sock.sendall(_SLOW_HEAD)
            socks.append(sock)
        return socks

    def test_slow_connections_cost_no_threads_and_are_dropped(self):
        read_timeout = 10.0
        server = self.start_server(
            f"--rest_api_read_timeout_in_ms={int(read_timeout * 1000)}")
        pid = server.process.pid
        with steady_client.SteadyClient(server, MODEL) as steady:
            steady.wait_for_calls(20)
            threads_before = proc_status(pid, "Threads")
            fds_before = open_fds(pid)
            socks = self.open_slow_connections(server.rest_port)
            opened = time.monotonic()
            # The server holds them all...
            test_util.wait_for(lambda: open_fds(pid) >= fds_before + self.connections,
                               "the server to accept every connection", _WAIT)
            # ...on the threads it had.
            self.assertLess(proc_status(pid, "Threads"), threads_before + 16)
            steady.wait_for_calls(20)
            # Each is answered 408 and closed once its head is overdue.
            selector = selectors.DefaultSelector()
            for sock in socks:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            closed = 0
            deadline = time.monotonic() + read_timeout + _WAIT
            while closed < len(socks) and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=1.0):
                    try:
                        data = key.fileobj.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        selector.unregister(key.fileobj)
                        closed += 1
                    else:
                        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data)
            selector.close()
            self.assertEqual(closed, len(socks))
            self.assertGreaterEqual(time.monotonic() - opened, read_timeout - 1)
            self.assertLess(proc_status(pid, "Threads"), threads_before + 16)
        steady.check(self)

    def test_connection_cap_keeps_the_server_reachable(self):
        cap = 200
        server = self.start_server(f"--rest_api_max_connections={cap}")
        pid = server.process.pid
        with steady_client.SteadyClient(server, MODEL) as steady:
            steady.wait_for_calls(20)
            fds_before = open_fds(pid)
            self.open_slow_connections(server.rest_port)
            # New connections keep being served (the steady client opens one
            # per REST call) while the server keeps at most `cap` open.
            steady.wait_for_calls(100)
            self.assertLessEqual(open_fds(pid), fds_before + cap)
        steady.check(self)


if __name__ == "__main__":
    absltest.main()

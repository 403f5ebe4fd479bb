"""A client that keeps calling the server while a test attacks it.

Hostile-input tests start one, do their damage, stop it and assert that it saw
no failure and no call slower than a generous bound: one client's bad request
must never stall or break anyone else's.
"""

import threading
import time

import grpc

from tensorflow_serving.model_servers.test_util import server_runner


class SteadyClient:
    """Predict calls in a loop on its own thread until stop()."""

    def __init__(self, server: server_runner.ServerRunner, model: str,
                 timeout: float = 30.0):
        self._stub = server.prediction_stub
        self._request = server_runner.half_plus_two_request(model, [1.0])
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.calls = 0
        self.failures = []
        self.slowest = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                self._stub.Predict(self._request, timeout=self._timeout)
            except grpc.RpcError as e:
                self.failures.append(f"{e.code()}: {e.details()}")
            self.slowest = max(self.slowest, time.monotonic() - start)
            self.calls += 1

    def __enter__(self) -> "SteadyClient":
        self._thread.start()
        # Wait until it is really running: one call has come back.
        deadline = time.monotonic() + self._timeout
        while self.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(self._timeout + 5)

    def assert_unharmed(self, test, max_seconds: float) -> None:
        """No failed call, none slower than `max_seconds`, and some calls made."""
        test.assertGreater(self.calls, 0)
        test.assertEqual([], self.failures[:5])
        test.assertLess(self.slowest, max_seconds,
                        f"a steady call took {self.slowest:.1f}s during the attack")

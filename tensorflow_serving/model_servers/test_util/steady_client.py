"""A well-behaved client that keeps calling a server while a test attacks it.

It alternates a gRPC Predict and a REST predict (a new connection each time,
so that it also needs the server to accept) on half_plus_two, and records
every failure and the longest call. check() then says whether the attack
touched it.
"""

import json
import threading
import time
import urllib.request

from tensorflow_serving.model_servers.test_util import server_runner

# Long enough to absorb a loaded machine, far below a stall a user would
# notice as an outage (the timeouts under test are 30 s and more).
DEFAULT_MAX_STALL_SECONDS = 10.0
_CALL_TIMEOUT = 60.0
_MAX_CALLS = 100000
_MAX_SECONDS = 900.0


class SteadyClient:
    """Use as a context manager around the attack, then call check()."""

    def __init__(self, server: server_runner.ServerRunner, model: str,
                 pause_seconds: float = 0.02):
        self._server = server
        self._model = model
        self._pause = pause_seconds
        self._stop = threading.Event()
        self._thread = None
        self.calls = 0
        self.failures = []
        self.longest = 0.0

    def _call(self, what, fn):
        started = time.monotonic()
        try:
            fn()
        except Exception as e:  # pylint: disable=broad-except
            self.failures.append(f"{what}: {e!r}")
        self.longest = max(self.longest, time.monotonic() - started)
        self.calls += 1

    def _rest(self):
        url = (f"http://127.0.0.1:{self._server.rest_port}/v1/models/"
               f"{self._model}:predict")
        request = urllib.request.Request(
            url, data=json.dumps({"instances": [[1.0]]}).encode())
        with urllib.request.urlopen(request, timeout=_CALL_TIMEOUT) as response:
            body = json.loads(response.read())
        if "predictions" not in body:
            raise AssertionError(f"unexpected reply {body}")

    def _grpc(self):
        request = server_runner.half_plus_two_request(self._model, [1.0])
        self._server.prediction_stub.Predict(request, timeout=_CALL_TIMEOUT)

    def _run(self):
        deadline = time.monotonic() + _MAX_SECONDS
        while (not self._stop.is_set() and self.calls < _MAX_CALLS and
               time.monotonic() < deadline):
            self._call("gRPC", self._grpc)
            self._call("REST", self._rest)
            self._stop.wait(self._pause)

    def wait_for_calls(self, n: int, timeout: float = 120.0) -> None:
        """Waits until `n` more calls were made (the client is running)."""
        target = self.calls + n
        deadline = time.monotonic() + timeout
        while self.calls < target:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError(f"steady client made {self.calls} calls, "
                                     f"expected {target}")
            time.sleep(0.01)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, name="steady_client",
                                        daemon=True)
        self._thread.start()
        self.wait_for_calls(2)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(_CALL_TIMEOUT * 2 + 10)

    def check(self, test, max_stall: float = DEFAULT_MAX_STALL_SECONDS) -> None:
        """Asserts that no call failed and none took longer than max_stall."""
        test.assertEqual(self.failures, [], f"after {self.calls} calls")
        test.assertGreater(self.calls, 0)
        test.assertLess(self.longest, max_stall,
                        f"the steady client stalled ({self.calls} calls)")

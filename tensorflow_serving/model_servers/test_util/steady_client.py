"""A well-behaved client that keeps calling a server while a test attacks it.

It alternates a gRPC Predict and a REST predict (a new connection each time,
so that it also needs the server to accept), on half_plus_two unless given
other requests, until the test stops it. It records every failure, the
longest call and the model versions that answered. check() then says whether
the attack (or a version rollover) touched it.
"""

import json
import threading
import time
import urllib.request

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.test_util import test_util

# Long enough to absorb a loaded machine, far below a stall a user would
# notice as an outage (the timeouts under test are 30 s and more).
DEFAULT_MAX_STALL_SECONDS = 10.0
_CALL_TIMEOUT = 60.0
_MAX_CALLS = 100000
_MAX_SECONDS = 900.0


class SteadyClient:
    """Use as a context manager around the attack, then call check()."""

    def __init__(self, server: server_launcher.ServerRunner, model: str,
                 pause_seconds: float = 0.02, grpc_request=None, rest_body=None):
        """`grpc_request` (a PredictRequest) and `rest_body` (a JSON object)
        default to half_plus_two's x = 1.0."""
        self._server = server
        self._model = model
        self._pause = pause_seconds
        self._grpc_request = grpc_request or server_runner.half_plus_two_request(
            model, [1.0])
        self._rest_body = json.dumps(rest_body or {"instances": [[1.0]]}).encode()
        self._stop = threading.Event()
        self._thread = None
        self.calls = 0
        self.failures = []
        self.longest = 0.0
        self.versions = set()  # of the gRPC answers

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
        request = urllib.request.Request(url, data=self._rest_body)
        with urllib.request.urlopen(request, timeout=_CALL_TIMEOUT) as response:
            body = json.loads(response.read())
        if "predictions" not in body:
            raise AssertionError(f"unexpected reply {body}")

    def _grpc(self):
        response = self._server.prediction_stub.Predict(self._grpc_request,
                                                        timeout=_CALL_TIMEOUT)
        self.versions.add(response.model_spec.version.value)

    def _run(self):
        deadline = time.monotonic() + _MAX_SECONDS
        while (not self._stop.is_set() and self.calls < _MAX_CALLS and
               time.monotonic() < deadline):
            self._call("gRPC", self._grpc)
            self._call("REST", self._rest)
            self._stop.wait(self._pause)

    def wait_for_calls(self, n: int, timeout: float = 120.0) -> None:
        """Waits until `n` more calls were made (the client is running).

        Raises:
          AssertionError: the client stopped, or `timeout` seconds passed.
        """
        target = self.calls + n

        def made():
            if self.calls < target and not self._thread.is_alive():
                raise AssertionError(f"steady client stopped after {self.calls} calls")
            return self.calls >= target
        test_util.wait_for(made, f"the steady client's call {target}", timeout)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, name="steady_client",
                                        daemon=True)
        self._thread.start()
        self.wait_for_calls(2)
        return self

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(_CALL_TIMEOUT * 2 + 10)

    def check(self, test, max_stall: float = DEFAULT_MAX_STALL_SECONDS) -> None:
        """Asserts that no call failed and none took longer than max_stall."""
        test.assertEqual(self.failures, [], f"after {self.calls} calls")
        test.assertGreater(self.calls, 0)
        test.assertLess(self.longest, max_stall,
                        f"the steady client stalled ({self.calls} calls)")

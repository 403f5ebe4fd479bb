"""End-to-end: SIGTERM under gRPC load completes the calls in flight.

Upstream's server has no SIGTERM handler (the process just dies, and every
call in flight fails). Here, as docs/serving_config.md says, calls in flight at the
signal complete with their answers, new calls are refused, and the server
exits 0. A steady client keeps calling throughout; calls held in the sleep
model for two seconds are the ones certainly in flight at the signal.
"""

import os
import subprocess
import threading
import time

from absl.testing import absltest
import grpc

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import saved_model_sleep

_SLEEP_US = 2_000_000
_WAIT = 60.0
# A call refused during the shutdown: UNAVAILABLE once the port is closed or
# the client has the server's GOAWAY; CANCELLED for a call that reaches the
# server between gRPC's shutdown and its GOAWAY reaching the client (gRPC's
# core stops taking calls before it sends the GOAWAY; see docs/serving_config.md).
_REFUSED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
_CONFIG = """model_config_list {{
  config {{ name: "m" base_path: "{base}/m" model_platform: "tensorflow" }}
  config {{ name: "sleep" base_path: "{base}/sleep" model_platform: "tensorflow" }}
}}
"""


def sleep_request() -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "sleep"
    tensor = request.inputs["us"]
    tensor.dtype = 9  # DT_INT64
    tensor.tensor_shape.dim.add(size=1)
    tensor.int64_val.append(_SLEEP_US)
    return request


class GrpcDrainTest(server_runner.ServerTestCase):

    def test_sigterm_completes_calls_in_flight_and_refuses_new_ones(self):
        server_runner.export_half_plus_two_versions(os.path.join(self.tmp, "m"), {1: 2.0})
        saved_model_sleep.export_sleep_model(os.path.join(self.tmp, "sleep", "1"))
        config = self.create_tempfile(content=_CONFIG.format(base=self.tmp)).full_path
        server = self.start_server([f"--model_config_file={config}"], ["m", "sleep"])
        stub = server.prediction_stub

        records = []  # (monotonic start, status code, y) of the steady client
        lock = threading.Lock()
        stop = threading.Event()

        def steady():
            request = server_runner.half_plus_two_request("m", [1.0])
            for _ in range(1_000_000):
                if stop.is_set():
                    return
                started = time.monotonic()
                try:
                    y = list(stub.Predict(request, timeout=_WAIT).outputs["y"].float_val)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    y, code = None, e.code()
                with lock:
                    records.append((started, code, y))
                if code != grpc.StatusCode.OK:
                    stop.wait(0.01)  # the server is gone or going: do not spin

        client = threading.Thread(target=steady)
        client.start()
        self.addCleanup(client.join, _WAIT)
        self.addCleanup(stop.set)

        issued = time.monotonic()
        sleepers = [stub.Predict.future(sleep_request(), timeout=_WAIT) for _ in range(1)]

        # On the same channel, a steady call issued after the sleepers and
        # answered means the server had read the sleepers' streams.
        def answered_after_sleepers():
            with lock:
                return sum(1 for started, code, _ in records
                           if started > issued and code == grpc.StatusCode.OK) >= 5
        deadline = time.monotonic() + _WAIT
        while not answered_after_sleepers():
            self.assertLess(time.monotonic(), deadline, "the steady client got no answers")
            stop.wait(0.01)
        self.assertFalse(any(s.done() for s in sleepers),
                         [s.exception() for s in sleepers if s.done()])

        signalled = time.monotonic()
        server.send_signal()
        # The sleepers could not have been answered before issued + 2 s.
        self.assertLess(signalled, issued + _SLEEP_US / 1e6, "too slow to test a drain")
        for sleeper in sleepers:
            self.assertEqual(list(sleeper.result(_WAIT).outputs["slept_us"].int64_val),
                             [_SLEEP_US])
        try:
            exit_code = server.wait(_WAIT)
        except subprocess.TimeoutExpired:
            self.fail(f"still running {_WAIT:.0f} s after SIGTERM:\n{server.logs()}")
        self.assertEqual(exit_code, 0, server.logs())

        # New calls are refused once the server is gone.
        with self.assertRaises(grpc.RpcError) as refused:
            stub.Predict(server_runner.half_plus_two_request("m", [1.0]), timeout=5)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)

        stop.set()
        client.join(_WAIT)
        self.assertFalse(client.is_alive())
        with lock:
            answered = [y for _, code, y in records if code == grpc.StatusCode.OK]
            failed = [(started - signalled, code) for started, code, _ in records
                      if code != grpc.StatusCode.OK]
        self.assertTrue(answered)
        self.assertTrue(all(y == [2.5] for y in answered), set(map(tuple, answered)))
        # The steady client's only failures are refusals, never an error
        # answer to a call the server took.
        self.assertTrue(all(code in _REFUSED for _, code in failed), failed[:10])


if __name__ == "__main__":
    absltest.main()

"""End-to-end: --enable_batching gives the same answers, and SIGTERM drains requests."""

import concurrent.futures
import os
import signal
import time

from absl.testing import absltest

from tensorflow_serving.model_servers.test_util import server_runner


def predict(stub, x):
    request = server_runner.half_plus_two_request("m", [x, x + 0.25])
    return list(stub.Predict(request, timeout=60).outputs["y"].float_val)


class BatchingTest(server_runner.ServerTestCase):

    def setUp(self):
        super().setUp()
        self.base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(self.base, {1: 2.0})

    def start(self, batching_text=None):
        args = ["--model_name=m", f"--model_base_path={self.base}"]
        if batching_text is not None:
            path = self.create_tempfile(content=batching_text).full_path
            args += ["--enable_batching", f"--batching_parameters_file={path}"]
        return self.start_server(args, ["m"])

    def test_batched_equals_unbatched(self):
        plain = self.start()
        batched = self.start("max_batch_size { value: 16 }\n"
                             "batch_timeout_micros { value: 20000 }\n"
                             "num_batch_threads { value: 2 }\n"
                             "max_enqueued_batches { value: 100 }\n")
        xs = [float(i) for i in range(96)]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            got = list(pool.map(lambda x: predict(batched.prediction_stub, x), xs))
        want = [predict(plain.prediction_stub, x) for x in xs]
        self.assertEqual(got, want)
        self.assertEqual(want[3], [3.5, 3.625])

    def test_sigterm_drains_in_flight_requests(self):
        # A long batch timeout keeps requests in flight while SIGTERM arrives.
        server = self.start("max_batch_size { value: 64 }\n"
                            "batch_timeout_micros { value: 1500000 }\n"
                            "num_batch_threads { value: 1 }\n")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(predict, server.prediction_stub, float(x))
                       for x in range(8)]
            time.sleep(0.5)
            self.assertFalse(any(f.done() for f in futures))
            server.send_signal(signal.SIGTERM)
            results = [f.result(timeout=60) for f in futures]
        self.assertEqual(results, [[0.5 * x + 2, 0.5 * (x + 0.25) + 2]
                                   for x in range(8)])
        self.assertEqual(server.wait(60), 0, server.logs())
        self.assertIn("Done unloading servable version {name: m version: 1}",
                      server.logs())


if __name__ == "__main__":
    absltest.main()

"""End-to-end: --enable_batching gives the same answers, and SIGTERM drains requests."""

import concurrent.futures
import os
import shutil
import signal
import tempfile
import time

from absl.testing import absltest

from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.model_servers.test_util import server_runner


def predict(stub, x):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    t.tensor_shape.dim.add(size=2)
    t.tensor_shape.dim.add(size=1)
    t.float_val.extend([x, x + 0.25])
    request.inputs["x"].CopyFrom(t)
    return list(stub.Predict(request, timeout=60).outputs["y"].float_val)


class BatchingTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp()
        self.base = os.path.join(self.tmp, "m")
        server_runner.export_half_plus_two_versions(self.base, {1: 2.0})
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            server.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def start(self, batching_text=None):
        args = ["--model_name=m", f"--model_base_path={self.base}"]
        if batching_text is not None:
            path = os.path.join(self.tmp, f"batching{len(self.servers)}.config")
            with open(path, "w") as f:
                f.write(batching_text)
            args += ["--enable_batching", f"--batching_parameters_file={path}"]
        server = server_runner.ServerRunner(args, rest=False)
        self.servers.append(server)
        return server.start(["m"])

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

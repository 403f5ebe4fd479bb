"""Tests for BatchingSession: merging, timeouts, padding, queue bounds, errors, close."""

import threading
import time

from absl.testing import absltest
import grpc
import numpy as np

from tensorflow_serving.batching import batching_session
from tensorflow_serving.test_util import test_util
from tensorflow_serving.util import status

BatchingOptions = batching_session.BatchingOptions
BatchingSession = batching_session.BatchingSession


class RecordingModel:
    """y = 2x + 1 row-wise, plus a per-row sum; records every batch it sees."""

    def __init__(self, delay=0.0, gate=None):
        self.batches = []
        self.delay = delay
        self.gate = gate
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, inputs, output_keys):
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        x = inputs["x"]
        with self._lock:
            self.batches.append(x.copy())
        out = {"y": x * 2 + 1, "sum": x.reshape(x.shape[0], -1).sum(axis=1)}
        return {k: out[k] for k in output_keys}

    @property
    def sizes(self):
        with self._lock:
            return [b.shape[0] for b in self.batches]


def run_concurrently(session, requests, output_keys=("y",)):
    """Runs every request on its own thread at once; returns results or exceptions."""
    results = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def call(i):
        barrier.wait()
        try:
            results[i] = session.run(requests[i], output_keys)
        except Exception as e:  # pylint: disable=broad-except
            results[i] = e

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "run() did not return"
    return results


class BatchingSessionTest(absltest.TestCase):

    def make_session(self, model, **kwargs):
        session = BatchingSession(model, BatchingOptions(**kwargs))
        self.addCleanup(session.close)
        return session

    def test_defaults_match_upstream(self):
        options = BatchingOptions()
        self.assertEqual(options.max_batch_size, 1000)
        self.assertEqual(options.batch_timeout_micros, 0)
        self.assertEqual(options.max_enqueued_batches, 10)
        self.assertGreaterEqual(options.num_batch_threads, 1)
        self.assertEqual(options.allowed_batch_sizes, ())
        self.assertFalse(options.pad_variable_length_inputs)
        self.assertEqual(options.thread_pool_name, "batch_threads")

    def test_concurrent_results_equal_unbatched(self):
        model = RecordingModel(delay=0.002)
        session = self.make_session(model, max_batch_size=8, batch_timeout_micros=250_000,
                                    num_batch_threads=2)
        requests = []
        for i in range(32):
            rows = i % 3 + 1
            x = (np.arange(rows * 4, dtype=np.float32).reshape(rows, 4) + 100 * i)
            requests.append({"x": x})
        results = run_concurrently(session, requests, ("y", "sum"))
        for request, result in zip(requests, results):
            self.assertIsInstance(result, dict)
            self.assertCountEqual(result, ["y", "sum"])
            np.testing.assert_array_equal(result["y"], request["x"] * 2 + 1)
            np.testing.assert_array_equal(result["sum"], request["x"].sum(axis=1))
            self.assertEqual(result["y"].dtype, np.float32)
        sizes = model.sizes
        self.assertEqual(sum(sizes), sum(r["x"].shape[0] for r in requests))
        self.assertLess(len(sizes), 32)  # batching actually merged calls
        self.assertLessEqual(max(sizes), 8)

    def test_different_output_keys_are_batched_separately(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=4, batch_timeout_micros=100_000)
        x = np.ones((1, 2), np.float32)
        only_y = run_concurrently(session, [{"x": x}] * 2, ("y",))
        self.assertEqual([set(r) for r in only_y], [{"y"}, {"y"}])
        self.assertEqual(set(session.run({"x": x}, ("sum",))), {"sum"})

    def test_timeout_closes_partial_batch(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=100, batch_timeout_micros=50_000,
                                    num_batch_threads=1)
        start = time.monotonic()
        result = session.run({"x": np.array([[1.0, 2.0]], np.float32)}, ("y",))
        elapsed = time.monotonic() - start
        np.testing.assert_array_equal(result["y"], [[3.0, 5.0]])
        self.assertGreaterEqual(elapsed, 0.045)
        self.assertLess(elapsed, 2.0)
        self.assertEqual(model.sizes, [1])

    def test_full_batch_does_not_wait_for_timeout(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=4, batch_timeout_micros=30_000_000)
        start = time.monotonic()
        results = run_concurrently(session, [{"x": np.full((1, 1), i, np.int64)}
                                             for i in range(4)])
        self.assertLess(time.monotonic() - start, 5.0)
        self.assertEqual(model.sizes, [4])
        for i, result in enumerate(results):
            np.testing.assert_array_equal(result["y"], [[2 * i + 1]])

    def test_allowed_batch_sizes_pads_and_drops_padding(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=8, allowed_batch_sizes=(2, 4, 8))
        x = np.array([[1, 2], [3, 4], [5, 6]], np.int32)
        result = session.run({"x": x}, ("y", "sum"))
        self.assertEqual(model.sizes, [4])
        # Padding repeats a real row of the last task.
        np.testing.assert_array_equal(model.batches[0], [[1, 2], [3, 4], [5, 6], [1, 2]])
        np.testing.assert_array_equal(result["y"], x * 2 + 1)
        np.testing.assert_array_equal(result["sum"], [3, 7, 11])
        session.run({"x": x[:2]}, ("y",))
        self.assertEqual(model.sizes, [4, 2])

    def test_allowed_batch_sizes_validation(self):
        with self.assertRaises(status.ServingError) as cm:
            BatchingSession(RecordingModel(),
                            BatchingOptions(max_batch_size=8, allowed_batch_sizes=(4, 2, 8)))
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("monotonically increasing", cm.exception.message)
        with self.assertRaises(status.ServingError) as cm:
            BatchingSession(RecordingModel(),
                            BatchingOptions(max_batch_size=8, allowed_batch_sizes=(2, 4)))
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(
            cm.exception.message,
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; "
            "expected 8")

    def test_other_option_validation(self):
        for kwargs in ({"max_batch_size": 0}, {"batch_timeout_micros": -1},
                       {"max_enqueued_batches": -1}, {"num_batch_threads": 0}):
            with self.assertRaises(status.ServingError, msg=str(kwargs)) as cm:
                BatchingSession(RecordingModel(), BatchingOptions(**kwargs))
            self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(next(iter(kwargs)), cm.exception.message)

    def test_pad_variable_length_inputs(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=2, batch_timeout_micros=30_000_000,
                                    pad_variable_length_inputs=True)
        short = np.array([[7, 8]], np.int64)
        long = np.array([[1, 2, 3, 4]], np.int64)
        results = run_concurrently(session, [{"x": short}, {"x": long}], ("sum",))
        self.assertEqual(model.sizes, [2])
        merged = model.batches[0]
        self.assertEqual(merged.shape, (2, 4))
        # Each tensor is padded with its own first element, as upstream does.
        self.assertIn([7, 8, 7, 7], merged.tolist())
        self.assertIn([1, 2, 3, 4], merged.tolist())
        self.assertEqual(results[0]["sum"].tolist(), [29])
        self.assertEqual(results[1]["sum"].tolist(), [10])

    def test_mismatched_shapes_and_dtypes_run_as_separate_batches(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=3, batch_timeout_micros=30_000_000)
        requests = [{"x": np.ones((1, 2), np.float32)}, {"x": np.ones((1, 3), np.float32)},
                    {"x": np.ones((1, 2), np.float64)}]
        results = run_concurrently(session, requests)
        for request, result in zip(requests, results):
            self.assertIsInstance(result, dict)
            np.testing.assert_array_equal(result["y"], request["x"] * 2 + 1)
            self.assertEqual(result["y"].dtype, request["x"].dtype)
        self.assertEqual(sorted(model.sizes), [1, 1, 1])

    def test_queue_full_is_unavailable_immediately(self):
        gate = threading.Event()
        model = RecordingModel(gate=gate)
        session = self.make_session(model, max_batch_size=1, max_enqueued_batches=2,
                                    num_batch_threads=1)
        x = np.zeros((1, 1), np.float32)
        results = []
        threads = [threading.Thread(target=lambda: results.append(session.run({"x": x}, ("y",))))
                   for _ in range(3)]
        threads[0].start()
        model.started.wait(5)  # first batch is on the only thread
        threads[1].start()
        threads[2].start()
        test_util.wait_for(lambda: session.num_enqueued_tasks() == 2,  # two full batches
                           "two tasks queued", 5.0, interval=0.001)
        start = time.monotonic()
        with self.assertRaises(status.ServingError) as cm:
            session.run({"x": x}, ("y",))
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn("full", cm.exception.message)
        gate.set()
        for t in threads:
            t.join(5)
        self.assertLen(results, 3)
        # Room again once the queue drained.
        np.testing.assert_array_equal(session.run({"x": x}, ("y",))["y"], [[1.0]])

    def test_run_fn_error_reaches_every_task(self):
        def failing(inputs, output_keys):
            raise status.resource_exhausted("out of memory")

        session = self.make_session(failing, max_batch_size=4, batch_timeout_micros=30_000_000)
        results = run_concurrently(session, [{"x": np.ones((1, 1))}] * 4)
        for result in results:
            self.assertIsInstance(result, status.ServingError)
            self.assertEqual(result.code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertEqual(result.message, "out of memory")

    def test_plain_exception_propagates_as_is(self):
        def failing(inputs, output_keys):
            raise KeyError("boom")

        session = self.make_session(failing, max_batch_size=2, batch_timeout_micros=30_000_000)
        results = run_concurrently(session, [{"x": np.ones((1, 1))}] * 2)
        for result in results:
            self.assertIsInstance(result, KeyError)
        # The session keeps working after a failed batch.
        session2 = self.make_session(RecordingModel(), max_batch_size=2)
        self.assertIn("y", session2.run({"x": np.ones((1, 1))}, ("y",)))

    def test_output_with_wrong_batch_dim_fails_every_task(self):
        def wrong(inputs, output_keys):
            return {"y": np.zeros((inputs["x"].shape[0] + 1, 1))}

        session = self.make_session(wrong, max_batch_size=2, batch_timeout_micros=30_000_000)
        results = run_concurrently(session, [{"x": np.ones((1, 1))}] * 2)
        for result in results:
            self.assertIsInstance(result, status.ServingError)
            self.assertEqual(result.code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("0th dimension", result.message)

    def test_missing_output_is_internal(self):
        session = self.make_session(lambda inputs, keys: {}, max_batch_size=2)
        with self.assertRaises(status.ServingError) as cm:
            session.run({"x": np.ones((1, 1))}, ("y",))
        self.assertEqual(cm.exception.code, grpc.StatusCode.INTERNAL)
        self.assertIn("'y'", cm.exception.message)

    def test_bad_requests_are_invalid_argument(self):
        session = self.make_session(RecordingModel(), max_batch_size=4)
        bad = [
            ({}, "at least one input tensor"),
            ({"x": np.float32(1.0)}, "at least one dimension"),
            ({"x": np.ones((2, 1)), "z": np.ones((3, 1))}, "equal 0th-dimension size"),
            ({"x": np.ones((5, 1))}, "Task size 5 is larger than maximum input batch size 4"),
        ]
        for inputs, message in bad:
            with self.assertRaises(status.ServingError) as cm:
                session.run(inputs, ("y",))
            self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(message, cm.exception.message)

    def test_large_batch_splitting(self):
        model = RecordingModel()
        session = self.make_session(model, max_batch_size=10, enable_large_batch_splitting=True,
                                    max_execution_batch_size=4, num_batch_threads=1)
        x = np.arange(20, dtype=np.float32).reshape(10, 2)
        result = session.run({"x": x}, ("y", "sum"))
        np.testing.assert_array_equal(result["y"], x * 2 + 1)
        np.testing.assert_array_equal(result["sum"], x.sum(axis=1))
        self.assertEqual(sum(model.sizes), 10)
        self.assertLessEqual(max(model.sizes), 4)

    def test_tasks_that_timed_out_in_the_queue_are_not_run(self):
        gate = threading.Event()
        model = RecordingModel(gate=gate)
        session = self.make_session(model, max_batch_size=1, num_batch_threads=1)
        x = np.ones((1, 1), np.float32)
        first = threading.Thread(target=session.run, args=({"x": x}, ("y",)))
        first.start()
        model.started.wait(5)  # the only thread is busy
        results = []

        def call(timeout):
            try:
                results.append(session.run({"x": x}, ("y",), timeout=timeout))
            except status.ServingError as e:
                results.append(e)

        late = threading.Thread(target=call, args=(0.01,))
        late.start()
        test_util.wait_for(lambda: session.num_enqueued_tasks() == 1, "one task queued",
                           5.0, interval=0.001)
        time.sleep(0.03)  # its timeout passes while it waits in the queue
        gate.set()
        late.join(5)
        first.join(5)
        self.assertLen(results, 1)
        self.assertIsInstance(results[0], status.ServingError)
        self.assertEqual(results[0].code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(len(model.batches), 1)  # the expired task never reached run_fn
        # A generous timeout runs normally.
        self.assertIn("y", session.run({"x": x}, ("y",), timeout=5.0))

    def test_close_finishes_queued_work_and_rejects_new(self):
        model = RecordingModel()
        # A timeout this long would hold the open batch for 30 s; close() flushes it.
        session = BatchingSession(model, BatchingOptions(
            max_batch_size=100, batch_timeout_micros=30_000_000, num_batch_threads=1))
        results = {}
        threads = [threading.Thread(
            target=lambda i=i: results.__setitem__(
                i, session.run({"x": np.full((1, 1), i, np.float32)}, ("y",))))
            for i in range(3)]
        for t in threads:
            t.start()
        test_util.wait_for(lambda: session.num_enqueued_tasks() == 3, "three tasks queued",
                           5.0, interval=0.001)
        start = time.monotonic()
        session.close()
        self.assertLess(time.monotonic() - start, 5.0)
        for t in threads:
            t.join(5)
        self.assertEqual(sorted(results), [0, 1, 2])
        for i, result in results.items():
            np.testing.assert_array_equal(result["y"], [[2 * i + 1]])
        self.assertEqual(model.sizes, [3])
        with self.assertRaises(status.ServingError) as cm:
            session.run({"x": np.ones((1, 1), np.float32)}, ("y",))
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAVAILABLE)
        session.close()  # idempotent


if __name__ == "__main__":
    absltest.main()

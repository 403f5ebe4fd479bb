"""SavedModelBundle: loading, runs TensorFlow judges, cached callables, batching, close."""

import concurrent.futures
import gc
import os
import tempfile
import weakref

import grpc
import numpy as np
from absl.testing import absltest

from tensorflow_serving.batching import batching_session
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)
from tensorflow_serving.util import status


class SavedModelBundleTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.export_dir = os.path.join(cls._tmp.name, "1")
        hp2.export_half_plus_two(cls.export_dir, b=3.0)
        cls.bundle = saved_model_bundle.SavedModelBundle(cls.export_dir)

    @classmethod
    def tearDownClass(cls):
        cls.bundle.close()
        cls._tmp.cleanup()
        super().tearDownClass()

    def assertError(self, code, fragments, fn, *args):
        with self.assertRaises(status.ServingError) as cm:
            fn(*args)
        self.assertEqual(code, cm.exception.code, cm.exception.message)
        for fragment in fragments:
            self.assertIn(fragment, cm.exception.message)
        return cm.exception

    def test_signature_defs_and_meta_graph(self):
        self.assertEqual(self.export_dir, self.bundle.export_dir)
        self.assertIn("serving_default", self.bundle.signature_defs)
        self.assertIn("serve", self.bundle.meta_graph_def.meta_info_def.tags)

    def _names(self, signature_name):
        sig = self.bundle.signature(signature_name)
        return dict(sig.inputs), sig.outputs

    def test_run_feeds_and_fetches_by_tensor_name(self):
        inputs, outputs = self._names("serving_default")
        x = np.array([[1.0], [-4.0]], np.float32)
        out = self.bundle.run({inputs["x"]: x}, [outputs["y"]])
        self.assertEqual([outputs["y"]], list(out))
        np.testing.assert_allclose([[3.5], [1.0]], out[outputs["y"]])
        # Second call goes through the cached callable and agrees.
        again = self.bundle.run({inputs["x"]: x * 2}, [outputs["y"]])
        np.testing.assert_allclose([[4.0], [-1.0]], again[outputs["y"]])

    def test_signature_digest(self):
        sig = self.bundle.signature("classify_x_to_classes")
        self.assertEqual("tensorflow/serving/classify", sig.method_name)
        self.assertEqual((("inputs", "tf_example:0"),), sig.inputs)
        self.assertCountEqual(["classes", "scores"], sig.outputs)
        self.assertTrue(sig.batchable)
        self.assertIsNone(self.bundle.signature("nope"))

    def test_tensorflow_judges_shapes_not_the_signature(self):
        # The signature says [-1,1]; TensorFlow runs [2] as upstream does.
        inputs, outputs = self._names("serving_default")
        out = self.bundle.run({inputs["x"]: np.array([2.0, 4.0], np.float32)},
                              [outputs["y"]])
        np.testing.assert_allclose([4.0, 5.0], out[outputs["y"]])

    def test_tensorflow_judges_dtypes(self):
        inputs, outputs = self._names("serving_default")
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["Expects arg[0] to be float but int64 is provided"],
                         self.bundle.run, {inputs["x"]: np.zeros((1, 1), np.int64)},
                         [outputs["y"]])

    def test_unknown_tensor_name(self):
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT, ["nope:0"],
                         self.bundle.run, {"nope:0": np.zeros(1, np.float32)},
                         ["y:0"])

    def test_small_graphs_run_on_the_calling_thread(self):
        graph_def = self.bundle.meta_graph_def.graph_def
        self.assertEqual((True, True), saved_model_bundle._inline_runs(graph_def))

        def with_op(op):
            changed = type(graph_def)()
            changed.CopyFrom(graph_def)
            changed.library.function.add().node_def.add(name="n", op=op)
            return saved_model_bundle._inline_runs(changed)
        self.assertEqual((False, False), with_op("FIFOQueueV2"))
        # A run that could loop for hours goes inline only without a timeout.
        for op in ("StatelessWhile", "Enter", "ReduceDataset", "EagerPyFunc"):
            self.assertEqual((True, False), with_op(op), op)
        self.assertEqual(-1, self.bundle._run_options_with_timeout(100).inter_op_thread_pool)
        # An explicit inter-op setting is the user's choice: no inline runs.
        bundle = saved_model_bundle.SavedModelBundle(
            self.export_dir, inter_op_parallelism=2)
        try:
            self.assertIsNone(bundle._run_options)
            self.assertEqual(-1, self.bundle._run_options.inter_op_thread_pool)
            x = {"x:0": np.array([[1.0]], np.float32)}
            np.testing.assert_allclose(bundle.run(x, ["y:0"])["y:0"],
                                       self.bundle.run(x, ["y:0"])["y:0"])
        finally:
            bundle.close()

    def test_runtime_error_keeps_tensorflow_code(self):
        inputs, outputs = self._names("regress_x_to_y")
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["Could not parse example input"],
                         self.bundle.run,
                         {inputs["inputs"]: np.array([b"garbage"], object)},
                         list(outputs.values()))

    def test_concurrent_runs(self):
        inputs, outputs = self._names("serving_default")

        def one(i):
            x = np.array([[float(i)]], np.float32)
            return self.bundle.run({inputs["x"]: x}, [outputs["y"]])[outputs["y"]]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(64)))
        for i, y in enumerate(results):
            np.testing.assert_allclose([[0.5 * i + 3.0]], y)

    def test_missing_saved_model_is_not_found(self):
        self.assertError(grpc.StatusCode.NOT_FOUND,
                         ["Could not find SavedModel", self._tmp.name],
                         saved_model_bundle.SavedModelBundle, self._tmp.name)

    def test_wrong_tags_is_not_found(self):
        self.assertError(grpc.StatusCode.NOT_FOUND, ["{ gpu }"],
                         saved_model_bundle.SavedModelBundle,
                         self.export_dir, ("gpu",))

    def _batching_bundle(self):
        options = batching_session.BatchingOptions(
            max_batch_size=8, batch_timeout_micros=20000, num_batch_threads=1)
        bundle = saved_model_bundle.SavedModelBundle(
            self.export_dir, batching_options=options)
        sizes = []
        direct = bundle._run_direct  # pylint: disable=protected-access

        def counting(feeds, fetches):
            sizes.append(next(iter(feeds.values())).shape)
            return direct(feeds, fetches)

        bundle._run_direct = counting  # pylint: disable=protected-access
        return bundle, sizes

    def test_batching_merges_concurrent_calls(self):
        bundle, sizes = self._batching_bundle()

        def one(i):
            x = np.array([[float(i)]], np.float32)
            return bundle.run({"x:0": x}, ["y:0"], batchable=True)["y:0"]

        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                results = list(pool.map(one, range(16)))
        finally:
            bundle.close()
        for i, y in enumerate(results):
            np.testing.assert_allclose([[0.5 * i + 3.0]], y)
        self.assertEqual(16, sum(shape[0] for shape in sizes))
        self.assertLess(len(sizes), 16)  # some calls were merged
        with self.assertRaises(status.ServingError):
            bundle.run({"x:0": np.zeros((1, 1), np.float32)}, ["y:0"],
                       batchable=True)

    def test_batching_runs_what_cannot_be_batched_on_its_own(self):
        bundle, sizes = self._batching_bundle()
        try:
            # A scalar has no batch dimension; upstream's batching refuses it.
            out = bundle.run({"x:0": np.array(2.0, np.float32)}, ["y:0"],
                             batchable=True)
            np.testing.assert_allclose(4.0, out["y:0"])
            # Not batchable per its signature: run directly too.
            out = bundle.run({"x:0": np.array([[2.0]], np.float32)}, ["y:0"])
            np.testing.assert_allclose([[4.0]], out["y:0"])
        finally:
            bundle.close()
        self.assertEqual([(), (1, 1)], sizes)

    def test_close_lets_go_of_the_session_and_graph(self):
        bundle = saved_model_bundle.SavedModelBundle(self.export_dir)
        x = {"x:0": np.array([[1.0]], np.float32)}
        bundle.run(x, ["y:0"])
        closed = []
        bundle.add_close_callback(lambda: closed.append(bundle.session is not None))
        session, graph = weakref.ref(bundle.session), weakref.ref(bundle.graph)
        bundle.close()
        bundle.close()  # a second close does nothing
        self.assertEqual([True], closed)  # callbacks run while the Session is open
        gc.collect()
        # Whoever still holds the bundle holds none of the version's memory.
        self.assertIsNone(session())
        self.assertIsNone(graph())
        self.assertEqual({}, bundle.signature_defs)
        self.assertIsNone(bundle.signature("serving_default"))
        self.assertError(grpc.StatusCode.UNAVAILABLE, ["being unloaded"],
                         bundle.run, x, ["y:0"])


if __name__ == "__main__":
    absltest.main()

"""SavedModelBundle: loading, validated runs, cached callables, batching, close."""

import concurrent.futures
import os
import tempfile

import grpc
import numpy as np
import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.batching import batching_session
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)
from tensorflow_serving.util import status


def _example(x):
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))
    })).SerializeToString()


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

    def test_run_predict_signature(self):
        x = np.array([[1.0], [-4.0]], np.float32)
        out = self.bundle.run("serving_default", {"x": x}, ["y"])
        self.assertEqual(["y"], list(out))
        np.testing.assert_allclose([[3.5], [1.0]], out["y"])
        # Second call goes through the cached callable and agrees.
        again = self.bundle.run("serving_default", {"x": x * 2}, ["y"])
        np.testing.assert_allclose([[4.0], [-1.0]], again["y"])

    def test_run_all_outputs_when_none_requested(self):
        out = self.bundle.run("classify_x_to_classes",
                              {"inputs": np.array([_example(1.0)], object)})
        self.assertCountEqual(["classes", "scores"], out)
        np.testing.assert_array_equal([[b"3.5"]], out["classes"])

    def test_str_inputs_are_fed_as_utf8_bytes(self):
        # 2.0f serializes to ASCII-only bytes, so it survives a str round trip.
        text = _example(2.0).decode("ascii")
        out = self.bundle.run("regress_x_to_y",
                              {"inputs": np.array([text])}, ["outputs"])
        np.testing.assert_allclose([[4.0]], out["outputs"])

    def test_unknown_signature(self):
        self.assertError(grpc.StatusCode.FAILED_PRECONDITION,
                         ['Serving signature key "nope" not found.'],
                         self.bundle.run, "nope", {}, [])

    def test_unknown_alias(self):
        self.assertError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["input tensor alias not found in signature: foo. Inputs "
             "expected to be in the set {x}."],
            self.bundle.run, "serving_default",
            {"foo": np.zeros((1, 1), np.float32)}, ["y"])

    def test_missing_input(self):
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["Signature input alias: x not found in request"],
                         self.bundle.run, "serving_default", {}, ["y"])

    def test_wrong_dtype_names_alias_got_and_expected(self):
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["x", "float32", "int64"],
                         self.bundle.run, "serving_default",
                         {"x": np.zeros((1, 1), np.int64)}, ["y"])

    def test_wrong_shape_names_alias_got_and_expected(self):
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["x", "[-1,1]", "[2,3]"],
                         self.bundle.run, "serving_default",
                         {"x": np.zeros((2, 3), np.float32)}, ["y"])
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT, ["[-1,1]", "[2]"],
                         self.bundle.run, "serving_default",
                         {"x": np.zeros((2,), np.float32)}, ["y"])

    def test_validation_is_remembered_per_layout_only(self):
        run = self.bundle.run
        ok = {"x": np.zeros((3, 1), np.float32)}
        for _ in range(2):  # the second call hits the remembered layout
            self.assertEqual((3, 1), run("serving_default", ok, ["y"])["y"].shape)
        # Other dtype or shape of the same alias is still checked.
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT, ["float32", "int64"],
                         run, "serving_default",
                         {"x": np.zeros((3, 1), np.int64)}, ["y"])
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT, ["[-1,1]", "[3,2]"],
                         run, "serving_default",
                         {"x": np.zeros((3, 2), np.float32)}, ["y"])
        # Non-arrays (converted on the way) keep working on every call.
        value = [[np.float32(1.0)]]
        for _ in range(2):
            np.testing.assert_allclose(
                [[3.5]], run("serving_default", {"x": value}, ["y"])["y"])

    def test_small_graphs_run_on_the_calling_thread(self):
        graph_def = self.bundle.meta_graph_def.graph_def
        self.assertTrue(saved_model_bundle._runs_well_inline(graph_def))
        queued = type(graph_def)()
        queued.CopyFrom(graph_def)
        queued.node.add(name="q", op="FIFOQueueV2")
        self.assertFalse(saved_model_bundle._runs_well_inline(queued))
        # An explicit inter-op setting is the user's choice: no inline runs.
        bundle = saved_model_bundle.SavedModelBundle(
            self.export_dir, inter_op_parallelism=2)
        try:
            self.assertIsNone(bundle._run_options)
            self.assertEqual(-1, self.bundle._run_options.inter_op_thread_pool)
            x = {"x": np.array([[1.0]], np.float32)}
            np.testing.assert_allclose(
                bundle.run("serving_default", x, ["y"])["y"],
                self.bundle.run("serving_default", x, ["y"])["y"])
        finally:
            bundle.close()

    def test_bad_output_keys(self):
        x = {"x": np.zeros((1, 1), np.float32)}
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["output tensor alias not found in signature: z",
                          "{y}"],
                         self.bundle.run, "serving_default", x, ["z"])
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["duplicate output tensor alias: y"],
                         self.bundle.run, "serving_default", x, ["y", "y"])

    def test_runtime_error_keeps_tensorflow_code(self):
        self.assertError(grpc.StatusCode.INVALID_ARGUMENT,
                         ["Could not parse example input"],
                         self.bundle.run, "regress_x_to_y",
                         {"inputs": np.array([b"garbage"], object)}, [])

    def test_input_dtypes(self):
        self.assertEqual({"x": np.dtype(np.float32)},
                         self.bundle.input_dtypes("serving_default"))
        self.assertEqual({"inputs": np.dtype(object)},
                         self.bundle.input_dtypes("regress_x_to_y"))
        with self.assertRaises(status.ServingError):
            self.bundle.input_dtypes("nope")

    def test_run_tensors(self):
        sig = self.bundle.signature_defs["serving_default"]
        (y,) = self.bundle.run_tensors(
            {sig.inputs["x"].name: np.array([[2.0]], np.float32)},
            (sig.outputs["y"].name,))
        np.testing.assert_allclose([[4.0]], y)

    def test_concurrent_runs(self):
        def one(i):
            x = np.array([[float(i)]], np.float32)
            return self.bundle.run("serving_default", {"x": x}, ["y"])["y"]

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

    def test_batching_merges_concurrent_calls(self):
        options = batching_session.BatchingOptions(
            max_batch_size=8, batch_timeout_micros=20000, num_batch_threads=1)
        bundle = saved_model_bundle.SavedModelBundle(
            self.export_dir, batching_options=options)
        sizes = []
        direct = bundle._run_direct  # pylint: disable=protected-access

        def counting(sig, feeds, keys):
            sizes.append(len(next(iter(feeds.values()))))
            return direct(sig, feeds, keys)

        bundle._run_direct = counting  # pylint: disable=protected-access

        def one(i):
            x = np.array([[float(i)]], np.float32)
            return bundle.run("serving_default", {"x": x}, ["y"])["y"]

        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                results = list(pool.map(one, range(16)))
        finally:
            bundle.close()
        for i, y in enumerate(results):
            np.testing.assert_allclose([[0.5 * i + 3.0]], y)
        self.assertEqual(16, sum(sizes))
        self.assertLess(len(sizes), 16)  # some calls were merged
        with self.assertRaises(status.ServingError):
            bundle.run("serving_default",
                       {"x": np.zeros((1, 1), np.float32)}, ["y"])


if __name__ == "__main__":
    absltest.main()

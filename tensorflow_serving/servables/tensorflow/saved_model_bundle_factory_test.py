"""Loader lifecycle: load (with warmup and batching), servable, unload."""

import os
import tempfile
import weakref

import grpc
import numpy as np
from absl.testing import absltest

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.batching import batching_session
from tensorflow_serving.core import loader as loader_lib
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow import saved_model_bundle_factory as factory_lib
from tensorflow_serving.servables.tensorflow import warmup
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)
from tensorflow_serving.util import status


class SavedModelBundleFactoryTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.base = cls._tmp.name
        hp2.export_half_plus_two(os.path.join(cls.base, "1"), b=2.0)
        hp2.export_half_plus_two(os.path.join(cls.base, "2"), b=5.0)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
        super().tearDownClass()

    def _y(self, bundle, x):
        return bundle.run({"x:0": np.array([[x]], np.float32)}, ["y:0"])["y:0"]

    def test_load_and_unload(self):
        make = factory_lib.make_loader_factory(factory_lib.BundleOptions())
        loader = make("hp2", 2, os.path.join(self.base, "2"))
        self.assertIsInstance(loader, loader_lib.Loader)
        self.assertIsNone(loader.servable())
        loader.load()
        bundle = loader.servable()
        self.assertIsInstance(bundle, saved_model_bundle.SavedModelBundle)
        np.testing.assert_allclose([[6.0]], self._y(bundle, 2.0))
        session, graph = weakref.ref(bundle.session), weakref.ref(bundle.graph)
        loader.unload()
        self.assertIsNone(loader.servable())
        # The Session and the graph are gone (the graph's reference cycles
        # collected) even though the test still holds the bundle.
        self.assertIsNone(session())
        self.assertIsNone(graph())
        with self.assertRaises(status.ServingError) as cm:
            self._y(bundle, 2.0)
        self.assertEqual(grpc.StatusCode.UNAVAILABLE, cm.exception.code)

    def test_versions_differ(self):
        make = factory_lib.make_loader_factory()
        values = []
        for version in (1, 2):
            loader = make("hp2", version, os.path.join(self.base, str(version)))
            loader.load()
            values.append(float(self._y(loader.servable(), 0.0)[0, 0]))
            loader.unload()
        self.assertEqual([2.0, 5.0], values)

    def test_missing_dir_fails_load(self):
        loader = factory_lib.make_loader_factory()(
            "hp2", 3, os.path.join(self.base, "3"))
        with self.assertRaises(status.ServingError) as cm:
            loader.load()
        self.assertEqual(grpc.StatusCode.NOT_FOUND, cm.exception.code)

    def _copy_with_warmup(self, name, requests):
        export_dir = os.path.join(self.base, name)
        hp2.export_half_plus_two(export_dir)
        hp2.write_warmup_requests(export_dir, requests)
        return export_dir

    def test_warmup_runs_before_load_returns(self):
        request = predict_pb2.PredictRequest()
        request.inputs["x"].dtype = 1  # DT_FLOAT
        request.inputs["x"].tensor_shape.dim.add().size = 1
        request.inputs["x"].tensor_shape.dim.add().size = 1
        request.inputs["x"].float_val.append(1.0)
        export_dir = self._copy_with_warmup("warm", [request, request])
        calls = []
        real = warmup.run_warmup_request

        def counting(handle, log):
            calls.append(handle.id)
            return real(handle, log)

        warmup.run_warmup_request = counting
        self.addCleanup(setattr, warmup, "run_warmup_request", real)
        options = factory_lib.BundleOptions(num_request_iterations_for_warmup=2)
        loader = factory_lib.make_loader_factory(options)("hp2", 4, export_dir)
        loader.load()
        self.assertLen(calls, 4)
        self.assertEqual(("hp2", 4), tuple(calls[0]))
        loader.unload()

        calls.clear()
        options = factory_lib.BundleOptions(enable_model_warmup=False)
        loader = factory_lib.make_loader_factory(options)("hp2", 4, export_dir)
        loader.load()
        self.assertEqual([], calls)
        loader.unload()

    def test_bad_warmup_file_fails_load(self):
        request = predict_pb2.PredictRequest()
        request.inputs["wrong"].dtype = 1
        export_dir = self._copy_with_warmup("badwarm", [request])
        loader = factory_lib.make_loader_factory()("hp2", 5, export_dir)
        with self.assertRaises(status.ServingError) as cm:
            loader.load()
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, cm.exception.code)
        self.assertIn("tf_serving_warmup_requests", cm.exception.message)
        self.assertIn("wrong", cm.exception.message)
        self.assertIsNone(loader.servable())

    def test_batching(self):
        options = factory_lib.BundleOptions(
            batching_options=batching_session.BatchingOptions(
                max_batch_size=4, num_batch_threads=1))
        loader = factory_lib.make_loader_factory(options)(
            "hp2", 1, os.path.join(self.base, "1"))
        loader.load()
        bundle = loader.servable()
        out = bundle.run({"x:0": np.array([[2.0]], np.float32)}, ["y:0"],
                         batchable=True)
        np.testing.assert_allclose([[3.0]], out["y:0"])
        self.assertIsNotNone(bundle._batching)  # pylint: disable=protected-access
        loader.unload()


def _copy_tree(source, target):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    for directory, _, files in tf.io.gfile.walk(source):
        relative = os.path.relpath(directory, source)
        destination = target if relative == "." else f"{target}/{relative}"
        tf.io.gfile.makedirs(destination)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), f"{destination}/{name}",
                             overwrite=True)


class RamFileSystemTest(absltest.TestCase):
    """A version on TensorFlow's in-memory file system loads like a local one."""

    def test_load_warmup_and_per_model_batching_from_ram(self):
        import tensorflow as tf  # pylint: disable=g-import-not-at-top
        local = os.path.join(self.create_tempdir().full_path, "1")
        hp2.export_half_plus_two(local, b=2.0)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "m"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto([[1.0]], tf.float32))
        hp2.write_warmup_requests(local, [request, request])
        with open(os.path.join(local, factory_lib.BATCHING_PARAMS_FILENAME), "w") as f:
            f.write("max_batch_size { value: 4 } allowed_batch_sizes: [2, 4]\n")
        export_dir = "ram://bundle_factory_test/m/1"
        _copy_tree(local, export_dir)
        options = factory_lib.BundleOptions(
            batching_options=batching_session.BatchingOptions(
                num_batch_threads=1, thread_pool_name="shared"),
            enable_per_model_batching_params=True)
        loader = factory_lib.make_loader_factory(options)("m", 1, export_dir)
        loader.load()
        try:
            bundle = loader.servable()
            batching = bundle._batching_session().options  # pylint: disable=protected-access
            self.assertEqual((batching.max_batch_size, batching.allowed_batch_sizes,
                              batching.num_batch_threads, batching.thread_pool_name),
                             (4, (2, 4), 1, "shared"))
            self.assertEqual(
                bundle.run({"x:0": np.array([[4.0]], np.float32)}, ["y:0"],
                           batchable=True)["y:0"].tolist(), [[4.0]])
        finally:
            loader.unload()

    def test_per_model_batching_without_a_file_does_not_batch(self):
        local = os.path.join(self.create_tempdir().full_path, "1")
        hp2.export_half_plus_two(local, b=2.0)
        options = factory_lib.BundleOptions(
            batching_options=batching_session.BatchingOptions(num_batch_threads=1),
            enable_per_model_batching_params=True)
        self.assertIsNone(factory_lib.per_model_batching_options(
            local, options.batching_options))


if __name__ == "__main__":
    absltest.main()

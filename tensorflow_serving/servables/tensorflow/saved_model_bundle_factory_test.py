"""SavedModelBundle (loading, what the native data plane borrows, close) and the
Loader lifecycle: load (native bundle, warmup, batching), servable, unload.

Versions are served by the real native data plane, as in the server.
"""

import gc
import os
import tempfile
import weakref

# pylint: disable=g-import-not-at-top,g-bad-import-order
# The native data plane loads before TensorFlow, as in the server.
from tensorflow_serving.model_servers import native_data_plane
native_data_plane.preload()

import grpc
from absl.testing import absltest
from tensorflow.core.protobuf import config_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.batching import batching_parameters
from tensorflow_serving.core import loader as loader_lib
from tensorflow_serving.servables.tensorflow import saved_model_bundle_factory as factory_lib
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)
from tensorflow_serving.util import status
# pylint: enable=g-import-not-at-top,g-bad-import-order


def _request(x: float) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "hp2"
    tensor = request.inputs["x"]
    tensor.dtype = 1  # DT_FLOAT
    tensor.tensor_shape.dim.add().size = 1
    tensor.tensor_shape.dim.add().size = 1
    tensor.float_val.append(x)
    return request


class _Plane:
    """The native data plane's make_bundle, counting the bundles it makes and
    the batching options they got."""

    def __init__(self):
        self._plane = native_data_plane.NativeDataPlane(native_data_plane.load())
        self.batching = []

    def make_bundle(self, servable, batching_options):
        self.batching.append(batching_options)
        return self._plane.make_bundle(servable, batching_options)


class SavedModelBundleFactoryTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plane = _Plane()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.base = cls._tmp.name
        hp2.export_half_plus_two(os.path.join(cls.base, "1"), b=2.0)
        hp2.export_half_plus_two(os.path.join(cls.base, "2"), b=5.0)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
        super().tearDownClass()

    def _factory(self, **options):
        return factory_lib.make_loader_factory(
            factory_lib.BundleOptions(make_native_bundle=self.plane.make_bundle, **options))

    def _y(self, bundle, x, version=1):
        code, message, body = bundle.native.run(
            "Predict", _request(x).SerializeToString(), version)
        self.assertEqual(0, code, message)
        response = predict_pb2.PredictResponse.FromString(body)
        self.assertEqual(version, response.model_spec.version.value)
        return list(response.outputs["y"].float_val)

    def test_load_and_unload(self):
        loader = self._factory()("hp2", 2, os.path.join(self.base, "2"))
        self.assertIsInstance(loader, loader_lib.Loader)
        self.assertIsNone(loader.servable())
        loader.load()
        bundle = loader.servable()
        self.assertIsInstance(bundle, factory_lib.SavedModelBundle)
        self.assertEqual([6.0], self._y(bundle, 2.0, version=2))
        session, graph = weakref.ref(bundle.session), weakref.ref(bundle.graph)
        native = bundle.native
        loader.unload()
        self.assertIsNone(loader.servable())
        # The Session and the graph are gone (the graph's reference cycles
        # collected) even though the test still holds the bundle; the native
        # side has let go of them first.
        self.assertIsNone(session())
        self.assertIsNone(graph())
        self.assertIsNone(bundle.native)
        with self.assertRaises(RuntimeError):
            native.run("Predict", _request(2.0).SerializeToString(), 2)

    def test_versions_differ(self):
        values = []
        for version in (1, 2):
            loader = self._factory()("hp2", version, os.path.join(self.base, str(version)))
            loader.load()
            values += self._y(loader.servable(), 0.0, version)
            loader.unload()
        self.assertEqual([2.0, 5.0], values)

    def test_missing_dir_fails_load(self):
        loader = self._factory()("hp2", 3, os.path.join(self.base, "3"))
        with self.assertRaises(status.ServingError) as cm:
            loader.load()
        self.assertEqual(grpc.StatusCode.NOT_FOUND, cm.exception.code)

    def test_warmup_runs_natively_before_load_returns(self):
        export_dir = os.path.join(self.create_tempdir().full_path, "4")
        hp2.export_half_plus_two(export_dir)
        hp2.write_warmup_requests(export_dir, [_request(1.0), _request(2.0)])
        loader = self._factory(num_request_iterations_for_warmup=2)("hp2", 4, export_dir)
        loader.load()
        loader.unload()
        # A warmup request the model refuses fails the load, naming the file.
        bad = predict_pb2.PredictRequest()
        bad.inputs["wrong"].dtype = 1
        hp2.write_warmup_requests(export_dir, [bad])
        loader = self._factory()("hp2", 4, export_dir)
        with self.assertRaises(status.ServingError) as cm:
            loader.load()
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, cm.exception.code)
        self.assertIn("tf_serving_warmup_requests", cm.exception.message)
        self.assertIn("wrong", cm.exception.message)
        self.assertIsNone(loader.servable())
        # Without warmup the same version loads.
        loader = self._factory(enable_model_warmup=False)("hp2", 4, export_dir)
        loader.load()
        loader.unload()

    def test_batching_options_reach_the_native_bundle(self):
        options = batching_parameters.BatchingOptions(max_batch_size=4, num_batch_threads=1)
        loader = self._factory(batching_options=options)("hp2", 1, os.path.join(self.base, "1"))
        loader.load()
        try:
            self.assertIs(options, self.plane.batching[-1])
            self.assertEqual([3.0], self._y(loader.servable(), 2.0))
        finally:
            loader.unload()


class SavedModelBundleTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.export_dir = os.path.join(cls._tmp.name, "1")
        hp2.export_half_plus_two(cls.export_dir, b=3.0)
        cls.bundle = factory_lib.SavedModelBundle(cls.export_dir)

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

    def test_native_parts_name_every_signature_tensor(self):
        session, operations, signatures, run_options, deadline_run_options = (
            self.bundle.native_parts())
        self.assertIsNotNone(session)
        meta_graph = meta_graph_pb2.MetaGraphDef.FromString(signatures)
        self.assertCountEqual(self.bundle.signature_defs, meta_graph.signature_def)
        for signature in meta_graph.signature_def.values():
            for info in list(signature.inputs.values()) + list(signature.outputs.values()):
                self.assertIn(info.name.rpartition(":")[0], operations)
        # A small graph: its runs go on the request thread, with a timeout too.
        self.assertEqual(-1, config_pb2.RunOptions.FromString(run_options).inter_op_thread_pool)
        self.assertEqual(
            -1, config_pb2.RunOptions.FromString(deadline_run_options).inter_op_thread_pool)

    def test_which_runs_go_on_the_calling_thread(self):
        graph_def = self.bundle.meta_graph_def.graph_def
        self.assertEqual((True, True), factory_lib._inline_runs(graph_def))

        def with_op(op):
            changed = type(graph_def)()
            changed.CopyFrom(graph_def)
            changed.library.function.add().node_def.add(name="n", op=op)
            return factory_lib._inline_runs(changed)
        self.assertEqual((False, False), with_op("FIFOQueueV2"))
        # A run that could loop for hours goes inline only without a timeout.
        for op in ("StatelessWhile", "Enter", "ReduceDataset", "EagerPyFunc"):
            self.assertEqual((True, False), with_op(op), op)
        # An explicit inter-op setting is the user's choice: no inline runs.
        bundle = factory_lib.SavedModelBundle(
            self.export_dir, inter_op_parallelism=2)
        try:
            _, _, _, run_options, deadline_run_options = bundle.native_parts()
            self.assertEqual(b"", run_options)
            self.assertEqual(b"", deadline_run_options)
        finally:
            bundle.close()

    def test_missing_saved_model_is_not_found(self):
        self.assertError(grpc.StatusCode.NOT_FOUND,
                         ["Could not find SavedModel", self._tmp.name],
                         factory_lib.SavedModelBundle, self._tmp.name)

    def test_wrong_tags_is_not_found(self):
        self.assertError(grpc.StatusCode.NOT_FOUND, ["{ gpu }"],
                         factory_lib.SavedModelBundle,
                         self.export_dir, ("gpu",))

    def test_close_lets_go_of_the_session_and_graph(self):
        bundle = factory_lib.SavedModelBundle(self.export_dir)
        bundle.native = object()
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
        self.assertIsNone(bundle.native)
        self.assertEqual({}, bundle.signature_defs)



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
        plane = _Plane()
        local = os.path.join(self.create_tempdir().full_path, "1")
        hp2.export_half_plus_two(local, b=2.0)
        hp2.write_warmup_requests(local, [_request(1.0), _request(1.0)])
        with open(os.path.join(local, factory_lib.BATCHING_PARAMS_FILENAME), "w") as f:
            f.write("max_batch_size { value: 4 } allowed_batch_sizes: [2, 4]\n")
        export_dir = "ram://bundle_factory_test/m/1"
        _copy_tree(local, export_dir)
        options = factory_lib.BundleOptions(
            make_native_bundle=plane.make_bundle,
            batching_options=batching_parameters.BatchingOptions(
                num_batch_threads=1, thread_pool_name="shared"),
            enable_per_model_batching_params=True)
        loader = factory_lib.make_loader_factory(options)("m", 1, export_dir)
        loader.load()
        try:
            batching = plane.batching[-1]
            self.assertEqual((batching.max_batch_size, batching.allowed_batch_sizes,
                              batching.num_batch_threads, batching.thread_pool_name),
                             (4, (2, 4), 1, "shared"))
            code, message, body = loader.servable().native.run(
                "Predict", _request(4.0).SerializeToString(), 1)
            self.assertEqual(0, code, message)
            self.assertEqual([4.0], list(
                predict_pb2.PredictResponse.FromString(body).outputs["y"].float_val))
        finally:
            loader.unload()

    def test_per_model_batching_without_a_file_does_not_batch(self):
        local = os.path.join(self.create_tempdir().full_path, "1")
        hp2.export_half_plus_two(local, b=2.0)
        self.assertIsNone(factory_lib.per_model_batching_options(
            local, batching_parameters.BatchingOptions(num_batch_threads=1)))


if __name__ == "__main__":
    absltest.main()

"""Loads SavedModels: the SavedModelBundle (a TF1 Session on its graph, plus
its SignatureDefs) and the Loaders ServerCore manages (upstream's
SavedModelBundleFactory + SavedModelBundleSourceAdapter).

Loading is the control plane's, in Python: requests never run through a
SavedModelBundle, the native data plane borrows its Session (native_parts())
and runs every request in C++, and close() waits, through a close callback,
until the native side has let go of it.

A Loader's load() opens the SavedModel, hands its Session to the native data
plane (BundleOptions.make_native_bundle, batching as configured) and replays
its warmup requests through it, before the manager marks the version
AVAILABLE; unload() lets the native side go, closes and deletes the Session
and gives the version's memory back to the operating system
(memory_release). With per-model batching parameters, a version's own
`batching_params.pbtxt` says how it batches (and a version without one does
not batch), while the batch threads' count and name stay the server's, as
upstream's shared scheduler. Each load is counted in TensorFlow's SavedModel
load metrics.
"""

import dataclasses
import os
import threading
import time
from typing import Callable, Sequence

from absl import logging
import grpc
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.core.protobuf import meta_graph_pb2
# What tf.compat.v1.saved_model.loader.load runs, without the deprecation
# warning that function logs on every load (upstream's C++ loader has none).
from tensorflow.python.saved_model import loader_impl

from tensorflow_serving.batching import batching_parameters
from tensorflow_serving.core import loader as loader_lib
from tensorflow_serving.core import servable_id as servable_id_lib
from tensorflow_serving.servables.tensorflow import warmup
from tensorflow_serving.util import memory_release
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import status

BATCHING_PARAMS_FILENAME = "batching_params.pbtxt"

# TensorFlow's own SavedModel load metrics (tensorflow/cc/saved_model), which
# upstream's C++ loader records.
_load_attempt_count = monitoring.Counter(
    "/tensorflow/cc/saved_model/load_attempt_count",
    "SavedModel loads, by path and outcome (success or fail).", ("model_path", "status"))
_load_latency = monitoring.Counter(
    "/tensorflow/cc/saved_model/load_latency",
    "Total microseconds spent loading SavedModels, by path.", ("model_path",))


def from_op_error(e: tf.errors.OpError) -> status.ServingError:
    """A TensorFlow runtime error as a ServingError with the same code."""
    try:
        code = next(c for c in grpc.StatusCode if c.value[0] == e.error_code)
    except StopIteration:
        code = grpc.StatusCode.UNKNOWN
    return status.ServingError(code, e.message)


# Graphs up to this many nodes (functions included) count as small.
_MAX_INLINE_NODES = 1000
# Ops that may block a step waiting for another op of the same step or for
# another step: they need TF's inter-op pool.
_BLOCKING_OP_PARTS = ("Queue", "Barrier", "Stage", "Accumulator")
# Ops that may repeat work without bound: loops (TF2's functional ones and
# TF1's frames), tf.data pipelines, Python functions, RPCs and collectives.
_UNBOUNDED_OPS = frozenset({"While", "StatelessWhile", "_While", "For", "Enter",
                            "RefEnter", "NextIteration", "RefNextIteration",
                            "LoopCond"})
_UNBOUNDED_OP_PARTS = ("Dataset", "Iterator", "PyFunc", "Rpc", "Collective")


def _inline_runs(graph_def) -> tuple[bool, bool]:
    """Which runs of this graph may go on the caller's thread.

    Returns (runs without a timeout, runs with one). A run on the calling
    thread never checks its timeout: TensorFlow's DirectSession waits for it
    only after its last op has run. Where every run is a bounded sequence of
    ops that costs at most the graph once more, as the inter-op pool too lets
    an op already running finish; but a loop or a tf.data pipeline could go
    on for hours, so runs of those graphs with a timeout go through the
    inter-op pool, where TensorFlow cancels them when it expires.
    """
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    if len(nodes) > _MAX_INLINE_NODES or any(
            part in node.op for node in nodes for part in _BLOCKING_OP_PARTS):
        return False, False
    bounded = not any(node.op in _UNBOUNDED_OPS or
                      any(part in node.op for part in _UNBOUNDED_OP_PARTS)
                      for node in nodes)
    return True, bounded


def _saved_model_file(export_dir: str) -> str:
    """The file a SavedModel loads from: saved_model.pb, else saved_model.pbtxt."""
    binary = os.path.join(export_dir, "saved_model.pb")
    return binary if tf.io.gfile.exists(binary) else binary + "txt"


class SavedModelBundle:
    """Owns the Session; thread-safe; close() releases everything."""

    def __init__(self, export_dir: str, tags: Sequence[str] = ("serve",),
                 intra_op_parallelism: int = 0, inter_op_parallelism: int = 0,
                 session_config=None):
        self.export_dir = export_dir
        if not any(tf.io.gfile.exists(os.path.join(export_dir, f))
                   for f in ("saved_model.pb", "saved_model.pbtxt")):
            raise status.not_found(
                "Could not find SavedModel .pb or .pbtxt at supplied export "
                f"directory path: {export_dir}")
        v1 = tf.compat.v1
        # --tensorflow_session_config_file's ConfigProto, whose thread counts
        # the parallelism flags always set, as upstream.
        config = v1.ConfigProto()
        if session_config is not None:
            config.CopyFrom(session_config)
        config.intra_op_parallelism_threads = intra_op_parallelism
        config.inter_op_parallelism_threads = inter_op_parallelism
        self.graph = tf.Graph()
        self.session = v1.Session(graph=self.graph, config=config)
        try:
            with self.graph.as_default():
                self.meta_graph_def = loader_impl.SavedModelLoader(export_dir).load(
                    self.session, list(tags))
        except OSError as e:
            self.session.close()
            if e.__cause__ is None:
                raise
            # saved_model.pb(txt) is not a SavedModel: upstream's reader says
            # so as below (TensorFlow's Python text names the file as a bytes
            # value, b'/m/1/saved_model.pb').
            path = _saved_model_file(export_dir)
            kind = "text" if path.endswith(".pbtxt") else "binary"
            raise status.data_loss(f"Can't parse {path} as {kind} proto") from e
        except RuntimeError as e:  # No MetaGraphDef with these tags.
            self.session.close()
            raise status.not_found(
                f"Could not find meta graph def matching supplied tags "
                f"{{ {' '.join(tags)} }} in {export_dir}: {e}") from e
        except tf.errors.OpError as e:
            self.session.close()
            raise from_op_error(e) from e
        except Exception:
            self.session.close()
            raise
        self.graph.finalize()
        # Small graphs run their ops on the calling (request) thread: handing
        # each step to TF's inter-op pool and waiting for it costs more than
        # the ops themselves (about half of a small model's Session call).
        # Only when the user left inter-op parallelism to TensorFlow, and
        # with a timeout only where a run cannot outlast it (_inline_runs).
        self._run_options = None                           # runs without a timeout
        self._timed_run_options = config_pb2.RunOptions()  # those with one, but it
        if inter_op_parallelism == 0:
            untimed, timed = _inline_runs(self.meta_graph_def.graph_def)
            if untimed:
                self._run_options = config_pb2.RunOptions(inter_op_thread_pool=-1)
            if timed:
                self._timed_run_options.inter_op_thread_pool = -1
        self.signature_defs = dict(self.meta_graph_def.signature_def)
        # The native data plane's Bundle of this version, which serves its
        # requests (set by the loader; its retire() is a close callback).
        self.native = None
        self._lock = threading.Lock()
        self._closed = False
        self._close_callbacks = []

    def native_parts(self):
        """What a native data plane borrows to serve this bundle's signatures.

        Returns (the Session's TF_Session object, {graph node name: its
        TF_Operation object} for every node the signatures name, the
        signatures as a serialized MetaGraphDef, the serialized RunOptions
        of every run without a timeout, and those every run with a timeout
        adds its timeout_in_ms to). The Session stays this bundle's: register
        a close callback that returns only once the borrower is done with it.
        """
        operations = {}
        signatures = meta_graph_pb2.MetaGraphDef()
        for name, signature in self.signature_defs.items():
            signatures.signature_def[name].CopyFrom(signature)
            infos = list(signature.inputs.values()) + list(signature.outputs.values())
            for info in infos:
                if info.WhichOneof("encoding") != "name":
                    continue
                node, sep, index = info.name.rpartition(":")
                if not sep or not index.isdigit():
                    node = info.name
                try:
                    operations[node] = self.graph.get_operation_by_name(node)._c_op  # pylint: disable=protected-access
                except (KeyError, ValueError):
                    pass
        run_options = (self._run_options.SerializeToString()
                       if self._run_options is not None else b"")
        return (self.session._session, operations,  # pylint: disable=protected-access
                signatures.SerializeToString(), run_options,
                self._timed_run_options.SerializeToString())

    def add_close_callback(self, callback) -> None:
        """Runs callback() first thing in close(), before the Session closes."""
        with self._lock:
            self._close_callbacks.append(callback)

    def close(self) -> None:
        """Lets the native side go (close callbacks), then closes and deletes
        the Session.

        Everything the version holds goes with it: the Session (its tensors),
        the graph and the signatures, even while something still refers to
        this object. The graph's Python objects form reference cycles, which
        only the garbage collector frees (memory_release.release()).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # pylint: disable=broad-except
                logging.exception("A close callback of %s failed", self.export_dir)
        self.native = None
        session, self.session = self.session, None
        session.close()
        # Session.__del__ deletes the TF_Session, which owns the variables.
        del session
        self.graph = None
        self.meta_graph_def = None
        self.signature_defs = {}


@dataclasses.dataclass
class BundleOptions:
    # (a loaded SavedModelBundle, its BatchingOptions or None) -> the native
    # data plane's Bundle, whose run() serves warmup (NativeDataPlane.make_bundle).
    make_native_bundle: Callable[[SavedModelBundle, object], object]
    tags: tuple[str, ...] = ("serve",)
    intra_op_parallelism: int = 0
    inter_op_parallelism: int = 0
    batching_options: batching_parameters.BatchingOptions | None = None
    enable_per_model_batching_params: bool = False
    session_config: object | None = None  # tf.compat.v1.ConfigProto
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 1


def per_model_batching_options(export_dir: str, server_options):
    """The batching of one version under --enable_per_model_batching_parameters.

    None (no batching) without a batching_params.pbtxt in export_dir.
    """
    path = os.path.join(export_dir, BATCHING_PARAMS_FILENAME)
    if not tf.io.gfile.exists(path):
        return None
    options = batching_parameters.read_batching_parameters_file(path)
    options.num_batch_threads = server_options.num_batch_threads
    options.thread_pool_name = server_options.thread_pool_name
    logging.info("Batching %s with its own parameters: %s", export_dir, options)
    return options


class SavedModelBundleLoader(loader_lib.Loader):
    """One version directory of one model."""

    def __init__(self, name: str, version: int, export_dir: str,
                 options: BundleOptions):
        self.id = servable_id_lib.ServableId(name, version)
        self.export_dir = export_dir
        self.options = options
        self._bundle = None

    def _batching_options(self):
        options = self.options
        if options.batching_options is None or not options.enable_per_model_batching_params:
            return options.batching_options
        return per_model_batching_options(self.export_dir, options.batching_options)

    def _open_bundle(self):
        options = self.options
        start = time.monotonic()
        outcome = "fail"
        try:
            bundle = SavedModelBundle(
                self.export_dir, tags=options.tags,
                intra_op_parallelism=options.intra_op_parallelism,
                inter_op_parallelism=options.inter_op_parallelism,
                session_config=options.session_config)
            outcome = "success"
            return bundle
        finally:
            _load_attempt_count.increment_by((self.export_dir, outcome))
            _load_latency.increment_by(
                (self.export_dir,), int((time.monotonic() - start) * 1e6))

    def load(self) -> None:
        options = self.options
        # Pages the allocator keeps from earlier work (requests' buffers on
        # other threads' arenas) are not reused by this thread's load; handed
        # back first, they do not add to the peak of a rollover, when the
        # serving version and this one are both resident.
        memory_release.release(collect=False)
        bundle = self._open_bundle()
        try:
            bundle.native = options.make_native_bundle(bundle, self._batching_options())
            if options.enable_model_warmup:
                warmup.run_saved_model_warmup(
                    bundle.native, self.id.version, self.export_dir,
                    options.num_request_iterations_for_warmup)
        except BaseException:
            bundle.close()
            del bundle
            memory_release.release()
            raise
        self._bundle = bundle
        # The load has freed about a fifth of a version's size again (read
        # and parse buffers), which would stay resident next to the version.
        memory_release.release(collect=False)

    def unload(self) -> None:
        bundle, self._bundle = self._bundle, None
        if bundle is not None:
            bundle.close()
            del bundle
            released = memory_release.release()
            logging.info("Released the memory of servable version %s: %s",
                         self.id, released)

    def servable(self) -> SavedModelBundle:
        return self._bundle


def make_loader_factory(options: BundleOptions
                        ) -> Callable[[str, int, str], loader_lib.Loader]:
    """ServerCoreOptions.loader_factory: (name, version, dir) -> Loader."""
    if options.batching_options is not None:
        if options.enable_per_model_batching_params:
            logging.info("Batching models that have a %s, with %d shared batch "
                         "threads", BATCHING_PARAMS_FILENAME,
                         options.batching_options.num_batch_threads)
        else:
            logging.info("Batching every model: %s", options.batching_options)

    def factory(name: str, version: int, export_dir: str):
        return SavedModelBundleLoader(name, version, export_dir, options)

    return factory


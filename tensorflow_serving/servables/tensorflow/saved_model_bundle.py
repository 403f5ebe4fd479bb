"""A loaded SavedModel: a TF1 Session on its graph plus its SignatureDefs.

Upstream's SavedModelBundle (session + meta_graph_def). run() is the one entry
point every request handler uses: it feeds exactly what it is given, by tensor
name, and lets TensorFlow judge dtypes and shapes, as upstream's Session::Run
does. Runs use a cached Session callable (far cheaper per call than
Session.run) or, when batching is enabled, the bundle's BatchingSession.
"""

import bisect
import math
import os
import threading
import time
from typing import Mapping, Sequence

import grpc
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import config_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.python.client import pywrap_tf_session as tf_session

from tensorflow_serving.servables.tensorflow import request_metrics
from tensorflow_serving.util import run_options
from tensorflow_serving.util import status

# Callables kept per bundle: one per (feeds, fetches, timeout) that requests use.
_MAX_CALLABLES = 512
_RUNTIME_LATENCY_APIS = frozenset(("Predict", "Classify", "Regress"))
# Callables carry their RunOptions, so a request's timeout picks one of a
# ladder of callables whose timeouts grow by this factor: the run is cut off
# at most 5% after the request's own deadline, clients that use one deadline
# need one or two callables, and no signature ever needs more than the
# ladder's ~440 rungs (1 ms to 2**31 ms, upstream's "no deadline").
_TIMEOUT_STEP = 1.05
_TIMEOUT_LADDER_MAX_MS = 2**31 - 1


def _timeout_ladder():
    ladder, value = [], 1.0
    while value < _TIMEOUT_LADDER_MAX_MS:
        step = math.ceil(value)
        if not ladder or step > ladder[-1]:
            ladder.append(step)
        value *= _TIMEOUT_STEP
    ladder.append(_TIMEOUT_LADDER_MAX_MS)
    return ladder


_TIMEOUTS_MS = _timeout_ladder()


def _remaining_or_expired(options) -> float | None:
    """Seconds left for the current request's run; DEADLINE_EXCEEDED if none."""
    remaining = options.remaining_seconds()
    if remaining is not None and remaining <= 0:
        raise status.deadline_exceeded("Deadline exceeded before the model run")
    return remaining


def _timeout_in_ms() -> int:
    """RunOptions.timeout_in_ms for the current request's run (0: none)."""
    options = run_options.current()
    if options is None or options.deadline is None:
        return 0
    remaining_ms = math.ceil(_remaining_or_expired(options) * 1000)
    return _TIMEOUTS_MS[bisect.bisect_left(_TIMEOUTS_MS, remaining_ms)] \
        if remaining_ms < _TIMEOUT_LADDER_MAX_MS else _TIMEOUT_LADDER_MAX_MS


# How a Session callable words a feed of the wrong dtype.
_CALLABLE_TYPE_MISMATCH = "Type mismatch: actual "


def _unloading() -> status.ServingError:
    return status.unavailable("The model version is being unloaded")


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


class Signature:
    """One SignatureDef, pre-digested for the request handlers.

    Inputs are kept in alias order (the order upstream's errors list them);
    defaults stay TensorProtos, decoded per request as upstream does.
    """

    __slots__ = ("name", "proto", "method_name", "inputs", "defaults",
                 "outputs", "batchable")

    def __init__(self, name, signature_def):
        self.name = name
        self.proto = signature_def
        self.method_name = signature_def.method_name
        # ((alias, tensor name), ...) sorted by alias.
        self.inputs = tuple(sorted((alias, info.name) for alias, info
                                   in signature_def.inputs.items()))
        self.defaults = dict(signature_def.defaults)
        self.outputs = {alias: info.name
                        for alias, info in signature_def.outputs.items()}
        # Batching merges along dim 0: only signatures whose every input
        # declares a variable batch dimension are batched.
        self.batchable = bool(self.inputs) and all(
            not info.tensor_shape.unknown_rank and info.tensor_shape.dim
            and info.tensor_shape.dim[0].size == -1
            for info in signature_def.inputs.values())


def _batchable_feeds(feeds: Mapping[str, np.ndarray]) -> bool:
    """Whether the arrays can be merged along dim 0 (rank >= 1, equal dim 0)."""
    size = None
    for value in feeds.values():
        if value.ndim == 0:
            return False
        if size is None:
            size = value.shape[0]
        elif value.shape[0] != size:
            return False
    return size is not None


class SavedModelBundle:
    """Owns the Session; thread-safe; close() releases everything."""

    def __init__(self, export_dir: str, tags: Sequence[str] = ("serve",),
                 intra_op_parallelism: int = 0, inter_op_parallelism: int = 0,
                 batching_options=None, session_config=None):
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
                self.meta_graph_def = v1.saved_model.loader.load(
                    self.session, list(tags), export_dir)
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
        self._signatures = {name: Signature(name, sig)
                            for name, sig in self.signature_defs.items()}
        # (feed names, fetch names) -> Session callable.
        self._callables = {}
        self._batching_options = batching_options
        self._batching = None
        self._lock = threading.Lock()
        self._closed = False
        self._close_callbacks = []

    def signature(self, signature_name: str) -> Signature | None:
        """The digested SignatureDef named `signature_name`, or None."""
        return self._signatures.get(signature_name)

    def run(self, feeds: Mapping[str, np.ndarray], fetches: Sequence[str],
            batchable: bool = False) -> dict[str, np.ndarray]:
        """Runs the graph: feeds and results keyed by tensor name.

        With batching configured, a `batchable` call whose arrays share dim 0
        joins a batch; anything else runs on its own. TensorFlow's errors come
        back as ServingErrors with TensorFlow's code and message.
        """
        fetches = tuple(dict.fromkeys(fetches))
        options = run_options.current()
        start = time.perf_counter()
        if (batchable and self._batching_options is not None
                and _batchable_feeds(feeds)):
            batching = self._batching
            if batching is None:
                batching = self._batching_session()
            outputs = batching.run(
                feeds, fetches,
                timeout=_remaining_or_expired(options) if options else None)
        else:
            outputs = self._run_direct(feeds, fetches)
        if options is not None and options.api in _RUNTIME_LATENCY_APIS:
            request_metrics.record_runtime_latency(
                options.model_name, options.api, "TF1",
                (time.perf_counter() - start) * 1e6)
        return outputs

    def _batching_session(self):
        from tensorflow_serving.batching import batching_session  # pylint: disable=g-import-not-at-top
        with self._lock:
            if self._closed:
                raise _unloading()
            if self._batching is None:
                self._batching = batching_session.BatchingSession(
                    self._run_direct, self._batching_options)
            return self._batching

    def _run_direct(self, feeds, fetches) -> dict[str, np.ndarray]:
        key = (tuple(feeds), tuple(fetches), _timeout_in_ms())
        fn = self._callables.get(key)
        if fn is None:
            fn = self._make_callable(key)
        try:
            values = fn(*feeds.values())
        except tf.errors.OpError as e:
            if e.message.startswith(_CALLABLE_TYPE_MISMATCH):
                e = self._session_run_error(feeds, fetches) or e
            raise from_op_error(e) from e
        except UnicodeDecodeError as e:
            # TensorFlow's binding could not decode an error message that
            # quotes the request's own bytes (ParseExample's "Could not parse
            # example input, value: '...'", for one), and the error's code is
            # lost with it: such messages are about the request's data.
            raise status.invalid_argument(
                e.object.decode("utf-8", "backslashreplace")) from None
        return dict(zip(fetches, values))

    def _session_run_error(self, feeds, fetches):
        """The error Session::Run gives for feeds a callable refused, or None.

        A Session callable checks its feeds' dtypes itself, with a message of
        its own; upstream's Session::Run (and the native data plane's
        TF_SessionRun) report the same mistake as TensorFlow's executor does.
        Nothing ran, so running once more through Session::Run is harmless.
        """
        graph = self.graph
        try:
            feed_dict = {graph.get_tensor_by_name(name)._as_tf_output(): value  # pylint: disable=protected-access
                         for name, value in feeds.items()}
            fetch_list = [graph.get_tensor_by_name(name)._as_tf_output()  # pylint: disable=protected-access
                          for name in fetches]
            tf_session.TF_SessionRun_wrapper(self.session._session, None, feed_dict,  # pylint: disable=protected-access
                                             fetch_list, [], None)
        except tf.errors.OpError as e:
            return e
        except (KeyError, ValueError, TypeError):
            return None
        return None

    def _make_callable(self, key):
        feed_names, fetch_names, timeout_in_ms = key
        with self._lock:
            fn = self._callables.get(key)
            if fn is None:
                if self._closed:
                    raise _unloading()
                # Session.make_callable with feeds just wraps Session.run;
                # a C++ callable (Session::MakeCallable) skips the per-call
                # feed/fetch bookkeeping, several times faster on small models.
                try:
                    fn = self.session._make_callable_from_options(  # pylint: disable=protected-access
                        config_pb2.CallableOptions(
                            feed=feed_names, fetch=fetch_names,
                            run_options=self._run_options_with_timeout(timeout_in_ms)))
                except tf.errors.OpError as e:
                    raise from_op_error(e) from e
                if len(self._callables) >= _MAX_CALLABLES:
                    self._callables.clear()
                self._callables[key] = fn
            return fn

    def _run_options_with_timeout(self, timeout_in_ms: int):
        if not timeout_in_ms:
            return self._run_options
        options = config_pb2.RunOptions(timeout_in_ms=timeout_in_ms)
        options.MergeFrom(self._timed_run_options)
        return options

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

    @property
    def batching_options(self):
        """The BatchingOptions this bundle batches with, or None."""
        return self._batching_options

    def add_close_callback(self, callback) -> None:
        """Runs callback() first thing in close(), before the Session closes."""
        with self._lock:
            self._close_callbacks.append(callback)

    def close(self) -> None:
        """Stops batching (finishing queued work), then closes and deletes the Session.

        Everything the version holds goes with it: the Session (its tensors),
        the callables, the graph and the signatures, even while something
        still refers to this object. The graph's Python objects form
        reference cycles, which only the garbage collector frees
        (memory_release.release()).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            batching, self._batching = self._batching, None
            callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # pylint: disable=broad-except
                logging.exception("A close callback of %s failed", self.export_dir)
        if batching is not None:
            batching.close()
        self._callables.clear()
        session, self.session = self.session, None
        session.close()
        # Session.__del__ deletes the TF_Session, which owns the variables.
        del session
        self.graph = None
        self.meta_graph_def = None
        self._signatures = {}
        self.signature_defs = {}

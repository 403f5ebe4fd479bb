"""A loaded SavedModel: a TF1 Session on its graph plus its SignatureDefs.

run() is the one entry point every request handler uses. It validates the
request against the signature (alias, dtype, shape) so clients get
INVALID_ARGUMENT messages that name what was wrong, then runs a cached
Session.make_callable (far cheaper per call than Session.run) — or, when
batching is enabled, goes through one BatchingSession per signature.
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
from tensorflow.core.protobuf import config_pb2

from tensorflow_serving.servables.tensorflow import request_metrics
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.util import run_options
from tensorflow_serving.util import status

_DEFAULT_SIGNATURE = "serving_default"
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


def signature_not_found(signature_name: str) -> status.ServingError:
    """Upstream Predict's error for an unknown signature key."""
    return status.failed_precondition(
        f'Serving signature key "{signature_name}" not found.')


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


def _runs_well_inline(graph_def) -> bool:
    """Whether steps of this graph may run on the caller's thread."""
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    if len(nodes) > _MAX_INLINE_NODES:
        return False
    return not any(part in node.op for node in nodes
                   for part in _BLOCKING_OP_PARTS)


def _shape_str(dims) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


class _Signature:
    """One SignatureDef, pre-digested for per-request validation."""

    __slots__ = ("name", "inputs", "outputs", "defaults", "input_names",
                 "output_names", "batchable", "_alias_list", "_output_list",
                 "_valid")

    def __init__(self, name, signature_def):
        self.name = name
        # alias -> (tensor name, dtype enum, dims tuple or None if unknown rank)
        self.inputs = {}
        for alias, info in signature_def.inputs.items():
            shape = info.tensor_shape
            dims = None if shape.unknown_rank else tuple(
                d.size for d in shape.dim)
            self.inputs[alias] = (info.name, info.dtype, dims)
        self.outputs = {alias: info.name
                        for alias, info in signature_def.outputs.items()}
        self.defaults = {}
        for alias, proto in getattr(signature_def, "defaults", {}).items():
            self.defaults[alias] = tensor_util.to_ndarray(proto, alias)
        self._alias_list = ",".join(sorted(self.inputs))
        self._output_list = ",".join(sorted(self.outputs))
        # Batching merges along dim 0, so every input needs a batch dimension.
        self.batchable = bool(self.inputs) and all(
            dims is not None and len(dims) >= 1 and dims[0] == -1
            for _, _, dims in self.inputs.values())
        # Request layouts that passed check_inputs: ((alias, dtype, shape),
        # ...) in request order -> aliases in signature order. Requests
        # repeat the same few layouts, so most skip the checks below.
        self._valid = {}

    def check_aliases(self, aliases) -> None:
        for alias in aliases:
            if alias not in self.inputs:
                raise status.invalid_argument(
                    f"input tensor alias not found in signature: {alias}. "
                    f"Inputs expected to be in the set {{{self._alias_list}}}.")

    def check_inputs(self, inputs: Mapping[str, np.ndarray]) -> dict:
        key = tuple([(alias, value.dtype, value.shape)
                     if type(value) is np.ndarray else None
                     for alias, value in inputs.items()])
        order = self._valid.get(key)
        if order is not None:
            return {alias: inputs[alias] for alias in order}
        checked = self._check_inputs(inputs)
        # Remember layouts that needed no defaults and no conversion.
        if len(checked) == len(key) and None not in key and all(
                checked[alias] is value for alias, value in inputs.items()):
            if len(self._valid) >= 1024:
                self._valid.clear()
            self._valid[key] = tuple(checked)
        return checked

    def _check_inputs(self, inputs: Mapping[str, np.ndarray]) -> dict:
        self.check_aliases(inputs)
        checked = {}
        for alias, (_, dtype, dims) in self.inputs.items():
            value = inputs.get(alias)
            if value is None:
                value = self.defaults.get(alias)
                if value is None:
                    raise status.invalid_argument(
                        f"Signature input alias: {alias} not found in request "
                        "and no defaults were provided.")
            elif type(value) is not np.ndarray:
                value = np.asarray(value)
            if value.dtype.kind == "U":  # TF feeds want bytes, not str.
                value = np.vectorize(str.encode, otypes=[object])(value)
            got = tensor_util.numpy_to_dtype(value.dtype)
            if got != dtype:
                raise status.invalid_argument(
                    f"input tensor alias {alias}: expected dtype "
                    f"{tensor_util.dtype_name(dtype)} but got "
                    f"{tensor_util.dtype_name(got) if got is not None else value.dtype}")
            if dims is not None:
                shape = value.shape
                if len(shape) != len(dims) or any(
                        d != -1 and d != s for d, s in zip(dims, shape)):
                    raise status.invalid_argument(
                        f"input tensor alias {alias}: expected shape "
                        f"{_shape_str(dims)} but got {_shape_str(shape)}")
            checked[alias] = value
        return checked

    def check_outputs(self, output_keys: Sequence[str]) -> tuple[str, ...]:
        if not output_keys:
            return tuple(self.outputs)
        seen = set()
        for alias in output_keys:
            if alias not in self.outputs:
                raise status.invalid_argument(
                    f"output tensor alias not found in signature: {alias} "
                    f"Outputs expected to be in the set {{{self._output_list}}}.")
            if alias in seen:
                raise status.invalid_argument(
                    f"duplicate output tensor alias: {alias}")
            seen.add(alias)
        return tuple(output_keys)


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
        # Only when the user left inter-op parallelism to TensorFlow.
        self._run_options = None
        if inter_op_parallelism == 0 and _runs_well_inline(
                self.meta_graph_def.graph_def):
            self._run_options = config_pb2.RunOptions(inter_op_thread_pool=-1)
        self.signature_defs = dict(self.meta_graph_def.signature_def)
        self._signatures = {name: _Signature(name, sig)
                            for name, sig in self.signature_defs.items()}
        self._callables = {}
        # Request handlers remember here which (signature, input aliases)
        # already passed their signature-level checks (see predict_util).
        self.checked_requests = set()
        self._batching_options = batching_options
        self._batching_sessions = {}
        self._lock = threading.Lock()
        self._closed = False

    def signature(self, signature_name: str):
        """The SignatureDef, or FAILED_PRECONDITION as upstream's Predict."""
        sig = self.signature_defs.get(signature_name)
        if sig is None:
            raise signature_not_found(signature_name)
        return sig

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray],
            output_keys: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Runs a signature; inputs/outputs keyed by alias (all outputs if none)."""
        sig = self._signatures.get(signature_name)
        if sig is None:
            raise signature_not_found(signature_name)
        feeds = sig.check_inputs(inputs)
        output_keys = sig.check_outputs(output_keys)
        options = run_options.current()
        start = time.perf_counter()
        if self._batching_options is not None and sig.batchable:
            batching = self._batching_sessions.get(signature_name)
            if batching is None:
                batching = self._batching_session(sig)
            outputs = batching.run(
                feeds, output_keys,
                timeout=_remaining_or_expired(options) if options else None)
        else:
            outputs = self._run_direct(sig, feeds, output_keys)
        if options is not None and options.api in _RUNTIME_LATENCY_APIS:
            request_metrics.record_runtime_latency(
                options.model_name, options.api, "TF1",
                (time.perf_counter() - start) * 1e6)
        return outputs

    def _batching_session(self, sig):
        from tensorflow_serving.batching import batching_session  # pylint: disable=g-import-not-at-top
        with self._lock:
            if self._closed:
                raise status.unavailable(
                    f"Model at {self.export_dir} is being unloaded")
            session = self._batching_sessions.get(sig.name)
            if session is None:
                session = batching_session.BatchingSession(
                    lambda feeds, keys: self._run_direct(sig, feeds, keys),
                    self._batching_options)
                self._batching_sessions[sig.name] = session
            return session

    def _run_direct(self, sig, feeds, output_keys):
        key = (sig.name, tuple(feeds), tuple(output_keys), _timeout_in_ms())
        fn = self._callables.get(key)
        if fn is None:
            fn = self._make_callable(sig, key)
        try:
            values = fn(*feeds.values())
        except tf.errors.OpError as e:
            raise from_op_error(e) from e
        return dict(zip(output_keys, values))

    def _make_callable(self, sig, key):
        _, input_aliases, output_keys, timeout_in_ms = key
        with self._lock:
            fn = self._callables.get(key)
            if fn is None:
                if self._closed:
                    raise status.unavailable(
                        f"Model at {self.export_dir} is being unloaded")
                # Session.make_callable with feeds just wraps Session.run;
                # a C++ callable (Session::MakeCallable) skips the per-call
                # feed/fetch bookkeeping, several times faster on small models.
                fn = self.session._make_callable_from_options(  # pylint: disable=protected-access
                    config_pb2.CallableOptions(
                        feed=[sig.inputs[a][0] for a in input_aliases],
                        fetch=[sig.outputs[k] for k in output_keys],
                        run_options=self._run_options_with_timeout(timeout_in_ms)))
                self._callables[key] = fn
            return fn

    def input_dtypes(self, signature_name: str) -> dict[str, np.dtype]:
        """alias -> numpy dtype the signature expects (for JSON conversion)."""
        sig = self._signatures.get(signature_name)
        if sig is None:
            raise signature_not_found(signature_name)
        return {alias: tensor_util.to_numpy_dtype(dtype)
                for alias, (_, dtype, _) in sig.inputs.items()}

    def check_input_aliases(self, signature_name: str, aliases) -> None:
        """Rejects unknown input aliases before the caller decodes tensors."""
        sig = self._signatures.get(signature_name)
        if sig is None:
            raise signature_not_found(signature_name)
        sig.check_aliases(aliases)

    def run_tensors(self, feeds: Mapping[str, np.ndarray],
                    fetches: Sequence[str]) -> list[np.ndarray]:
        """Runs by graph tensor names (multi-inference shares one run)."""
        key = (tuple(feeds), tuple(fetches), _timeout_in_ms())
        fn = self._callables.get(key)
        if fn is None:
            with self._lock:
                fn = self._callables.get(key)
                if fn is None:
                    if self._closed:
                        raise status.unavailable(
                            f"Model at {self.export_dir} is being unloaded")
                    fn = self.session._make_callable_from_options(  # pylint: disable=protected-access
                        config_pb2.CallableOptions(
                            feed=list(key[0]), fetch=list(key[1]),
                            run_options=self._run_options_with_timeout(key[2])))
                    self._callables[key] = fn
        try:
            return fn(*feeds.values())
        except tf.errors.OpError as e:
            raise from_op_error(e) from e

    def _run_options_with_timeout(self, timeout_in_ms: int):
        if not timeout_in_ms:
            return self._run_options
        options = config_pb2.RunOptions(timeout_in_ms=timeout_in_ms)
        if self._run_options is not None:
            options.MergeFrom(self._run_options)
        return options

    def close(self) -> None:
        """Stops batching (finishing queued work), then closes the Session."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            batching = list(self._batching_sessions.values())
        for session in batching:
            session.close()
        self._callables.clear()
        self.session.close()

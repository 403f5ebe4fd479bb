"""The native gRPC data plane, driven by the Python control plane.

When the C++ extension `_native_data_plane` is built and loads, the model
server's public gRPC port belongs to a grpc++ server inside this process:
PredictionService (Predict, Classify, Regress, MultiInference and
GetModelMetadata) for a version the Python manager has made AVAILABLE runs
there, in C++, on the very TensorFlow Session the Python side loaded (no
second copy of any model, no Python and no GIL per request). Every other
call — ModelService, health checks, PredictionService calls for anything the
native side cannot resolve or parse, signatures with sparse or composite
tensors — is relayed unchanged to the Python gRPC server, which then listens
on a private Unix socket only. So both planes give the same answers by
construction where Python answers, and by the shared semantics of the
servables/tensorflow modules (.py and .cc) where C++ does.

This module is the glue: it loads the extension (or says once why the pure
Python plane serves instead), wraps each AVAILABLE SavedModelBundle for the
native side as the manager publishes it (ServingObserver), mirrors version
labels, and makes a bundle's close() wait until no native request holds it,
so upstream's unload-after-the-last-request rule holds for both planes.
"""

import builtins
import dataclasses
import os
import sys
import threading

from absl import logging

from tensorflow_serving.model_servers import native_data_plane_build
from tensorflow_serving.model_servers import server_core
from tensorflow_serving.util import monitoring

_PYBIND_INTERNALS_PREFIX = "__pybind11_internals_v"
# Why this process serves with the pure Python plane even when the extension
# is present (set by tensorflow_model_server_python_plane.py).
disabled_reason = ""


@dataclasses.dataclass
class Options:
    """What the native listener needs from the server's flags."""
    addresses: list           # "0.0.0.0:8500", "unix:/path", ...
    channel_arguments: list   # [(key, int | str)] from --grpc_channel_arguments
    python_target: str        # the private address of the Python gRPC server
    enable_signature_method_name_check: bool = False
    tensor_content: bool = False          # --enable_serialization_as_tensor_content
    enforce_session_run_timeout: bool = True
    max_tensor_fill_bytes: int = 64 << 20
    ssl: tuple | None = None  # (key, cert, custom_ca, client_verify)


def _pybind_abi_ids():
    """The pybind11 ABI ids of loaded modules, from their internals' keys."""
    ids = []
    for key in vars(builtins):
        if key.startswith(_PYBIND_INTERNALS_PREFIX) and key.endswith("__"):
            rest = key[len(_PYBIND_INTERNALS_PREFIX):-2]
            digits = len(rest) - len(rest.lstrip("0123456789"))
            if digits and rest[digits:].startswith("_"):
                ids.append(rest[digits:])
    return ids


# The extension, once imported (preload()), or why it could not be.
_extension = None
_extension_error = ""


def _asan_runtime_loaded() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            return "libasan" in f.read()
    except OSError:
        return False


def preload() -> None:
    """Imports the extension; call before anything imports TensorFlow.

    TensorFlow's Python package makes its libraries' symbols global (protobuf,
    abseil, some gRPC C++ classes), and the extension's gRPC and protobuf
    (Debian's) share those names. Imported first, the extension binds to its
    own libraries and, being loaded privately (RTLD_LOCAL), is never seen by
    TensorFlow's. Imported later, it is loaded with RTLD_DEEPBIND, which gives
    it the same isolation, except under AddressSanitizer, which forbids that.
    """
    global _extension, _extension_error  # pylint: disable=global-statement
    if _extension is not None or _extension_error:
        return
    reason = disabled_reason or native_data_plane_build.UNAVAILABLE_REASON
    if reason:
        _extension_error = reason
        return
    flags = sys.getdlopenflags()
    if "tensorflow" in sys.modules:
        if _asan_runtime_loaded():
            _extension_error = ("TensorFlow was loaded before the extension, which "
                                "AddressSanitizer then cannot isolate from it")
            return
        sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        from tensorflow_serving.model_servers import _native_data_plane  # pylint: disable=g-import-not-at-top
        _extension = _native_data_plane
    except ImportError as e:
        _extension_error = f"its extension does not load here ({e})"
    finally:
        sys.setdlopenflags(flags)


def load():
    """(the extension module, "") or (None, why the pure Python plane serves)."""
    preload()
    if _extension is None:
        return None, _extension_error
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    library = os.path.join(os.path.dirname(tf.__file__), "libtensorflow_cc.so.2")
    try:
        _extension.load_tensorflow(library)
    except RuntimeError as e:
        return None, str(e)
    return _extension, ""


PREDICTION_METHODS = ("Predict", "Classify", "Regress", "MultiInference",
                      "GetModelMetadata")


def calls_line(counts: dict) -> str:
    """The shutdown line: per PredictionService method, the calls answered
    natively and those relayed to the Python plane, then the other calls
    relayed. `counts` is Server.counts()."""
    methods = "; ".join(f"{method} {counts[method][0]} native, {counts[method][1]} relayed"
                        for method in PREDICTION_METHODS)
    return (f"Native data plane calls: {methods}; "
            f"{counts['other_relayed']} calls of other services relayed.")


class NativeDataPlane(server_core.ServingObserver):
    """Owns the native listener and the native view of what is AVAILABLE."""

    def __init__(self, module):
        self._module = module
        self._abi_ids = _pybind_abi_ids()
        self._server = None
        self._lock = threading.Lock()
        self._warned = set()

    # --------------------------------------------------------- the listener

    def start(self, options: Options) -> list:
        """Starts listening on options.addresses; returns the bound ports."""
        int_args = [(k, v) for k, v in options.channel_arguments if isinstance(v, int)]
        str_args = [(k, str(v)) for k, v in options.channel_arguments
                    if not isinstance(v, int)]
        server = self._module.Server(
            options.python_target, list(options.addresses), int_args, str_args,
            bool(options.enable_signature_method_name_check),
            bool(options.tensor_content), bool(options.enforce_session_run_timeout),
            int(options.max_tensor_fill_bytes), options.ssl)
        if monitoring.enabled():
            self._module.enable_metrics({
                f.name: f.bucket_limits for f in monitoring.families()
                if f.kind == "histogram"})
            monitoring.add_flush_hook(self._flush_metrics)
        ports = server.start()
        self._server = server
        return ports

    def _flush_metrics(self) -> None:
        """Adds the native plane's recordings since the last flush to the families."""
        counters, samplers = self._module.drain_metrics()
        for name, cells in counters.items():
            family = self._family(name)
            for labels, value in cells.items():
                if family is not None:
                    family.increment_by(labels, value)
        for name, cells in samplers.items():
            family = self._family(name)
            for labels, (bucket_counts, total, count) in cells.items():
                if family is not None:
                    family.merge(labels, bucket_counts, total, count)

    @staticmethod
    def _family(name):
        try:
            return monitoring.family(name)
        except KeyError:
            return None

    def stop(self, grace_seconds: float) -> None:
        """Stops accepting calls; waits up to grace_seconds for those in flight."""
        if self._server is not None:
            self._server.stop(grace_seconds)
            counts = self._server.counts()
            logging.info("%s", calls_line(counts))
            self._server = None

    # ------------------------------------------------------ ServingObserver

    def versions_changed(self, name, versions):
        bundles = {}
        for version, servable in versions.items():
            bundle = self._native_bundle(name, version, servable)
            if bundle is not None:
                bundles[version] = bundle
        self._module.set_versions(name, bundles)

    def labels_changed(self, name, labels):
        self._module.set_labels(name, labels)

    def _native_bundle(self, name, version, servable):
        """The servable's native Bundle (made once), or None to leave it to Python."""
        bundle = getattr(servable, "_native_data_plane_bundle", None)
        if bundle is not None:
            return bundle
        parts = getattr(servable, "native_parts", None)
        if parts is None:
            return None
        session, operations, signatures, run_options, deadline_run_options = parts()
        batching = getattr(servable, "batching_options", None)
        if batching is not None:  # the bundle's own (per-model parameters apply)
            batching = {f.name: getattr(batching, f.name)
                        for f in dataclasses.fields(batching)}
        error = None
        for abi_id in self._abi_ids or ["_unknown"]:
            try:
                bundle = self._module.Bundle(abi_id, session, operations, signatures,
                                             run_options, deadline_run_options, batching)
                break
            except (AttributeError, RuntimeError, TypeError) as e:
                error = e
        if bundle is None:
            self._warn_once(name, f"model {name} version {version} is served by the "
                            f"Python plane only: {error}")
            return None
        for signature in sorted(servable.signature_defs):
            why = bundle.not_native(signature)
            if why:
                self._warn_once((name, signature),
                                f"Signature {signature!r} of model {name} is served "
                                f"by the Python plane ({why})")
        servable.add_close_callback(bundle.retire)
        servable._native_data_plane_bundle = bundle  # pylint: disable=protected-access
        return bundle

    def _warn_once(self, key, message):
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logging.warning("Native data plane: %s", message)

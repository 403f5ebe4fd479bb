"""The native data plane, driven by the Python control plane.

Every request path is C++ (the extension `_native_data_plane`): the public
gRPC port (PredictionService, ModelService, health checks) belongs to a
grpc++ server and the REST port to an HTTP server on libevent, both inside
this process, and requests run on the very TensorFlow Session the Python side
loaded (no second copy of any model, no Python and no GIL per request).

This module is the glue: it loads the extension, starts the listeners from
the server's options, wraps each loaded SavedModelBundle for the native side
(before its warmup, which runs natively too), publishes what ServerCore
serves (ServingObserver: AVAILABLE versions, version labels, and why a
configured model serves nothing yet), answers on Python threads the calls the
native side hands to the control plane (ModelService, a model's status for
REST, the Prometheus page), and makes a bundle's close() wait until no
request holds it, so upstream's unload-after-the-last-request rule holds.
"""

import builtins
import concurrent.futures
import dataclasses
import os
import sys
import threading
from typing import Callable, Dict

import grpc
from absl import logging

from tensorflow_serving.model_servers import server_core
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import status as status_lib

_PYBIND_INTERNALS_PREFIX = "__pybind11_internals_v"


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
    flags = sys.getdlopenflags()
    if "tensorflow" in sys.modules:
        if _asan_runtime_loaded():
            _extension_error = ("TensorFlow was loaded before the native data plane, "
                                "which AddressSanitizer then cannot isolate from it")
            return
        sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        from tensorflow_serving.model_servers import _native_data_plane  # pylint: disable=g-import-not-at-top
        _extension = _native_data_plane
    except ImportError as e:
        _extension_error = f"the native data plane does not load here ({e})"
    finally:
        sys.setdlopenflags(flags)


def load():
    """The extension module, bound to the TensorFlow Python loaded.

    Raises:
      RuntimeError: saying why the extension cannot serve in this process.
    """
    preload()
    if _extension is None:
        raise RuntimeError(_extension_error)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    library = os.path.join(os.path.dirname(tf.__file__), "libtensorflow_cc.so.2")
    _extension.load_tensorflow(library)
    return _extension


# What the control plane answers, by the method the native side names.
ControlHandler = Callable[[bytes, object], bytes]  # (request, the call) -> response


class NativeDataPlane(server_core.ServingObserver):
    """Owns the native listeners and the native view of what is served."""

    def __init__(self, module, saved_model_tags=("serve",)):
        self._module = module
        self._saved_model_tags = list(saved_model_tags)
        self._abi_ids = _pybind_abi_ids()
        self._server = None
        self._lock = threading.Lock()
        self._warned = set()
        self._control_thread = None

    # ------------------------------------------------------------- bundles

    def make_bundle(self, servable, batching_options):
        """The native Bundle of a loaded SavedModelBundle, batching with
        `batching_options` (a BatchingOptions, or None). Its retire() runs
        first thing when the servable closes.

        Raises:
          ServingError: INTERNAL if the Session cannot be borrowed.
        """
        session, operations, signatures, run_options, deadline_run_options = (
            servable.native_parts())
        batching = None
        if batching_options is not None:
            batching = dataclasses.asdict(batching_options)
        bundle, error = None, None
        for abi_id in self._abi_ids or ["_unknown"]:
            try:
                bundle = self._module.Bundle(abi_id, session, operations, signatures,
                                             run_options, deadline_run_options, batching)
                break
            except (AttributeError, RuntimeError, TypeError) as e:
                error = e
        if bundle is None:
            raise status_lib.internal(f"{servable.export_dir}: the native data plane "
                                      f"cannot serve this SavedModel: {error}")
        for signature in sorted(servable.signature_defs):
            why = bundle.unsupported(signature)
            if why:
                self._warn_once((servable.export_dir, signature),
                                f"Requests on signature {signature!r} of "
                                f"{servable.export_dir} cannot be served: {why}")
        servable.add_close_callback(bundle.retire)
        return bundle

    def _warn_once(self, key, message):
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logging.warning("%s", message)

    # ------------------------------------------------------ ServingObserver

    def versions_changed(self, name, versions):
        self._module.set_versions(name, {v: s.native for v, s in versions.items()})

    def labels_changed(self, name, labels):
        self._module.set_labels(name, labels)

    def unavailable_changed(self, name, reason, loading_versions):
        self._module.set_unavailable(
            name, None if reason is None else (reason, sorted(loading_versions)))

    def logging_changed(self, name, logging_config):
        if logging_config is None:
            self._module.set_request_logging(name, None)
            return
        self._module.set_request_logging(name, (
            logging_config.log_collector_config.filename_prefix,
            logging_config.sampling_config.sampling_rate, self._saved_model_tags))

    # ---------------------------------------------------------- request logs

    def next_request_logs(self, timeout_seconds: float, max_records: int):
        """{filename_prefix: [TFRecord bytes]} of sampled requests (each a
        PredictionLog, framed), queued within the timeout; None once
        close_request_logs() has run and all were handed out."""
        return self._module.next_request_logs(timeout_seconds, max_records)

    def close_request_logs(self) -> None:
        self._module.close_request_logs()

    # --------------------------------------------------------- the listeners

    def configure(self, options: dict) -> None:
        """Takes the listeners' options (what the extension's Server takes, see
        server.py) and starts recording metrics when monitoring is on; call
        before models load, whose warmup runs natively."""
        self._server = self._module.Server(options)
        if monitoring.enabled():
            limits = {}
            for name, description, labels, buckets in self._module.metric_families():
                if buckets is None:
                    monitoring.Counter(name, description, labels)
                else:
                    limits[name] = monitoring.exponential_buckets(*buckets)
                    monitoring.Sampler(name, description, labels, limits[name])
            self._module.enable_metrics(limits)
            monitoring.add_flush_hook(self._flush_metrics)

    def start(self, handlers: Dict[str, ControlHandler]) -> tuple:
        """Starts listening; returns ([gRPC port per address], REST port or 0).

        `handlers` answer the control plane's calls by method, on a thread of
        this module's: an answer is the response's bytes, an error a
        ServingError.
        """
        server = self._server
        ports = server.start()
        self._control_thread = threading.Thread(
            target=self._serve_control_plane, args=(server, handlers),
            name="control_plane", daemon=True)
        self._control_thread.start()
        return ports

    @staticmethod
    def _serve_control_plane(server, handlers) -> None:
        """Takes the native side's calls for the control plane until it stops.

        HandleReloadConfigRequest may wait minutes for models, so reloads
        run on a thread of their own (they apply one at a time anyway);
        everything else is answered at once, here.
        """
        reloads = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="model_config_reload")
        try:
            while True:
                call = server.next_control_call()
                if call is None:
                    return
                handler = handlers.get(call.method)
                if call.method == "HandleReloadConfigRequest":
                    reloads.submit(_answer, call, handler)
                else:
                    _answer(call, handler)
        finally:
            reloads.shutdown(wait=False, cancel_futures=True)

    def _flush_metrics(self) -> None:
        """Adds the native side's recordings since the last flush to the families."""
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

    def enter_graceful_shutdown(self) -> None:
        """Health checks answer NOT_SERVING from now on."""
        if self._server is not None:
            self._server.enter_graceful_shutdown()

    def stop(self, grace_seconds: float) -> None:
        """Stops accepting requests; waits up to grace_seconds for those in flight."""
        if self._server is not None:
            self._server.stop(grace_seconds)
            if self._control_thread is not None:
                self._control_thread.join(grace_seconds + 1)
            self._server = None


def _answer(call, handler) -> None:
    """Answers one control-plane call with what `handler` gives or raises."""
    if handler is None:
        call.finish(grpc.StatusCode.UNIMPLEMENTED.value[0],
                    f"No control-plane handler for {call.method}", b"")
        return
    try:
        body = handler(call.request, call)
    except status_lib.ServingError as e:
        call.finish(e.code.value[0], e.message, b"")
    except Exception as e:  # pylint: disable=broad-except
        logging.exception("%s failed", call.method)
        call.finish(grpc.StatusCode.INTERNAL.value[0], f"{type(e).__name__}: {e}", b"")
    else:
        call.finish(0, "", body)

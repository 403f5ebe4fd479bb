"""Upstream's ServerCore: ModelServerConfig in, what to serve out.

ServerCore wires a FileSystemStoragePathSource (which versions exist and are
wanted) to an AspiredVersionsManager (loading, serving, unloading them),
validates and applies configs (initially and on reload) and version labels,
and tells its ServingObserver (the native data plane, which resolves every
request's ModelSpec) what is AVAILABLE, the labels, and why a configured
model serves nothing yet. It knows nothing of TensorFlow: loaders come from
ServerCoreOptions.loader_factory.

As upstream, the first config returns only once every model has a version
that became AVAILABLE or failed (a model whose base path holds no version yet
is waited for), and fails if one failed; a reload fails the same way for the
models it adds. Loads at startup use num_initial_load_threads, later ones
num_load_threads. Each model's request logging (logging_config) goes to the
observer too, once its models are applied; the one log collector this
server has writes TFRecord files (LOG_COLLECTOR_TYPE).
"""

import dataclasses
import functools
import threading
import time
from typing import Callable, Dict, List, Optional, Set, Tuple

from absl import logging
from tensorflow_serving.config import model_server_config_pb2

from tensorflow_serving.core.aspired_versions_manager import AspiredVersionsManager
from tensorflow_serving.core.aspired_versions_manager import StateListener
from tensorflow_serving.core.loader import Loader
from tensorflow_serving.core.servable_state import ManagerState
from tensorflow_serving.sources.storage_path import file_system_storage_path_source as fs_source
from tensorflow_serving.util import cpu_info
from tensorflow_serving.util import status

TENSORFLOW_MODEL_PLATFORM = "tensorflow"
_EMPTY: Dict[str, int] = {}


@dataclasses.dataclass
class ServerCoreOptions:
    model_server_config: model_server_config_pb2.ModelServerConfig
    loader_factory: Callable[[str, int, str], Loader]   # (model name, version, version dir)
    file_system_poll_wait_seconds: float = 1.0          # 0 = poll once at start
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    allow_version_labels_for_unavailable_models: bool = False
    # Load and unload concurrency and startup checks (upstream flags of the same names).
    num_load_threads: int = 0                            # 0: one at a time
    num_unload_threads: int = 0                          # 0: one at a time
    num_initial_load_threads: int = 4 * cpu_info.num_schedulable_cpus()
    fail_if_no_model_versions_found: bool = False
    # Told what may serve (e.g. the native data plane): see ServingObserver.
    serving_observer: Optional["ServingObserver"] = None


class ServingObserver:
    """Receives every change of what requests may be served from.

    versions_changed runs under the manager's lock each time a model's
    AVAILABLE versions change (a new version is announced before an old one
    leaves); labels_changed each time ServerCore applies version labels;
    unavailable_changed each time what a request that finds no version of a
    model is told changes (see ServerCore.not_found_error).
    """

    def versions_changed(self, name: str, versions: Dict[int, object]) -> None:
        raise NotImplementedError

    def labels_changed(self, name: str, labels: Dict[str, int]) -> None:
        raise NotImplementedError

    def unavailable_changed(self, name: str, reason: Optional[str],
                            loading_versions: Set[int]) -> None:
        """`reason` None: `name` is no longer configured."""
        raise NotImplementedError

    def logging_changed(self, name: str, logging_config) -> None:
        """The LoggingConfig of `name`'s requests; None: they are not logged."""
        raise NotImplementedError


class _StateMonitor:
    """Upstream's fresh ServableStateMonitor: the states seen since it was made."""

    def __init__(self):
        self._cv = threading.Condition()
        self._states: Dict[str, Dict[int, Tuple[ManagerState, Optional[status.ServingError]]]] = {}

    def __call__(self, servable_id, state, error) -> None:
        with self._cv:
            self._states.setdefault(servable_id.name, {})[servable_id.version] = (state, error)
            self._cv.notify_all()

    def _reached_locked(self, name: str):
        """(version, state, error) of the lowest version AVAILABLE or END, or None."""
        for version, (state, error) in sorted(self._states.get(name, {}).items()):
            if state in (ManagerState.AVAILABLE, ManagerState.END):
                return version, state, error
        return None

    def wait(self, names, stopped: Callable[[], bool], deadline: Optional[float] = None):
        """Waits until each model has a version AVAILABLE or END.

        Returns [(name, version, error)] for models that reached END first.
        Raises ServingError DEADLINE_EXCEEDED once time.monotonic() passes
        `deadline`.
        """
        failed = []
        with self._cv:
            for name in names:
                while True:
                    reached = self._reached_locked(name)
                    if reached is not None:
                        break
                    if stopped():
                        raise status.failed_precondition("ServerCore has been stopped")
                    wait = 0.5
                    if deadline is not None:
                        wait = min(wait, deadline - time.monotonic())
                        if wait <= 0:
                            raise _still_loading_error()
                    self._cv.wait(wait)
                version, state, error = reached
                if state is not ManagerState.AVAILABLE:
                    failed.append((name, version, error))
        return failed


def _still_loading_error() -> status.ServingError:
    return status.deadline_exceeded(
        "The new config is applied, but its models were still loading when the "
        "request's deadline passed")


def _never() -> bool:
    return False


def _not_available_error(failed, what: str) -> status.ServingError:
    """Upstream's "N servable(s) did not become available: {...}" (UNKNOWN)."""
    parts = []
    for name, version, error in failed:
        reason = ""
        if error is not None:
            reason = f" due to error: {error.code.name}: {error.message}"
        parts.append(f"{{{{name: {name} version: {version}}}{reason}}}, ")
    return status.unknown(f"{len(failed)} {what} did not become available: "
                          f"{{{''.join(parts)}}}")


def _is_relative_path(path: str) -> bool:
    """Upstream's UriIsRelativePath: no scheme and not an absolute path."""
    return "://" not in path and not path.startswith("/")


def _platform(model: model_server_config_pb2.ModelConfig) -> str:
    """Upstream's GetPlatform (model_type is deprecated), naming the model."""
    if model.model_type != model_server_config_pb2.MODEL_TYPE_UNSPECIFIED:
        logging.warning("Deprecated ModelServerConfig::model_type field used. "
                        "Prefer ModelServerConfig::model_platform.")
        if model.model_platform:
            raise status.invalid_argument(
                "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                f"ModelServerConfig::model_platform for model {model.name}.")
        if model.model_type != model_server_config_pb2.TENSORFLOW:
            raise status.invalid_argument(
                f"ModelServerConfig::model_type choice {model.model_type} not supported "
                f"(model {model.name}).")
        return TENSORFLOW_MODEL_PLATFORM
    if not model.model_platform:
        raise status.invalid_argument(
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            f"ModelServerConfig::model_platform for model {model.name}.")
    return model.model_platform


# The log_collector_config type of the one log collector this server has:
# PredictionLog records in TFRecord files (model_servers/tfrecord_log_collector.py).
LOG_COLLECTOR_TYPE = "tfrecord"


def validate_model_server_config(config: model_server_config_pb2.ModelServerConfig) -> None:
    """The one check of a ModelServerConfig, at startup (server.py, before
    TensorFlow loads), on every reload and every poll of the config file.

    Raises:
      ServingError: INVALID_ARGUMENT with upstream's words: a custom model
        config, or anything in the model list ServerCore cannot serve.
    """
    if config.WhichOneof("config") == "custom_model_config":
        raise status.invalid_argument("ModelServer does not yet support custom model config.")
    validate_model_config_list(config.model_config_list)


def validate_model_config_list(config_list: model_server_config_pb2.ModelConfigList) -> None:
    """Raises INVALID_ARGUMENT naming the model for anything ServerCore cannot serve."""
    seen = set()
    for index, model in enumerate(config_list.config):
        if not model.name:
            raise status.invalid_argument(
                f"Model at index {index} of the model config list has an empty name.")
        if model.name in seen:
            raise status.invalid_argument(
                f"Illegal to list model {model.name} multiple times in config list")
        seen.add(model.name)
        platform = _platform(model)
        if platform != TENSORFLOW_MODEL_PLATFORM:
            raise status.invalid_argument(
                f"Model {model.name} requests unsupported platform {platform}")
        if _is_relative_path(model.base_path):
            raise status.invalid_argument(
                f"Expected model {model.name} to have an absolute path or URI; "
                f"got base_path()={model.base_path}")
        if model.HasField("logging_config"):
            _validate_logging_config(model.name, model.logging_config)


def _validate_logging_config(name: str, logging_config) -> None:
    collector = logging_config.log_collector_config
    if collector.type != LOG_COLLECTOR_TYPE:
        raise status.invalid_argument(
            f"Model {name}: logging_config.log_collector_config.type "
            f"{collector.type!r} is not a log collector of this server; use "
            f"{LOG_COLLECTOR_TYPE!r} (PredictionLog records in TFRecord files)")
    if not collector.filename_prefix:
        raise status.invalid_argument(
            f"Model {name}: logging_config.log_collector_config.filename_prefix "
            f"is empty; give the path the log files start with")
    rate = logging_config.sampling_config.sampling_rate
    if not 0.0 <= rate <= 1.0:
        raise status.invalid_argument(
            f"Model {name}: logging_config.sampling_config.sampling_rate {rate:g} "
            f"is outside [0, 1]")


class ServerCore:
    """Serves the models of a ModelServerConfig; see the module docstring."""

    def __init__(self, options: ServerCoreOptions):
        self._options = options
        observer = options.serving_observer
        self._manager = AspiredVersionsManager(
            max_num_load_retries=options.max_num_load_retries,
            load_retry_interval_micros=options.load_retry_interval_micros,
            num_load_threads=options.num_initial_load_threads,
            num_unload_threads=options.num_unload_threads,
            serving_observer=observer.versions_changed if observer else None)
        self._source: Optional[fs_source.FileSystemStoragePathSource] = None
        self._config_lock = threading.Lock()  # one config change at a time
        self._config = model_server_config_pb2.ModelServerConfig()
        self._models: Dict[str, model_server_config_pb2.ModelConfig] = {}
        self._logged: Set[str] = set()  # models whose requests are logged
        # Read without locks on the request path; replaced, never mutated.
        self._model_names = frozenset()
        self._labels: Dict[str, Dict[str, int]] = {}
        self._published_labels: Dict[str, Dict[str, int]] = {}  # to serving_observer
        self._stopped = False
        # Models whose aspired versions changed since _apply() last looked.
        self._changed_names = set()
        # What the observer was last told of each configured model's
        # unavailability: (reason, loading versions).
        self._unavailable_lock = threading.Lock()
        self._published_unavailable: Dict[str, tuple] = {}
        if observer is not None:
            self._manager.add_listener(
                lambda servable_id, state, error: self._publish_unavailable(
                    servable_id.name))

    # ------------------------------------------------------------------
    # Configuration.

    def start(self) -> None:
        """Applies the initial config; returns once its models are AVAILABLE.

        Raises ServingError UNKNOWN naming the versions that failed to load.
        """
        try:
            self._apply(self._options.model_server_config)
        finally:
            self._manager.set_num_load_threads(self._options.num_load_threads)

    def reload_config(self, config: model_server_config_pb2.ModelServerConfig,
                      deadline: Optional[float] = None,
                      cancelled: Callable[[], bool] = _never) -> None:
        """Adds/removes models, updates policies and labels; blocks until new ones settle.

        `deadline` (a time.monotonic() value) bounds the wait for another
        reload and for the new models; `cancelled()` says the caller has gone
        away. A reload whose deadline passed or whose caller went away before
        it could start is not applied.

        Raises ServingError: INVALID_ARGUMENT for a bad config (nothing is
        changed then), FAILED_PRECONDITION for a label pointing to a version
        that is not AVAILABLE (models are updated, labels are not), UNKNOWN
        when a new model fails to load, DEADLINE_EXCEEDED or CANCELLED as
        above.
        """
        self._apply(config, deadline, cancelled)

    def _apply(self, config: model_server_config_pb2.ModelServerConfig,
               deadline: Optional[float] = None,
               cancelled: Callable[[], bool] = _never) -> None:
        timeout = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._config_lock.acquire(timeout=timeout):
            raise status.deadline_exceeded(
                "Another config reload was still in progress when the request's "
                "deadline passed; this one was not applied")
        try:
            if cancelled():
                raise status.cancelled("The caller went away; the config was not applied")
            if deadline is not None and time.monotonic() >= deadline:
                raise status.deadline_exceeded(
                    "The request's deadline passed before the config could be "
                    "applied; it was not applied")
            self._apply_locked(config, deadline)
        finally:
            self._config_lock.release()

    def _apply_locked(self, config: model_server_config_pb2.ModelServerConfig,
                      deadline: Optional[float]) -> None:
        if self._stopped:
            raise status.failed_precondition("ServerCore has been stopped")
        kind = config.WhichOneof("config")
        if kind is None:
            logging.info("Taking no action for empty config.")
            return
        validate_model_server_config(config)

        logging.info("Adding/updating models.")
        models = {m.name: m for m in config.model_config_list.config}
        is_first_config = self._source is None
        new_names = [n for n in models if n not in self._models]
        monitor = _StateMonitor()
        self._manager.add_listener(monitor)
        try:
            self._add_models_locked(config, models, monitor,
                                    new_names, is_first_config, deadline)
        finally:
            self._manager.remove_listener(monitor)
        self._update_labels_locked()
        self._publish_logging_locked()
        logging.info("Finished reloading config")

    def _add_models_locked(self, config, models, monitor, new_names,
                           is_first_config, deadline) -> None:
        source_config = fs_source.FileSystemStoragePathSourceConfig()
        to_wait = []
        for name, model in models.items():
            logging.info(" (Re-)adding model: %s", name)
            servable = source_config.servables.add(
                servable_name=name, base_path=model.base_path)
            servable.servable_version_policy.CopyFrom(model.model_version_policy)
            old = self._models.get(name)
            if (old is None or old.base_path != model.base_path
                    or old.model_version_policy != model.model_version_policy):
                to_wait.append(name)

        self._model_names = frozenset(models)
        if self._source is None:
            self._source = fs_source.FileSystemStoragePathSource(
                source_config, self._on_aspired_versions,
                poll_wait_seconds=self._options.file_system_poll_wait_seconds)
        else:
            self._source.update_config(source_config)
        self._models = {name: _copy(model) for name, model in models.items()}
        for name in set(models) | set(self._published_unavailable):
            self._publish_unavailable(name)
        self._labels = {n: v for n, v in self._labels.items() if n in models}
        self._publish_labels_locked()

        self._changed_names.clear()
        found = self._source.poll()
        if self._options.fail_if_no_model_versions_found:
            self._check_versions_found(found)
        # Wait for new or changed models, and for new versions this poll found.
        to_wait.extend(n for n in self._changed_names if n in models and n not in to_wait)
        waiting = [n for n in to_wait if found.get(n) is not None]
        self._source.start()
        self._config = _copy(config)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._manager.wait_until_settled(waiting, timeout) and not self._stopped:
            raise _still_loading_error()
        self._log_unavailable(waiting)
        # New models must become available (at startup: every model).
        failed = monitor.wait(new_names, lambda: self._stopped, deadline)
        if failed:
            raise _not_available_error(
                failed, "servable(s)" if is_first_config else "model(s)")
        logging.info("Finished adding/updating models")

    def _publish_logging_locked(self) -> None:
        observer = self._options.serving_observer
        if observer is None:
            return
        for name in set(self._models) | self._logged:
            model = self._models.get(name)
            logging_config = (model.logging_config if model is not None
                              and model.HasField("logging_config") else None)
            observer.logging_changed(name, logging_config)
        self._logged = {n for n, m in self._models.items() if m.HasField("logging_config")}

    def _check_versions_found(self, found) -> None:
        for name, versions in found.items():
            base_path = self._models[name].base_path
            if versions is None:
                raise status.invalid_argument(
                    f"Could not find base path {base_path} for servable {name}")
            if not versions:
                raise status.not_found(
                    f"Unable to find a numerical version path for servable {name} "
                    f"at: {base_path}")

    def _log_unavailable(self, names: List[str]) -> None:
        for name in names:
            for version, (state, error) in sorted(self._manager.version_states(name).items()):
                if state is ManagerState.END and error is not None:
                    logging.error("Model %s version %d did not become available: %s",
                                  name, version, error)

    def _update_labels_locked(self) -> None:
        """Upstream's UpdateModelVersionLabelMap, run after loads so startup labels work."""
        new_labels: Dict[str, Dict[str, int]] = {}
        allow_unavailable = self._options.allow_version_labels_for_unavailable_models
        for name, model in self._models.items():
            if not model.version_labels:
                continue
            states = self._manager.version_states(name)
            for label, version in sorted(model.version_labels.items()):
                allowed = False
                if allow_unavailable:
                    existing = self._labels.get(name, _EMPTY).get(label)
                    allowed = existing is None or existing == version
                state = states.get(version)
                if not allowed and (state is None or state[0] is not ManagerState.AVAILABLE):
                    raise status.failed_precondition(
                        f"Request to assign label to version {version} of model {name}, "
                        "which is not currently available for inference")
                new_labels.setdefault(name, {})[label] = version
        self._labels = new_labels
        self._publish_labels_locked()

    def _publish_labels_locked(self) -> None:
        observer = self._options.serving_observer
        if observer is None:
            return
        published = self._published_labels
        for name in set(published) | set(self._labels):
            labels = self._labels.get(name, _EMPTY)
            if published.get(name, _EMPTY) != labels:
                observer.labels_changed(name, dict(labels))
        self._published_labels = {n: dict(v) for n, v in self._labels.items()}

    def _on_aspired_versions(self, name: str, versions: Dict[int, str]) -> None:
        factory = self._options.loader_factory
        self._changed_names.add(name)
        self._manager.set_aspired_versions(
            name, {v: functools.partial(factory, name, v, path) for v, path in versions.items()})

    # ------------------------------------------------------------------
    # What the data plane is told.

    def _unavailable(self, name: str) -> Tuple[str, Set[int]]:
        """Why a request for the latest version of a configured model may find
        none, in a few words ("" for no reason to give), and the versions
        being loaded. Never server paths or load errors: GetModelStatus
        reports those."""
        states = self._manager.version_states(name)
        loading = {v for v, (s, _) in states.items()
                   if s in (ManagerState.START, ManagerState.LOADING)}
        if loading:
            reason = "the model is still loading"
        elif any(s is ManagerState.END and e is not None for s, e in states.values()):
            reason = "no version of the model could be loaded"
        elif not states:
            reason = "no versions of the model were found"
        else:
            reason = ""
        return reason, loading

    def _publish_unavailable(self, name: str) -> None:
        """Tells the observer what a request finding nothing of `name` is told
        (upstream's NOT_FOUND, with the reason for a configured model)."""
        observer = self._options.serving_observer
        if observer is None:
            return
        with self._unavailable_lock:
            if name in self._model_names:
                reason, loading = self._unavailable(name)
                value = (reason, frozenset(loading))
            else:
                value = None
            if self._published_unavailable.get(name) == value:
                return
            if value is None:
                self._published_unavailable.pop(name, None)
                observer.unavailable_changed(name, None, set())
            else:
                self._published_unavailable[name] = value
                observer.unavailable_changed(name, value[0], set(value[1]))

    # ------------------------------------------------------------------
    # Queries.

    def model_version_states(
            self, name: str, version: Optional[int] = None
    ) -> List[Tuple[int, ManagerState, Optional[status.ServingError]]]:
        """Every version the manager has seen for `name` (newest first).

        Raises:
          ServingError: NOT_FOUND for a model, or a `version`, never seen.
        """
        states = self._manager.version_states(name)
        if version is not None:
            state = states.get(version)
            if state is None:
                raise status.not_found(f"Could not find version {version} of model {name}")
            return [(version, state[0], state[1])]
        if not states:
            raise status.not_found(f"Could not find any versions of model {name}")
        return [(v, s, e) for v, (s, e) in sorted(states.items(), reverse=True)]

    def model_names(self) -> List[str]:
        """The models of the current config."""
        return sorted(self._model_names)

    def available_versions(self, name: str) -> List[int]:
        """AVAILABLE versions of `name`, ascending."""
        return self._manager.available_versions(name)

    def version_labels(self, name: str) -> Dict[str, int]:
        """The label -> version map in effect for `name`."""
        return dict(self._labels.get(name, _EMPTY))

    @property
    def config(self) -> model_server_config_pb2.ModelServerConfig:
        """A copy of the config last applied."""
        with self._config_lock:
            return _copy(self._config)

    def add_state_listener(self, listener: StateListener) -> None:
        """listener(ServableId, ManagerState, ServingError | None) on each state change.

        Called on manager threads, outside its locks; keep it cheap.
        """
        self._manager.add_listener(listener)

    def stop(self) -> None:
        """Stops polling and unloads everything (waiting for handles)."""
        # No _config_lock: a reload blocked on loads must not delay shutdown; the
        # manager's stop() wakes it up.
        self._stopped = True
        source = self._source
        if source is not None:
            source.stop()
        self._manager.stop()
        self._model_names = frozenset()


def _copy(message):
    copy = type(message)()
    copy.CopyFrom(message)
    return copy

"""Upstream's FileSystemStoragePathSource: finds model versions on disk.

Each servable has a base path whose numeric subdirectories are its versions
(`/models/mnist/1`, `/models/mnist/2`, ...). Every poll lists them, applies
the servable's version policy and hands the aspired {version: path} map to a
callback (the manager). A base path that does not exist (yet) is logged and
retried on the next poll; it never stops the other servables. Base paths are
listed through TensorFlow's file systems (tf.io.gfile), so any scheme
TensorFlow has (gs://, s3://, hdfs://, ram://, file://, ...) works as a local
path does. Polls run on the source's own thread: a slow file system delays
new versions, never requests.
"""

import os
import re
import threading
import time
from typing import Callable, Dict, Optional

from absl import logging
from tensorflow_serving.config import file_system_storage_path_source_pb2

from tensorflow_serving.sources.storage_path import servable_version_policy
from tensorflow_serving.util import status

FileSystemStoragePathSourceConfig = (
    file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig)
AspiredVersionsCallback = Callable[[str, Dict[int, str]], None]

_VERSION_RE = re.compile(r"[0-9]+")
_INT64_MAX = 2**63 - 1
# How often a persisting problem with a base path is logged again.
_REPEAT_WARNING_SECONDS = 60.0


def list_versions(servable_name: str, base_path: str) -> Dict[int, str]:
    """{version: version directory} under base_path.

    Raises FileNotFoundError when base_path does not exist and OSError when it
    cannot be listed. Like upstream, when two directories name the same
    version ("7" and "007") the one sorting last wins.
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    gfile = tf.io.gfile
    try:
        children = gfile.listdir(base_path)
    except tf.errors.NotFoundError as e:
        raise FileNotFoundError(e.message) from None
    except tf.errors.OpError as e:
        raise OSError(e.message) from None
    versions: Dict[int, str] = {}
    for child in sorted(c.rstrip("/") for c in children):
        if not _VERSION_RE.fullmatch(child):
            continue
        version = int(child)
        if version > _INT64_MAX:
            continue
        path = os.path.join(base_path, child)
        try:
            if not gfile.isdir(path):
                continue
        except tf.errors.OpError:
            continue
        if version in versions:
            logging.warning(
                "Duplicate version directories detected for servable %s. Version %d "
                "will be loaded from %s, %s will be ignored.",
                servable_name, version, path, versions[version])
        versions[version] = path
    return versions


class FileSystemStoragePathSource:
    """Polls base paths and emits aspired versions through a callback."""

    def __init__(self, config: FileSystemStoragePathSourceConfig,
                 aspired_versions_callback: AspiredVersionsCallback,
                 poll_wait_seconds: Optional[float] = None):
        """poll_wait_seconds (fractions allowed) overrides the config's integer field."""
        self._callback = aspired_versions_callback
        self._poll_wait_override = poll_wait_seconds
        self._poll_wait = float(config.file_system_poll_wait_seconds
                                if poll_wait_seconds is None else poll_wait_seconds)
        self._config = FileSystemStoragePathSourceConfig()
        self._config.CopyFrom(config)
        # Serializes polls and config changes, so callbacks never interleave.
        self._poll_lock = threading.Lock()
        self._last_emitted: Dict[str, Dict[int, str]] = {}
        self._last_problem: Dict[str, tuple] = {}  # name -> (message, time logged)
        self._stop = threading.Event()
        # Guards _thread, so stop() never sees a thread start() has not started.
        self._lifecycle_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    @property
    def config(self) -> FileSystemStoragePathSourceConfig:
        with self._poll_lock:
            copy = FileSystemStoragePathSourceConfig()
            copy.CopyFrom(self._config)
            return copy

    def update_config(self, config: FileSystemStoragePathSourceConfig) -> None:
        """Switches to `config`; servables no longer listed are un-aspired at once.

        New or changed servables are picked up by the next poll (call poll()
        to have it now).

        Raises:
          ServingError: INVALID_ARGUMENT when the config changes the poll
            interval of a running source (upstream refuses that too).
        """
        with self._poll_lock:
            if (self._thread is not None and self._poll_wait_override is None
                    and config.file_system_poll_wait_seconds != self._poll_wait):
                raise status.invalid_argument(
                    "Changing file_system_poll_wait_seconds is not supported")
            kept = {s.servable_name for s in config.servables}
            for servable in self._config.servables:
                name = servable.servable_name
                if name not in kept:
                    logging.info("Un-aspiring all versions of servable %s", name)
                    self._last_emitted.pop(name, None)
                    self._last_problem.pop(name, None)
                    self._callback(name, {})
            self._config.CopyFrom(config)

    def poll(self) -> Dict[str, Optional[Dict[int, str]]]:
        """Polls every servable once.

        Returns {name: aspired {version: path}, or None when the base path
        could not be listed}.
        """
        with self._poll_lock:
            return {s.servable_name: self._poll_servable_locked(s)
                    for s in self._config.servables}

    def _poll_servable_locked(self, servable) -> Optional[Dict[int, str]]:
        name, base_path = servable.servable_name, servable.base_path
        try:
            found = list_versions(name, base_path)
        except FileNotFoundError:
            self._problem_locked(
                name, f"Could not find base path {base_path} for servable {name}. "
                "Will keep polling for it.")
            return None
        except OSError as e:
            self._problem_locked(
                name, f"FileSystemStoragePathSource encountered a filesystem access "
                f"error for servable {name} at {base_path}: {e}")
            return None

        policy = servable.servable_version_policy
        aspired, missing = servable_version_policy.select_versions(policy, found)
        if missing:
            self._problem_locked(
                name, f"Version(s) {', '.join(map(str, missing))} of servable {name}, which "
                "were requested to be served as 'specific' versions in the servable's "
                "version policy, were not found in the file system under "
                f"base path {base_path}")
        elif not aspired:
            self._problem_locked(
                name, f"No versions of servable {name} found under base path {base_path}. "
                "Did you forget to name your leaf directory as a number (eg. '/1/')?")
        else:
            self._last_problem.pop(name, None)

        versions = {v: found[v] for v in aspired}
        if self._last_emitted.get(name) != versions:
            for v, path in sorted(versions.items()):
                logging.info(
                    "File-system polling update: Servable:{name: %s version: %d}; "
                    "Servable path: %s; Polling frequency: %g",
                    name, v, path, self._poll_wait)
            self._last_emitted[name] = versions
            self._callback(name, dict(versions))
        return versions

    def _problem_locked(self, name: str, message: str) -> None:
        """Logs a problem when it first appears, then once a minute while it lasts."""
        now = time.monotonic()
        last = self._last_problem.get(name)
        if last is None or last[0] != message or now - last[1] >= _REPEAT_WARNING_SECONDS:
            logging.warning("%s", message)
            self._last_problem[name] = (message, now)

    def start(self) -> None:
        """Polls every file_system_poll_wait_seconds from now on (if > 0).

        The first of those polls happens one interval from now: callers poll()
        once themselves to get the initial versions synchronously.
        """
        wait = self._poll_wait
        with self._lifecycle_lock:
            if wait <= 0 or self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._poll_loop, args=(wait,),
                name="FileSystemStoragePathSource_filesystem_polling_thread", daemon=True)
            self._thread.start()

    def _poll_loop(self, wait: float) -> None:
        while not self._stop.wait(wait):
            try:
                self.poll()
            except Exception:  # pylint: disable=broad-except
                logging.exception("FileSystemStoragePathSource poll failed")

    def stop(self) -> None:
        """Stops polling, also when start() is still under way; idempotent."""
        self._stop.set()
        with self._lifecycle_lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

"""Upstream's AspiredVersionsManager with its default availability-preserving policy.

A source says which versions of each servable it wants ("aspired versions");
the manager loads new ones on its own threads (with retries), serves the
AVAILABLE ones, and unloads versions that are no longer aspired, but only once
an aspired version is AVAILABLE (so a model never goes dark during a rollover)
and only once every handle to them has been released. A version that fails to
load goes to END with its error and is not retried until it stops being
aspired; it never displaces a version that is serving.

Thread model: one lock guards all state. Loads run in a pool of
num_load_threads threads and unloads (which may wait for handles) in a pool
of num_unload_threads; upstream's 0 (serially, in the manager's own loop) is
one thread here, off the request path. set_num_load_threads() resizes the
load pool, as upstream does for the fast initial load. State-change listeners
are called outside the lock, in order.
"""

import concurrent.futures
import threading
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from absl import logging

from tensorflow_serving.core.loader import Loader
from tensorflow_serving.core.servable_handle import ServableHandle
from tensorflow_serving.core.servable_id import ServableId
from tensorflow_serving.core.servable_state import ManagerState
from tensorflow_serving.util import status

LoaderFactory = Callable[[], Loader]
StateListener = Callable[[ServableId, ManagerState, Optional[status.ServingError]], None]
# (name, {version: servable}) with every AVAILABLE version of `name`.
ServingObserver = Callable[[str, Dict[int, object]], None]

_START = ManagerState.START
_LOADING = ManagerState.LOADING
_AVAILABLE = ManagerState.AVAILABLE
_UNLOADING = ManagerState.UNLOADING
_END = ManagerState.END


class _Harness:
    """Upstream's LoaderHarness: one version's loader, state and handle count."""

    __slots__ = ("id", "factory", "loader", "servable", "state", "error",
                 "refs", "cancel", "num_load_attempts")

    def __init__(self, servable_id: ServableId, factory: LoaderFactory):
        self.id = servable_id
        self.factory = factory
        self.loader: Optional[Loader] = None
        self.servable = None
        self.state = _START
        self.error: Optional[status.ServingError] = None
        self.refs = 0
        self.cancel = threading.Event()
        self.num_load_attempts = 0


class _ServingEntry:
    """The AVAILABLE versions of one servable, as seen by request threads."""

    __slots__ = ("versions", "latest")

    def __init__(self, versions: Dict[int, _Harness]):
        self.versions = versions
        self.latest = versions[max(versions)] if versions else None


_EMPTY_ENTRY = _ServingEntry({})


class AspiredVersionsManager:
    """Loads, serves and unloads servable versions as sources aspire them."""

    def __init__(self,
                 max_num_load_retries: int = 5,
                 load_retry_interval_micros: int = 60_000_000,
                 num_load_threads: int = 4,
                 num_unload_threads: int = 0,
                 serving_observer: Optional[ServingObserver] = None):
        self._max_num_load_retries = max(0, int(max_num_load_retries))
        self._retry_interval_s = max(0, load_retry_interval_micros) / 1e6
        self._num_load_threads = max(1, num_load_threads)
        self._load_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._num_load_threads,
            thread_name_prefix="servable_load")
        self._old_load_pools: List[concurrent.futures.ThreadPoolExecutor] = []
        self._unload_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, num_unload_threads),
            thread_name_prefix="servable_unload")
        # Reentrant: a ServableHandle collected by the garbage collector releases
        # itself (__del__) on whatever thread runs the collection, possibly one
        # that already holds this lock.
        self._lock = threading.RLock()
        self._cv = threading.Condition(self._lock)
        # Everything below is guarded by _lock.
        self._aspired: Dict[str, Dict[int, LoaderFactory]] = {}
        self._harnesses: Dict[str, Dict[int, _Harness]] = {}
        self._serving: Dict[str, _ServingEntry] = {}
        # Last published (state, error) of every version ever managed.
        self._states: Dict[str, Dict[int, Tuple[ManagerState, Optional[status.ServingError]]]] = {}
        self._unloads: List[concurrent.futures.Future] = []
        self._stopped = False
        # State-change events, delivered outside _lock in publication order.
        self._listeners: List[StateListener] = []
        self._events: List[Tuple[ServableId, ManagerState, Optional[status.ServingError]]] = []
        self._dispatch_lock = threading.Lock()
        # Told, under _lock, whenever the set of versions handles may be taken
        # to changes: a new version before any old one leaves (a second copy of
        # the serving set, e.g. a native data plane, never goes dark).
        self._serving_observer = serving_observer

    # ------------------------------------------------------------------
    # Request path.

    def get_handle(self, name: str, version: Optional[int] = None) -> Optional[ServableHandle]:
        """A handle to `version` (None: the highest AVAILABLE), or None if not serving."""
        with self._lock:
            entry = self._serving.get(name)
            if entry is None:
                return None
            h = entry.latest if version is None else entry.versions.get(version)
            if h is None:
                return None
            h.refs += 1
        return ServableHandle(h.id, h.servable, self._release, h)

    def _release(self, h: _Harness) -> None:
        with self._lock:
            h.refs -= 1
            if h.refs == 0 and h.state is _UNLOADING:
                self._cv.notify_all()

    def set_num_load_threads(self, num_load_threads: int) -> None:
        """Loads started from now on run in a pool of this many threads."""
        num_load_threads = max(1, num_load_threads)
        with self._lock:
            if num_load_threads == self._num_load_threads or self._stopped:
                return
            self._old_load_pools.append(self._load_pool)
            self._load_pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=num_load_threads, thread_name_prefix="servable_load")
            self._num_load_threads = num_load_threads
        # Loads already queued in the old pool still run there.
        self._old_load_pools[-1].shutdown(wait=False)

    @property
    def num_load_threads(self) -> int:
        return self._num_load_threads

    # ------------------------------------------------------------------
    # Source side.

    def set_aspired_versions(self, name: str, versions: Mapping[int, LoaderFactory]) -> None:
        """Replaces the aspired versions of `name` ({} un-aspires them all).

        Factories are only called for versions the manager does not already
        hold, so sources may re-send the same set on every poll.
        """
        with self._lock:
            if self._stopped:
                return
            self._aspired[name] = dict(versions)
            self._manage_locked(name)
            self._cv.notify_all()
        self._dispatch_events()

    def add_listener(self, listener: StateListener) -> None:
        """Calls listener(id, state, error) on every state change from now on."""
        with self._dispatch_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: StateListener) -> None:
        """Stops calling a listener add_listener() added."""
        with self._dispatch_lock:
            self._listeners = [l for l in self._listeners if l is not listener]

    # ------------------------------------------------------------------
    # Queries.

    def available_versions(self, name: str) -> List[int]:
        with self._lock:
            return sorted(self._serving.get(name, _EMPTY_ENTRY).versions)

    def servable_names(self) -> List[str]:
        """Names with at least one version the manager has seen."""
        with self._lock:
            return sorted(self._states)

    def version_states(self, name: str) -> Dict[int, Tuple[ManagerState, Optional[status.ServingError]]]:
        """{version: (state, error)} for every version of `name` ever managed."""
        with self._lock:
            return dict(self._states.get(name, {}))

    def wait_until_settled(self, names: Iterable[str], timeout: Optional[float] = None) -> bool:
        """Waits until every aspired version of `names` is AVAILABLE or END.

        Names no source has sent versions for yet are waited for too. Returns
        False on timeout.
        """
        names = list(names)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not all(self._settled_locked(n) for n in names):
                if self._stopped:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cv.wait(remaining)
        self._dispatch_events()  # listeners have seen these states on return
        return True

    def _settled_locked(self, name: str) -> bool:
        aspired = self._aspired.get(name)
        if aspired is None:
            return False
        harnesses = self._harnesses.get(name, {})
        for version in aspired:
            h = harnesses.get(version)
            if h is None or h.state not in (_AVAILABLE, _END):
                return False
        return True

    def stop(self, timeout: Optional[float] = None) -> None:
        """Unloads everything (after in-flight loads finish and handles are released)."""
        with self._lock:
            self._stopped = True
            for name in list(self._aspired):
                self._aspired[name] = {}
            for harnesses in self._harnesses.values():
                for h in harnesses.values():
                    h.cancel.set()
            for name in list(self._harnesses):
                self._manage_locked(name, stopping=True)
            self._cv.notify_all()
        self._dispatch_events()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while any(self._harnesses.values()):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    logging.warning("Timed out waiting for servables to unload.")
                    break
                self._cv.wait(remaining)
            unloads = list(self._unloads)
        concurrent.futures.wait(
            unloads, None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._load_pool.shutdown(wait=False)
        self._unload_pool.shutdown(wait=False)
        self._dispatch_events()

    # ------------------------------------------------------------------
    # The availability-preserving policy.

    def _manage_locked(self, name: str, stopping: bool = False) -> None:
        """Starts every load/unload the policy allows for `name` right now."""
        aspired = self._aspired.get(name, {})
        harnesses = self._harnesses.setdefault(name, {})

        # New aspired versions get a harness.
        if not self._stopped:
            for version, factory in aspired.items():
                h = harnesses.get(version)
                if h is None:
                    h = _Harness(ServableId(name, version), factory)
                    harnesses[version] = h
                    self._publish_locked(h)
                elif h.state is _LOADING:
                    h.cancel.clear()  # aspired again: keep retrying

        # Un-aspired versions that are not serving leave right away; a load in
        # flight is told to stop retrying.
        for version, h in list(harnesses.items()):
            if version in aspired:
                continue
            if h.state is _START:
                h.state = _END
                del harnesses[version]
                self._publish_locked(h)
            elif h.state is _END:
                del harnesses[version]
            elif h.state is _LOADING:
                h.cancel.set()

        # Unload un-aspired AVAILABLE versions, lowest first, while an aspired
        # version serves, or nothing is aspired, or more than one would remain.
        while True:
            has_aspired_serving = any(
                h.state is _AVAILABLE for v, h in harnesses.items() if v in aspired)
            unaspired_serving = sorted(
                v for v, h in harnesses.items()
                if v not in aspired and h.state is _AVAILABLE)
            if not unaspired_serving:
                break
            if not (not aspired or has_aspired_serving or len(unaspired_serving) > 1):
                break
            self._start_unload_locked(harnesses[unaspired_serving[0]])

        # Load every new aspired version (highest first, as upstream).
        if not stopping and not self._stopped:
            for version in sorted(aspired, reverse=True):
                h = harnesses.get(version)
                if h is not None and h.state is _START:
                    h.state = _LOADING
                    self._publish_locked(h)
                    self._load_pool.submit(self._load, h)

        if not harnesses:
            del self._harnesses[name]

    def _refresh_serving_locked(self, name: str) -> None:
        versions = {v: h for v, h in self._harnesses.get(name, {}).items()
                    if h.state is _AVAILABLE}
        if versions:
            self._serving[name] = _ServingEntry(versions)
        else:
            self._serving.pop(name, None)
        if self._serving_observer is not None:
            try:
                self._serving_observer(name, {v: h.servable for v, h in versions.items()})
            except Exception:  # pylint: disable=broad-except
                logging.exception("Serving observer failed on %s", name)

    def _publish_locked(self, h: _Harness) -> None:
        self._states.setdefault(h.id.name, {})[h.id.version] = (h.state, h.error)
        self._events.append((h.id, h.state, h.error))

    def _dispatch_events(self) -> None:
        with self._dispatch_lock:
            with self._lock:
                events, self._events = self._events, []
            for event in events:
                for listener in self._listeners:
                    try:
                        listener(*event)
                    except Exception:  # pylint: disable=broad-except
                        logging.exception("Servable state listener failed on %s", event)

    # ------------------------------------------------------------------
    # Loading.

    def _load(self, h: _Harness) -> None:
        try:
            error = self._load_with_retries(h)
        except BaseException as e:  # pylint: disable=broad-except
            error = status.from_exception(e)
        with self._lock:
            if error is None:
                h.state = _AVAILABLE
                self._refresh_serving_locked(h.id.name)
            else:
                h.state = _END
                h.error = error
            self._publish_locked(h)
            self._manage_locked(h.id.name, stopping=self._stopped)
            self._cv.notify_all()
        self._dispatch_events()

    def _load_with_retries(self, h: _Harness) -> Optional[status.ServingError]:
        """Upstream's LoaderHarness::Load + Retry: returns None or the last error."""
        sid = h.id
        logging.info("Loading servable version %s", sid)
        error = None
        num_tries = 0
        while True:
            if h.cancel.is_set():
                logging.info("Load cancelled for servable: %s", sid)
                if error is None:
                    error = status.cancelled("Load cancelled before we could try to load.")
                break
            if num_tries > 0:
                logging.info("Retrying of Loading servable: %s retry: %d", sid, num_tries)
            num_tries += 1
            h.num_load_attempts = num_tries
            try:
                if h.loader is None:
                    h.loader = h.factory()
                h.loader.load()
                h.servable = h.loader.servable()
                error = None
                break
            except Exception as e:  # pylint: disable=broad-except
                error = status.from_exception(e)
                logging.error("Loading servable: %s failed: %s", sid, error)
                if num_tries == 1 and self._max_num_load_retries:
                    # A model that cannot load keeps a starting server waiting
                    # (by default 5 retries a minute apart): say what sets that.
                    logging.error("Loading servable: %s will be retried %d more time(s), "
                                  "%g s apart (--max_num_load_retries, "
                                  "--load_retry_interval_micros)", sid,
                                  self._max_num_load_retries, self._retry_interval_s)
            if num_tries > self._max_num_load_retries:
                if self._max_num_load_retries:
                    logging.info("Retrying of Loading servable: %s exhausted max_num_retries: %d",
                                 sid, self._max_num_load_retries)
                break
            if h.cancel.wait(self._retry_interval_s):
                logging.info("Retrying of Loading servable: %s was cancelled.", sid)
                break
        if error is None:
            logging.info("Successfully loaded servable version %s", sid)
        else:
            logging.error("Servable %s failed to load and goes to END: %s", sid, error)
        return error

    # ------------------------------------------------------------------
    # Unloading.

    def _start_unload_locked(self, h: _Harness) -> None:
        h.state = _UNLOADING
        self._refresh_serving_locked(h.id.name)  # no new handles from here on
        self._publish_locked(h)
        self._unloads = [u for u in self._unloads if not u.done()]
        self._unloads.append(self._unload_pool.submit(self._unload, h))

    def _unload(self, h: _Harness) -> None:
        with self._lock:
            if h.refs:
                logging.info("Waiting for %d handle(s) to servable version %s to be released",
                             h.refs, h.id)
            while h.refs > 0:
                self._cv.wait()
        logging.info("Unloading servable version %s", h.id)
        try:
            h.loader.unload()
        except Exception:  # pylint: disable=broad-except
            logging.exception("Unloading servable version %s failed", h.id)
        h.servable = None
        logging.info("Done unloading servable version %s", h.id)
        with self._lock:
            h.state = _END
            harnesses = self._harnesses.get(h.id.name)
            if harnesses is not None and harnesses.get(h.id.version) is h:
                del harnesses[h.id.version]
            self._publish_locked(h)
            self._manage_locked(h.id.name, stopping=self._stopped)
            self._cv.notify_all()
        self._dispatch_events()

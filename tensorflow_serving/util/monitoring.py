"""Counters and samplers: the server's side of TensorFlow's monitoring library.

Upstream declares its metrics with tensorflow::monitoring::Counter and Sampler
(a histogram with fixed bucket limits) in the modules that record them, all
in one process-wide registry that the Prometheus exporter reads. These are
the same two kinds, with the same names, labels and bucket limits.

Recording is off until enable() is called (the server does when
--monitoring_config_file turns Prometheus on), so serving without metrics pays
one attribute check per recording call.
"""

import bisect
import threading
from typing import Callable, Dict, List, Sequence, Tuple

_registry_lock = threading.Lock()
_families: List["_Family"] = []
# Called before each export: recorders outside Python (the native data plane)
# add what they recorded since the last call to the families.
_flush_hooks: List[Callable[[], None]] = []


class _State:
    enabled = False


def enable(on: bool = True) -> None:
    """Starts (or stops) recording in every family."""
    _State.enabled = on


def enabled() -> bool:
    return _State.enabled


def exponential_buckets(scale: float, growth_factor: float, bucket_count: int
                        ) -> Tuple[float, ...]:
    """Upstream's Buckets::Exponential: scale * growth_factor**i, i < bucket_count."""
    limits = []
    bound = scale
    for _ in range(bucket_count):
        limits.append(bound)
        bound *= growth_factor
    return tuple(limits)


class _Family:
    kind = ""

    def __init__(self, name: str, description: str, label_names: Sequence[str]):
        self.name = name
        self.description = description
        self.label_names = tuple(label_names)
        self._lock = threading.Lock()
        self._cells: Dict[tuple, object] = {}
        with _registry_lock:
            if any(f.name == name for f in _families):
                raise ValueError(f"metric {name} is defined twice")
            _families.append(self)

    def _check(self, labels: tuple) -> None:
        if len(labels) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {labels}")


class Counter(_Family):
    """A cumulative count per label tuple (upstream's monitoring::Counter)."""

    kind = "counter"

    def increment_by(self, labels: tuple = (), value: int = 1) -> None:
        if not _State.enabled:
            return
        self._check(labels)
        with self._lock:
            self._cells[labels] = self._cells.get(labels, 0) + value

    def value(self, labels: tuple = ()) -> int:
        with self._lock:
            return self._cells.get(tuple(labels), 0)

    def cells(self) -> Dict[tuple, int]:
        with self._lock:
            return dict(self._cells)


class Histogram:
    """One cell of a Sampler: counts per bucket, sum and count."""

    __slots__ = ("bucket_counts", "sum", "count")

    def __init__(self, num_buckets: int):
        self.bucket_counts = [0] * num_buckets
        self.sum = 0.0
        self.count = 0


class Sampler(_Family):
    """A histogram per label tuple (upstream's monitoring::Sampler).

    Bucket i counts values v with limit[i-1] <= v < limit[i], the last bucket
    everything from the last limit up, as TensorFlow's histograms do.
    """

    kind = "histogram"

    def __init__(self, name: str, description: str, label_names: Sequence[str],
                 bucket_limits: Sequence[float]):
        super().__init__(name, description, label_names)
        self.bucket_limits = tuple(bucket_limits)

    def add(self, labels: tuple, value: float) -> None:
        if not _State.enabled:
            return
        self._check(labels)
        index = bisect.bisect_right(self.bucket_limits, value)
        with self._lock:
            cell = self._cells.get(labels)
            if cell is None:
                cell = self._cells[labels] = Histogram(len(self.bucket_limits) + 1)
            cell.bucket_counts[index] += 1
            cell.sum += value
            cell.count += 1

    def merge(self, labels: tuple, bucket_counts: Sequence[int], total: float,
              count: int) -> None:
        """Adds a histogram recorded elsewhere with these bucket limits."""
        if not _State.enabled:
            return
        self._check(labels)
        if len(bucket_counts) != len(self.bucket_limits) + 1:
            raise ValueError(f"{self.name} has {len(self.bucket_limits) + 1} buckets, "
                             f"got {len(bucket_counts)}")
        with self._lock:
            cell = self._cells.get(labels)
            if cell is None:
                cell = self._cells[labels] = Histogram(len(self.bucket_limits) + 1)
            for i, n in enumerate(bucket_counts):
                cell.bucket_counts[i] += n
            cell.sum += total
            cell.count += count

    def cells(self) -> Dict[tuple, Histogram]:
        with self._lock:
            copies = {}
            for labels, cell in self._cells.items():
                copy = Histogram(len(cell.bucket_counts))
                copy.bucket_counts = list(cell.bucket_counts)
                copy.sum, copy.count = cell.sum, cell.count
                copies[labels] = copy
            return copies


def add_flush_hook(hook: Callable[[], None]) -> None:
    """Runs hook() before every export (see flush())."""
    with _registry_lock:
        _flush_hooks.append(hook)


def flush() -> None:
    """Lets every recorder outside Python add its recordings to the families."""
    with _registry_lock:
        hooks = list(_flush_hooks)
    for hook in hooks:
        hook()


def families() -> List[_Family]:
    """Every family defined so far, in definition order."""
    with _registry_lock:
        return list(_families)


def family(name: str) -> _Family:
    for f in families():
        if f.name == name:
            return f
    raise KeyError(name)

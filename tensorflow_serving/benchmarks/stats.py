"""Percentiles of request latencies, computed the way numpy's default does."""

import dataclasses
import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100), linear between closest ranks.

    Same definition as numpy.percentile's default ("linear"), without numpy so
    the maths is easy to check by hand.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


@dataclasses.dataclass
class Latency:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def latency_ms(durations_us: Sequence[int]) -> Latency | None:
    """Summary in milliseconds of per-request durations in microseconds."""
    if not durations_us:
        return None
    ms = [d / 1000.0 for d in durations_us]
    return Latency(count=len(ms), p50_ms=percentile(ms, 50), p90_ms=percentile(ms, 90),
                   p99_ms=percentile(ms, 99), max_ms=max(ms))

"""Percentiles of request latencies, computed the way numpy's default does,
and ratios of throughputs measured in rounds."""

import dataclasses
import math
import statistics
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


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the same-round ratios numerators[i] / denominators[i].

    Two servers measured in turns, round after round, see the machine's drift
    (a shared host's speed moves by 10-20% within minutes) alike within a
    round: the ratio of a round cancels it, where a ratio of the two sides'
    overall medians would not.
    """
    if not numerators or len(numerators) != len(denominators):
        raise ValueError(f"paired_ratio needs rounds of both sides, got {len(numerators)} "
                         f"and {len(denominators)}")
    return statistics.median(n / d for n, d in zip(numerators, denominators))

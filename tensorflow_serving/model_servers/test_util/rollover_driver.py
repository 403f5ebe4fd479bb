"""Rolls a served model over to new versions and measures the server's memory.

The memory soak (benchmarks/rollover_soak.py) and the end-to-end memory test
(model_servers/rollover_memory_test.py) do what a daily or hourly rollover
does: copy the newest version directory to the next number, wait until the
server serves only the new version (the old one END, which the server
publishes after it has unloaded it and released its memory), delete the old
directory and send the new version a few Predicts. After each rollover they
read the server's RSS, and the peak RSS during the rollover from the
kernel's high-water mark (VmHWM, reset before each rollover through
/proc/PID/clear_refs).

MemoryTargets judges the figures against the targets of docs/memory.md:
RSS after the last rollover within 10% of RSS after the first load, and the
peak of each rollover within RSS with one version plus 1.2x a version's
resident size (two versions are live while the new one loads, as the
availability-preserving policy requires).
"""

import dataclasses
import os
import shutil
import statistics
import time

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.test_util import test_util

_MB = 1 << 20


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no {field}")


def rss_bytes(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int:
    """The most RSS since the process started or reset_peak_rss()."""
    return _status_kib(pid, "VmHWM") * 1024


def reset_peak_rss(pid: int) -> bool:
    """Makes VmHWM start again from the current RSS; False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def directory_bytes(path: str) -> int:
    """The size of the files under `path` (a version's size on disk)."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


@dataclasses.dataclass(frozen=True)
class Rollover:
    """One rollover: to `version`, how long it took, RSS after it and its peak.

    `settled_rss` is read as soon as the old version is END (just after the
    server released its memory), `rss` after the new version has answered
    requests, so it includes what serving them keeps.
    """
    version: int
    seconds: float
    rss: int
    peak: int
    settled_rss: int = 0


class RolloverDriver:
    """Rolls `model` (served by `server` from `base_path`) to new versions."""

    def __init__(self, server: server_launcher.ServerRunner, model: str,
                 base_path: str, request_fn, requests_per_version: int = 2,
                 timeout: float = 120.0):
        """`request_fn(server, model)` sends one Predict and checks its answer."""
        self._server = server
        self._model = model
        self._base_path = base_path
        self._request_fn = request_fn
        self._requests = requests_per_version
        self._timeout = timeout

    @property
    def pid(self) -> int:
        return self._server.process.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def serve_requests(self, model=None) -> None:
        for _ in range(self._requests):
            self._request_fn(self._server, model or self._model)

    def newest_version(self) -> int:
        return max(int(v) for v in os.listdir(self._base_path) if v.isdigit())

    def roll(self) -> Rollover:
        """Copies the newest version to the next number and waits it through."""
        old = self.newest_version()
        new = old + 1
        peak_known = reset_peak_rss(self.pid)
        start = time.monotonic()
        staging = os.path.join(self._base_path, f".staging-{new}")
        shutil.copytree(os.path.join(self._base_path, str(old)), staging)
        # Appear whole, so the polling server never sees half a SavedModel.
        os.rename(staging, os.path.join(self._base_path, str(new)))
        self.wait_for_only(new)
        seconds = time.monotonic() - start
        peak = peak_rss_bytes(self.pid) if peak_known else 0
        settled = self.rss()
        shutil.rmtree(os.path.join(self._base_path, str(old)))
        self.serve_requests()
        return Rollover(new, seconds, self.rss(), peak, settled)

    def wait_for_only(self, version: int) -> None:
        """Waits until `version` is AVAILABLE and every other version END.

        Raises:
          RuntimeError: the server exited.
          AssertionError: the timeout passed first.
        """
        def only():
            if self._server.process.poll() is not None:
                raise RuntimeError(f"the model server exited with code "
                                   f"{self._server.process.returncode}:\n"
                                   f"{self._server.logs()}")
            try:
                states = self._server.version_states(self._model)
            except Exception:  # pylint: disable=broad-except
                return False  # e.g. a slow answer on a busy machine; ask again
            return (states.get(version) == "AVAILABLE" and
                    all(s == "END" for v, s in states.items() if v != version))
        test_util.wait_for(only, f"only version {version} of {self._model} to be "
                           "AVAILABLE", self._timeout, interval=0.05)


@dataclasses.dataclass(frozen=True)
class MemoryTargets:
    """The figures of a run and the targets they are held to.

    A version's size is what one more loaded version of the model adds to
    the server's RSS (`resident_bytes`, measured by loading a second copy of
    it); with two versions live during a rollover, the peak may exceed RSS
    with one version by that size and a fifth of it for transients. Its size
    on disk (`disk_bytes`) is reported beside it.
    """
    first_load_rss: int        # one version loaded and serving
    disk_bytes: int            # one version's SavedModel on disk
    resident_bytes: int        # RSS one more loaded version adds
    rollovers: tuple           # of Rollover
    max_growth: float = 0.10   # RSS after the last rollover over first_load_rss
    max_peak_versions: float = 1.2  # peak over first_load_rss, in versions

    @property
    def last_rss(self) -> int:
        return self.rollovers[-1].rss

    @property
    def growth(self) -> float:
        """RSS after the last rollover / RSS after the first load - 1."""
        return self.last_rss / self.first_load_rss - 1

    @property
    def peak(self) -> int:
        return max(r.peak for r in self.rollovers)

    @property
    def peak_versions(self) -> float:
        """(Highest peak - RSS with one version) in versions' resident sizes."""
        return (self.peak - self.first_load_rss) / self.resident_bytes

    def growth_ok(self) -> bool:
        return self.growth <= self.max_growth

    def peak_ok(self) -> bool:
        return self.peak_versions <= self.max_peak_versions

    def lines(self) -> list[str]:
        """The verdict, one target a line."""
        def verdict(ok):
            return "PASS" if ok else "MISS"
        on_disk = (self.peak - self.first_load_rss) / self.disk_bytes
        return [
            f"RSS after the first load {self.first_load_rss / _MB:.0f} MB, after "
            f"rollover {len(self.rollovers)} {self.last_rss / _MB:.0f} MB: "
            f"{self.growth:+.1%} (target <= +{self.max_growth:.0%}): "
            f"{verdict(self.growth_ok())}",
            f"peak RSS during a rollover {self.peak / _MB:.0f} MB = RSS with one "
            f"version + {self.peak_versions:.2f} x a version's resident "
            f"{self.resident_bytes / _MB:.0f} MB ({on_disk:.2f} x its "
            f"{self.disk_bytes / _MB:.0f} MB on disk) (target <= "
            f"{self.max_peak_versions:g} x): {verdict(self.peak_ok())}",
        ]


def growth_since_first(rss_values, tail: int = 2) -> float:
    """How far RSS rose from the first reading to the last ones.

    The median of the last `tail` readings (one noisy reading does not
    decide) minus the first: after a first rollover, which also pays
    TensorFlow's one-time costs of a second load, every further rollover
    should leave RSS where it was.
    """
    values = list(rss_values)
    if len(values) < tail + 1:
        raise ValueError(f"need at least {tail + 1} readings, got {len(values)}")
    return statistics.median(values[-tail:]) - values[0]

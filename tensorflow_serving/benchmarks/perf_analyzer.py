"""Finds and runs NVIDIA's perf_analyzer, and reads what it reports.

The binary comes with tritonclient's manylinux wheel (into the venv's bin/).
It links libb64 (Debian's libb64-0d, which tools/bazel installs) and
libcudart.so.12, which the nvidia-cuda-runtime-cu12 wheel provides; with no
GPU it never calls into it, but the loader needs it, so its directory goes on
LD_LIBRARY_PATH.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

# Its client-side results, one line each.
_CLIENT_LINE = re.compile(r"^\s*(Request count|Throughput|Avg latency|p50 latency|p90 latency|"
                          r"p95 latency|p99 latency|Avg HTTP time|Avg gRPC time):")
_THROUGHPUT = re.compile(r"^\s*Throughput: ([0-9.]+) infer/sec", re.M)


def command() -> tuple[list[str], dict]:
    """perf_analyzer's command and environment.

    Raises:
      RuntimeError: the venv lacks perf_analyzer or the CUDA runtime wheel.
    """
    binary = os.path.join(os.path.dirname(sys.executable), "perf_analyzer")
    if not os.access(binary, os.X_OK):
        binary = shutil.which("perf_analyzer") or ""
    if not binary:
        raise RuntimeError("perf_analyzer not found: it comes with tritonclient's wheel "
                           "(third_party/python/requirements_lock.txt)")
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nvidia-cuda-runtime-cu12 is not installed (perf_analyzer "
                           "needs its libcudart.so.12)")
    lib = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (lib, env.get("LD_LIBRARY_PATH")) if p)
    return [binary], env


def run(argv, env, timeout=600) -> str:
    """Runs it; returns its output.

    Raises:
      RuntimeError: it failed (a failed request fails it), with its output.
    """
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")
    return result.stdout


def client_lines(output: str) -> list[str]:
    """The lines of its client-side results (throughput, latencies)."""
    return [line.rstrip() for line in output.splitlines() if _CLIENT_LINE.match(line)]


def throughput(output: str) -> float | None:
    """The last measurement's inferences per second."""
    values = _THROUGHPUT.findall(output)
    return float(values[-1]) if values else None

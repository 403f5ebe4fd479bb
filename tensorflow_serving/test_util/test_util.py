"""Helpers every kind of test uses (upstream's tensorflow_serving/test_util).

wait_for() is how tests wait: on a condition, with a deadline, never for a
fixed time, so they pass on a loaded machine and do not idle on a fast one.
program_lines() is what a test reads of a program's stderr; runfiles_env()
points Bazel's runfiles library at a runfiles tree a test made.
"""

import os
import re
import time
from typing import Callable, TypeVar
from unittest import mock

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 60.0

# TensorFlow's native log lines, which a Python program cannot silence: what
# every program that imports TensorFlow prints to stderr besides its own words.
TF_NATIVE_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]"
    r"|To enable the following instructions)")


def program_lines(output: str) -> list[str]:
    """A program's non-blank output lines, without TensorFlow's native log."""
    return [line for line in output.splitlines()
            if line.strip() and not TF_NATIVE_LOG.match(line)]


def wait_for(condition: Callable[[], T], what: str,
             timeout: float = DEFAULT_TIMEOUT_SECONDS,
             interval: float = 0.01) -> T:
    """Calls `condition` until it returns something true; returns that.

    Raises:
      AssertionError: `timeout` seconds passed first; the message names `what`.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def runfiles_env(**variables):
    """A context in which os.environ has, of the variables Bazel's runfiles
    library reads (RUNFILES_DIR, RUNFILES_MANIFEST_FILE), only `variables`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUNFILES_DIR", "RUNFILES_MANIFEST_FILE")}
    env.update(variables)
    return mock.patch.dict(os.environ, env, clear=True)

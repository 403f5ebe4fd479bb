"""Helpers every kind of test uses (upstream's tensorflow_serving/test_util).

wait_for() is how tests wait (util/wait.py).
program_lines() is what a test reads of a program's stderr; runfiles_env()
points Bazel's runfiles library at a runfiles tree a test made.
"""

import os
import re
from unittest import mock

from tensorflow_serving.util import wait

DEFAULT_TIMEOUT_SECONDS = wait.DEFAULT_TIMEOUT_SECONDS
wait_for = wait.wait_for

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


def runfiles_env(**variables):
    """A context in which os.environ has, of the variables Bazel's runfiles
    library reads (RUNFILES_DIR, RUNFILES_MANIFEST_FILE), only `variables`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUNFILES_DIR", "RUNFILES_MANIFEST_FILE")}
    env.update(variables)
    return mock.patch.dict(os.environ, env, clear=True)

"""Waiting on a condition with a deadline, never for a fixed time.

How the launcher waits for a server to come up or a version to load, and how
tests wait: they pass on a loaded machine and do not idle on a fast one.
"""

import time
from typing import Callable, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 60.0


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

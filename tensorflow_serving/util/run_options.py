"""What upstream passes to Session::Run as RunOptions, for the current request.

Upstream's gRPC handlers set RunOptions.timeout_in_ms from the call's deadline
and its REST handler from --rest_api_timeout_in_ms, and hand the RunOptions
down to the session run (through batching, which counts time in its queue
against it). Here the edge opens a scope for the request, and
SavedModelBundle reads it where it runs the graph: the timeout and the model
name and API that runtime_latency is recorded under. The scope is a
contextvar, so concurrent requests on other threads never see each other's.
"""

import contextlib
import contextvars
import dataclasses
import time
from typing import Optional


@dataclasses.dataclass(frozen=True)
class RunOptions:
    deadline: Optional[float] = None  # time.monotonic(); None: no timeout
    model_name: str = ""
    api: str = ""  # "Predict", "Classify", "Regress" (runtime_latency) or other

    def remaining_seconds(self) -> Optional[float]:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


_current: contextvars.ContextVar[Optional[RunOptions]] = contextvars.ContextVar(
    "tensorflow_serving_run_options", default=None)


def current() -> Optional[RunOptions]:
    """The RunOptions of the request this thread is serving, if any."""
    return _current.get()


@contextlib.contextmanager
def scope(timeout_seconds: Optional[float] = None, model_name: str = "",
          api: str = ""):
    """Runs the body with RunOptions; timeout_seconds None or <= 0: no timeout
    (as a RunOptions.timeout_in_ms of 0)."""
    deadline = None
    if timeout_seconds is not None and timeout_seconds > 0:
        deadline = time.monotonic() + timeout_seconds
    token = _current.set(RunOptions(deadline, model_name, api))
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def deadline_scope(deadline: Optional[float]):
    """Runs the body with only an absolute deadline (batch threads use this)."""
    token = _current.set(RunOptions(deadline))
    try:
        yield
    finally:
        _current.reset(token)

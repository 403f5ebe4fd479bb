"""A scriptable Loader for tests of the manager, the source and ServerCore."""

import threading
from typing import Optional

from tensorflow_serving.core.loader import Loader


class FakeLoader(Loader):
    """Serves `servable`; can fail its first loads and block until released.

    Attributes:
      load_calls / unload_calls: how often load() / unload() ran.
      loaded: whether the servable is currently loaded.
    """

    def __init__(self, servable: object = None, fail_times: int = 0,
                 error: Optional[Exception] = None,
                 gate: Optional[threading.Event] = None):
        self._servable = servable
        self._fail_times = fail_times  # -1: fail forever
        self._error = error or RuntimeError("fake load failure")
        self._gate = gate
        self.load_calls = 0
        self.unload_calls = 0
        self.loaded = False
        self.load_started = threading.Event()
        self.unloaded = threading.Event()

    def load(self) -> None:
        self.load_calls += 1
        self.load_started.set()
        if self._gate is not None:
            self._gate.wait()
        if self._fail_times < 0 or self.load_calls <= self._fail_times:
            raise self._error
        self.loaded = True

    def unload(self) -> None:
        self.unload_calls += 1
        self.loaded = False
        self.unloaded.set()

    def servable(self) -> object:
        return self._servable

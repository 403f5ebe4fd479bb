"""Rate-limits log records that clients can trigger at will.

A client that sends thousands of undecodable requests must not fill the
server's log with thousands of tracebacks. RepeatedRecordFilter lets the first
matching record through whole, then at most one line per interval that says
how many were suppressed, without their tracebacks.
"""

import logging
import threading
import time


class RepeatedRecordFilter(logging.Filter):
    """A logging.Filter for records whose message starts with `prefix`."""

    def __init__(self, prefix: str, interval_seconds: float = 60.0,
                 clock=time.monotonic):
        super().__init__()
        self._prefix = prefix
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._next = None  # when the next record may pass
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self._prefix):
            return True
        now = self._clock()
        with self._lock:
            if self._next is not None and now < self._next:
                self._suppressed += 1
                return False
            first = self._next is None
            suppressed, self._suppressed = self._suppressed, 0
            self._next = now + self._interval
        if not first:
            # Later records: one line, no traceback.
            record.exc_info = None
            record.exc_text = None
            record.msg = (f"{self._prefix} (and {suppressed} more like it in the "
                          f"last {self._interval:.0f}s; details logged once)")
            record.args = ()
        return True


def install(logger_name: str, prefix: str, interval_seconds: float = 60.0
            ) -> RepeatedRecordFilter:
    """Adds a RepeatedRecordFilter to the named logger; returns it."""
    log_filter = RepeatedRecordFilter(prefix, interval_seconds)
    logging.getLogger(logger_name).addFilter(log_filter)
    return log_filter

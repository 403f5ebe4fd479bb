"""Rate-limits log records that clients can trigger at will.

A client that sends thousands of undecodable requests must not fill the
server's log with thousands of tracebacks: what a client sent is not a fault
of the server's, so a traceback would only point into gRPC's own code.
RepeatedRecordFilter turns each matching record into one line naming the
exception, without its traceback, and lets at most one through per interval,
saying how many were suppressed since the last.
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
            suppressed, self._suppressed = self._suppressed, 0
            self._next = now + self._interval
        text = record.getMessage()
        cause = record.exc_info[1] if record.exc_info else None
        if cause is not None:
            detail = str(cause).strip().splitlines()
            text += f" ({type(cause).__name__}{': ' + detail[0] if detail else ''})"
        if suppressed:
            text += (f" (and {suppressed} more like it in the last "
                     f"{self._interval:.0f}s)")
        record.msg, record.args = text, ()
        record.exc_info = record.exc_text = None
        return True


def install(logger_name: str, prefix: str, interval_seconds: float = 60.0
            ) -> RepeatedRecordFilter:
    """Adds a RepeatedRecordFilter to the named logger; returns it."""
    log_filter = RepeatedRecordFilter(prefix, interval_seconds)
    logging.getLogger(logger_name).addFilter(log_filter)
    return log_filter

"""The "tfrecord" log collector: sampled requests' PredictionLog records into
TFRecord files, the format of a model's warmup file.

The native data plane queues the records of sampled requests (its
ServerRequestLogger), each already framed as a TFRecord; this collector's one
thread takes them and appends each model's to files named
`<filename_prefix>-<UTC start time>-<sequence>.tfrecord`, many records per
write, through TensorFlow's file systems, so any file system TensorFlow reads
works as a local path does. A file is written under its name plus `.tmp` and
renamed when it reaches --request_log_max_file_bytes, when its prefix has had
no record for IDLE_CLOSE_SECONDS (a reload turned the model's logging off, or
no traffic), or when the server stops, so a file without `.tmp` is complete. A file that cannot be written costs its
records (counted) and one log line per minute per prefix; serving goes on.
"""

import threading
import time
from typing import Callable, Dict, List, Optional

from absl import logging

from tensorflow_serving.util import monitoring

# How long records may wait for the writer when few come (the data plane
# wakes it sooner once a batch of them waits).
_WAIT_SECONDS = 0.25
_BATCH = 256
_ERROR_LOG_INTERVAL_SECONDS = 60.0
IDLE_CLOSE_SECONDS = 10.0

_write_errors = monitoring.Counter(
    "/tensorflow/serving/request_log_write_error_count",
    "Request log records lost because their file could not be written.",
    ("filename_prefix",))

# {prefix: [TFRecord bytes]} batches, None once the data plane is closed.
NextRecords = Callable[[float, int], Optional[Dict[str, List[bytes]]]]


class _File:
    """One open log file of a prefix."""

    def __init__(self, prefix: str, sequence: int):
        import tensorflow as tf  # pylint: disable=g-import-not-at-top
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.path = f"{prefix}-{stamp}-{sequence:05d}.tfrecord"
        self._gfile = tf.io.gfile
        self._writer = tf.io.gfile.GFile(self.path + ".tmp", "wb")
        self.size = 0
        self.last_write = time.monotonic()

    def write(self, records: List[bytes]) -> None:
        data = b"".join(records)
        self._writer.write(data)
        self.size += len(data)
        self.last_write = time.monotonic()

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
        self._gfile.rename(self.path + ".tmp", self.path, overwrite=True)


class TfRecordLogCollector:
    """Writes the records `next_records` hands out until it returns None."""

    def __init__(self, next_records: NextRecords, max_file_bytes: int,
                 idle_close_seconds: float = IDLE_CLOSE_SECONDS):
        self._next = next_records
        self._max_file_bytes = max_file_bytes
        self._idle_close_seconds = idle_close_seconds
        self._files: Dict[str, _File] = {}
        self._sequence: Dict[str, int] = {}
        self._last_error_log: Dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="tfrecord_log_collector",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Waits for the last records to be written; True if they were."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            records = self._next(_WAIT_SECONDS, _BATCH)
            if records is None:
                break
            for prefix, batch in records.items():
                self._write(prefix, batch)
            now = time.monotonic()
            for prefix, log_file in list(self._files.items()):
                if now - log_file.last_write >= self._idle_close_seconds:
                    self._close(prefix)
                elif not records:  # idle: what was written becomes readable
                    self._guarded(prefix, log_file.flush)
        for prefix in list(self._files):
            self._close(prefix)

    def _write(self, prefix: str, records: List[bytes]) -> None:
        written = 0

        def write_all():
            nonlocal written
            while written < len(records):
                log_file = self._files.get(prefix)
                if log_file is None:
                    sequence = self._sequence.get(prefix, 0)
                    self._sequence[prefix] = sequence + 1
                    log_file = self._files[prefix] = _File(prefix, sequence)
                # The records that fit the file (at least one), in one write.
                end, size = written, log_file.size
                while end < len(records) and (end == written or size < self._max_file_bytes):
                    size += len(records[end])
                    end += 1
                log_file.write(records[written:end])
                written = end
                if log_file.size >= self._max_file_bytes:
                    self._close(prefix)

        if not self._guarded(prefix, write_all):
            _write_errors.increment_by((prefix,), len(records) - written)

    def _close(self, prefix: str) -> None:
        log_file = self._files.pop(prefix, None)
        if log_file is not None:
            self._guarded(prefix, log_file.close)

    def _guarded(self, prefix: str, action) -> bool:
        """Runs `action`; on an error drops the prefix's file and logs it at
        most once a minute. Returns whether it succeeded."""
        try:
            action()
            return True
        except Exception as e:  # pylint: disable=broad-except
            self._files.pop(prefix, None)
            now = time.monotonic()
            if now - self._last_error_log.get(prefix, -_ERROR_LOG_INTERVAL_SECONDS) >= (
                    _ERROR_LOG_INTERVAL_SECONDS):
                self._last_error_log[prefix] = now
                logging.error("Request log %s cannot be written (records are dropped "
                              "and counted): %s", prefix, str(e).splitlines()[0] if str(e)
                              else type(e).__name__)
            return False

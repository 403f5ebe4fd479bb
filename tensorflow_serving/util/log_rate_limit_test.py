"""RepeatedRecordFilter: one line without a traceback, at most one per interval."""

import logging

from absl.testing import absltest

from tensorflow_serving.util import log_rate_limit


class _Clock:

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class RepeatedRecordFilterTest(absltest.TestCase):

    def _record(self, msg, exc=True):
        exc_info = None
        if exc:
            try:
                raise ValueError("bad bytes")
            except ValueError:
                import sys  # pylint: disable=g-import-not-at-top
                exc_info = sys.exc_info()
        return logging.LogRecord("grpc._common", logging.ERROR, __file__, 1, msg,
                                 (), exc_info)

    def test_one_line_per_interval_without_traceback(self):
        clock = _Clock()
        f = log_rate_limit.RepeatedRecordFilter("Exception deserializing", 60, clock)
        first = self._record("Exception deserializing message!")
        self.assertTrue(f.filter(first))
        self.assertIsNone(first.exc_info)
        self.assertEqual(first.getMessage(),
                         "Exception deserializing message! (ValueError: bad bytes)")
        for _ in range(500):
            self.assertFalse(f.filter(self._record("Exception deserializing message!")))
        clock.now = 61
        later = self._record("Exception deserializing message!")
        self.assertTrue(f.filter(later))
        self.assertIsNone(later.exc_info)
        self.assertEqual(later.getMessage(),
                         "Exception deserializing message! (ValueError: bad bytes) "
                         "(and 500 more like it in the last 60s)")
        self.assertFalse(f.filter(self._record("Exception deserializing message!")))

    def test_other_records_pass(self):
        f = log_rate_limit.RepeatedRecordFilter("Exception deserializing", 60, _Clock())
        for _ in range(3):
            self.assertTrue(f.filter(self._record("something else", exc=False)))


if __name__ == "__main__":
    absltest.main()

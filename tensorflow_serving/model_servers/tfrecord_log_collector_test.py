import glob
import os
import queue
import tempfile

from absl.testing import absltest
import tensorflow as tf

from tensorflow_serving.model_servers import tfrecord_log_collector
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import wait


def _framed(data):
    """`data` as one TFRecord, framed by TensorFlow's own writer."""
    path = os.path.join(tempfile.mkdtemp(), "framed")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(data)
    with open(path, "rb") as f:
        return f.read()


class _Records:
    """What the native side's next_request_logs hands out: batches of
    TFRecords, then None."""

    def __init__(self):
        self._batches = queue.Queue()

    def put(self, *records):
        """(prefix, bytes) pairs, handed out framed and grouped by prefix as the
        data plane does."""
        batch = {}
        for prefix, record in records:
            batch.setdefault(prefix, []).append(_framed(record))
        self._batches.put(batch)

    def close(self):
        self._batches.put(None)

    def __call__(self, timeout, max_records):
        del max_records
        try:
            return self._batches.get(timeout=timeout)
        except queue.Empty:
            return {}


def _read(path):
    return [r.numpy() for r in tf.data.TFRecordDataset(path)]


class TfRecordLogCollectorTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.records = _Records()
        self.dir = self.create_tempdir().full_path

    def _collector(self, max_file_bytes=1 << 20):
        collector = tfrecord_log_collector.TfRecordLogCollector(self.records, max_file_bytes)
        collector.start()
        self.addCleanup(collector.join, 10)
        return collector

    def test_records_of_each_prefix_in_its_files_complete_once_closed(self):
        collector = self._collector()
        a, b = os.path.join(self.dir, "a"), os.path.join(self.dir, "logs", "b")
        os.makedirs(os.path.dirname(b))
        self.records.put((a, b"1"), (b, b"2"), (a, b"3"))
        self.records.close()
        self.assertTrue(collector.join(30))
        (a_file,) = glob.glob(a + "-*")
        (b_file,) = glob.glob(b + "-*")
        self.assertRegex(a_file, r"-\d{8}T\d{6}Z-00000\.tfrecord$")
        self.assertEqual(_read(a_file), [b"1", b"3"])
        self.assertEqual(_read(b_file), [b"2"])

    def test_any_tensorflow_file_system_works_as_a_local_path(self):
        collector = self._collector()
        prefix = "ram://request_logs/m"
        self.records.put((prefix, b"1"), (prefix, b"2"))
        self.records.close()
        self.assertTrue(collector.join(30))
        (path,) = tf.io.gfile.glob(prefix + "-*.tfrecord")
        self.assertEqual(_read(path), [b"1", b"2"])

    def test_a_full_file_is_closed_and_the_next_begun(self):
        # A TFRecord's framing adds 16 bytes: length and two CRCs.
        collector = self._collector(max_file_bytes=3 * (100 + 16))
        prefix = os.path.join(self.dir, "m")
        for i in range(7):
            self.records.put((prefix, bytes([i]) * 100))
        self.records.close()
        self.assertTrue(collector.join(30))
        files = sorted(glob.glob(prefix + "-*"))
        self.assertLen(files, 3)
        self.assertFalse(glob.glob(prefix + "-*.tmp"))
        self.assertEqual([len(_read(f)) for f in files], [3, 3, 1])

    def test_a_prefix_without_records_has_its_file_closed(self):
        collector = tfrecord_log_collector.TfRecordLogCollector(
            self.records, 1 << 20, idle_close_seconds=0.2)
        collector.start()
        self.addCleanup(collector.join, 10)
        prefix = os.path.join(self.dir, "m")
        self.records.put((prefix, b"1"))
        # Complete while the collector runs: no more records came for it.
        (path,) = wait.wait_for(lambda: glob.glob(prefix + "-*.tfrecord"),
                                "the idle file closed", 30)
        self.assertEqual(_read(path), [b"1"])
        self.records.put((prefix, b"2"))
        self.records.close()
        self.assertTrue(collector.join(30))
        self.assertLen(glob.glob(prefix + "-*.tfrecord"), 2)

    def test_unwritable_prefix_drops_counts_and_logs_once(self):
        monitoring.enable()
        self.addCleanup(monitoring.enable, False)
        collector = self._collector()
        blocked = os.path.join(self.dir, "not_a_dir")
        with open(blocked, "w") as f:
            f.write("x")
        prefix = os.path.join(blocked, "m")
        good = os.path.join(self.dir, "good")
        counter = monitoring.family("/tensorflow/serving/request_log_write_error_count")
        with self.assertLogs(level="ERROR") as logs:
            self.records.put((prefix, b"1"), (prefix, b"2"), (good, b"3"))
            self.records.close()
            self.assertTrue(collector.join(30))
        self.assertEqual(counter.value((prefix,)), 2)
        self.assertLen([line for line in logs.output if "cannot be written" in line], 1)
        (good_file,) = glob.glob(good + "-*")
        self.assertEqual(_read(good_file), [b"3"])


if __name__ == "__main__":
    absltest.main()

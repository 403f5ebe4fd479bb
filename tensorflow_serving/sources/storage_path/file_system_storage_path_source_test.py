import os
import threading

from absl.testing import absltest
import grpc

from tensorflow_serving.sources.storage_path import file_system_storage_path_source as fs_source
from tensorflow_serving.util import status

Config = fs_source.FileSystemStoragePathSourceConfig


class Recorder:
    """Records callback calls; lets a test wait for the next one."""

    def __init__(self):
        self.calls = []
        self._cv = threading.Condition()

    def __call__(self, name, versions):
        with self._cv:
            self.calls.append((name, versions))
            self._cv.notify_all()

    def wait_for(self, predicate, timeout=10):
        with self._cv:
            return self._cv.wait_for(lambda: predicate(self.calls), timeout)


class FileSystemStoragePathSourceTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.base = self.create_tempdir().full_path

    def _model(self, name, *versions):
        path = os.path.join(self.base, name)
        os.makedirs(path, exist_ok=True)
        for v in versions:
            os.makedirs(os.path.join(path, str(v)), exist_ok=True)
        return path

    def _config(self, poll_wait=0, **servables):
        config = Config(file_system_poll_wait_seconds=poll_wait)
        for name, (path, policy) in servables.items():
            s = config.servables.add(servable_name=name, base_path=path)
            if policy is not None:
                s.servable_version_policy.CopyFrom(policy)
        return config

    def test_latest_by_default_and_ignores_non_versions(self):
        path = self._model("m", 1, 2, 10)
        os.makedirs(os.path.join(path, "tmp"))
        os.makedirs(os.path.join(path, "-3"))
        open(os.path.join(path, "20"), "w").close()  # a file, not a version dir
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(self._config(m=(path, None)), rec)
        result = source.poll()
        expected = {10: os.path.join(path, "10")}
        self.assertEqual(result, {"m": expected})
        self.assertEqual(rec.calls, [("m", expected)])

    def test_latest_n_all_specific(self):
        path = self._model("m", 1, 2, 3)
        latest2 = Config.ServableVersionPolicy()
        latest2.latest.num_versions = 2
        all_versions = Config.ServableVersionPolicy()
        all_versions.all.SetInParent()
        specific = Config.ServableVersionPolicy()
        specific.specific.versions.extend([1, 3, 4])
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(
            self._config(a=(path, latest2), b=(path, all_versions), c=(path, specific)), rec)
        result = source.poll()
        self.assertEqual(sorted(result["a"]), [2, 3])
        self.assertEqual(sorted(result["b"]), [1, 2, 3])
        self.assertEqual(sorted(result["c"]), [1, 3])

    def test_unchanged_versions_are_not_resent(self):
        path = self._model("m", 1)
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(self._config(m=(path, None)), rec)
        source.poll()
        source.poll()
        self.assertLen(rec.calls, 1)
        self._model("m", 2)
        source.poll()
        self.assertEqual(rec.calls[-1], ("m", {2: os.path.join(path, "2")}))

    def test_empty_base_path_emits_no_versions(self):
        path = self._model("m")
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(self._config(m=(path, None)), rec)
        with self.assertLogs(level="WARNING") as logs:
            self.assertEqual(source.poll(), {"m": {}})
        self.assertIn("No versions of servable m found under base path", logs.output[0])
        self.assertEqual(rec.calls, [("m", {})])

    def test_missing_base_path_is_retried(self):
        path = os.path.join(self.base, "later")
        other = self._model("other", 4)
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(
            self._config(m=(path, None), other=(other, None)), rec)
        with self.assertLogs(level="WARNING") as logs:
            result = source.poll()
        self.assertIsNone(result["m"])
        self.assertEqual(sorted(result["other"]), [4])
        self.assertIn("Could not find base path", "".join(logs.output))
        self.assertEqual([name for name, _ in rec.calls], ["other"])
        self._model("later", 1)
        self.assertEqual(source.poll()["m"], {1: os.path.join(path, "1")})
        self.assertEqual(rec.calls[-1][0], "m")

    def test_duplicate_version_dirs(self):
        path = self._model("m", "007", "7")
        source = fs_source.FileSystemStoragePathSource(self._config(m=(path, None)), Recorder())
        self.assertEqual(source.poll(), {"m": {7: os.path.join(path, "7")}})

    def test_update_config_unaspires_removed_servables(self):
        a, b = self._model("a", 1), self._model("b", 1)
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(
            self._config(a=(a, None), b=(b, None)), rec)
        source.poll()
        source.update_config(self._config(a=(a, None)))
        self.assertEqual(rec.calls[-1], ("b", {}))
        self.assertEqual(list(source.poll()), ["a"])
        self.assertEqual([s.servable_name for s in source.config.servables], ["a"])

    def test_poll_once_mode_starts_no_thread(self):
        path = self._model("m", 1)
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(self._config(0, m=(path, None)), rec)
        source.poll()
        source.start()
        self._model("m", 2)
        # No thread polls: no second call comes.
        self.assertFalse(rec.wait_for(lambda calls: len(calls) > 1, timeout=0.1))
        self.assertLen(rec.calls, 1)
        self.assertEqual(sorted(rec.calls[0][1]), [1])
        source.stop()

    def test_periodic_polling_finds_new_versions(self):
        path = self._model("m", 1)
        rec = Recorder()
        source = fs_source.FileSystemStoragePathSource(
            self._config(1, m=(path, None)), rec, poll_wait_seconds=0.02)
        source.poll()
        source.start()
        self._model("m", 2)
        self.assertTrue(rec.wait_for(lambda calls: 2 in calls[-1][1]))
        source.stop()

    def test_poll_wait_from_config_cannot_change(self):
        path = self._model("m", 1)
        source = fs_source.FileSystemStoragePathSource(self._config(1, m=(path, None)), Recorder())
        source.start()
        try:
            with self.assertRaises(status.ServingError) as cm:
                source.update_config(self._config(5, m=(path, None)))
            self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        finally:
            source.stop()


class OtherFileSystemsTest(absltest.TestCase):
    """Base paths of every TensorFlow file system, not only local ones."""

    def test_ram_file_system(self):
        import tensorflow as tf  # pylint: disable=g-import-not-at-top
        base = "ram://fs_source_test/model"
        for child in ("1", "7", "notaversion"):
            tf.io.gfile.makedirs(f"{base}/{child}")
        with tf.io.gfile.GFile(f"{base}/9", "w") as f:  # a file, not a version dir
            f.write("x")
        self.assertEqual(fs_source.list_versions("m", base),
                         {1: f"{base}/1", 7: f"{base}/7"})
        rec = Recorder()
        config = Config()
        config.servables.add(servable_name="m", base_path=base)
        source = fs_source.FileSystemStoragePathSource(config, rec)
        self.assertEqual(source.poll(), {"m": {7: f"{base}/7"}})
        with self.assertRaises(FileNotFoundError):
            fs_source.list_versions("m", "ram://fs_source_test/missing")

    def test_file_uri(self):
        base = self.create_tempdir().full_path
        os.makedirs(os.path.join(base, "3"))
        self.assertEqual(fs_source.list_versions("m", "file://" + base),
                         {3: f"file://{base}/3"})

    def test_unknown_scheme_is_a_polling_error_not_a_crash(self):
        rec = Recorder()
        config = Config()
        config.servables.add(servable_name="m", base_path="nosuchfs://bucket/m")
        source = fs_source.FileSystemStoragePathSource(config, rec)
        self.assertEqual(source.poll(), {"m": None})
        self.assertEqual(rec.calls, [])


if __name__ == "__main__":
    absltest.main()

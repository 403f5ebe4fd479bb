import os

from absl.testing import absltest

from tensorflow_serving.test_util import test_util
from tensorflow_serving.util import runfiles_util


class RunfileTest(absltest.TestCase):

    def test_found_in_a_runfiles_directory(self):
        root = self.create_tempdir().full_path
        path = os.path.join(root, "repo", "data.txt")
        os.makedirs(os.path.dirname(path))
        open(path, "w").close()
        with test_util.runfiles_env(RUNFILES_DIR=root):
            self.assertEqual(runfiles_util.runfile("repo/data.txt"), path)
            self.assertIsNone(runfiles_util.runfile("repo/missing.txt"))

    def test_found_through_a_manifest(self):
        elsewhere = self.create_tempfile().full_path
        manifest = self.create_tempfile(content=f"repo/data.txt {elsewhere}\n").full_path
        with test_util.runfiles_env(RUNFILES_MANIFEST_FILE=manifest):
            self.assertEqual(runfiles_util.runfile("repo/data.txt"), elsewhere)
            self.assertIsNone(runfiles_util.runfile("repo/missing.txt"))

    def test_nothing_without_runfiles(self):
        with test_util.runfiles_env():
            self.assertIsNone(runfiles_util.runfile("repo/data.txt"))


if __name__ == "__main__":
    absltest.main()

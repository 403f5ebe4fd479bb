"""The toolchain's venv works from where it is: its console scripts and
`activate` (saved_model_cli, the way to look inside an exported model)."""

import os
import subprocess
import tempfile
import unittest

import tensorflow as tf

from tensorflow_serving.util import runfiles_util


def _venv():
    path = runfiles_util.runfile("python_venv/venv_path.txt")
    if path is None:
        raise FileNotFoundError("python_venv/venv_path.txt is not in the runfiles")
    with open(path) as f:
        return f.read().strip()


class _HalfPlusTwo(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": x * 0.5 + 2.0}


class VenvScriptsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.venv = _venv()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = os.path.join(cls.tmp.name, "half_plus_two", "1")
        module = _HalfPlusTwo()
        tf.saved_model.save(module, cls.model,
                            signatures={"serving_default": module.serve})
        # A learner's terminal: the venv's scripts found through PATH alone.
        cls.env = {"PATH": "/usr/bin:/bin", "HOME": cls.tmp.name,
                   "TF_CPP_MIN_LOG_LEVEL": "2"}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def _check_show(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("signature_def['serving_default']", result.stdout)
        self.assertIn("name: serving_default_x:0", result.stdout)
        self.assertIn("outputs['y'] tensor_info", result.stdout)

    def test_every_script_names_an_interpreter_that_exists(self):
        bin_dir = os.path.join(self.venv, "bin")
        checked = 0
        for name in sorted(os.listdir(bin_dir)):
            path = os.path.join(bin_dir, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                first = f.readline()
            if first.startswith(b"#!"):
                interpreter = first[2:].split()[0].decode()
                if interpreter.startswith(self.venv):
                    self.assertTrue(os.access(interpreter, os.X_OK), (name, interpreter))
                    checked += 1
            with open(path, "rb") as f:
                self.assertNotIn(b"/.staging-", f.read(), name)
        self.assertGreaterEqual(checked, 5)  # pip, saved_model_cli, ...

    def test_saved_model_cli_show(self):
        cli = os.path.join(self.venv, "bin", "saved_model_cli")
        result = subprocess.run(
            [cli, "show", "--dir", self.model, "--tag_set", "serve",
             "--signature_def", "serving_default"],
            capture_output=True, text=True, env=self.env, timeout=300, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("inputs['x'] tensor_info", result.stdout)
        self.assertIn("outputs['y'] tensor_info", result.stdout)

    def test_saved_model_cli_after_activate(self):
        result = subprocess.run(
            ["bash", "-c", 'source "$1/bin/activate" && command -v saved_model_cli && '
             'saved_model_cli show --dir "$2" --all', "bash", self.venv, self.model],
            capture_output=True, text=True, env=self.env, timeout=300, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines()[0],
                         os.path.join(self.venv, "bin", "saved_model_cli"))
        self._check_show(result)


if __name__ == "__main__":
    unittest.main()

"""Tests create_venv.py with wheels made here (no package registry).

The venv must work from where it ends up: its console scripts and `activate`
name its own directory, an unfinished one is built again, and a substitute
distribution (PROVIDERS) meets a requirement only at an accepted version.
"""

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import create_venv  # pylint: disable=g-import-not-at-top,wrong-import-position


def _make_wheel(directory, name, version, requires=(), script=None):
    """Writes a pure-Python wheel; returns its path."""
    module = name.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (module, version)
    files = {
        module + "/__init__.py": (
            "import sys\n"
            "def main():\n"
            "    print('%s ran in', sys.prefix)\n" % name),
        dist_info + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
            name, version, "".join("Requires-Dist: %s\n" % r for r in requires)),
        dist_info + "/WHEEL": ("Wheel-Version: 1.0\nGenerator: create_venv_test\n"
                               "Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    if script:
        files[dist_info + "/entry_points.txt"] = (
            "[console_scripts]\n%s = %s:main\n" % (script, module))
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(
            hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
    record.append(dist_info + "/RECORD,,")
    files[dist_info + "/RECORD"] = "\n".join(record) + "\n"
    path = os.path.join(directory, "%s-%s-py3-none-any.whl" % (module, version))
    with zipfile.ZipFile(path, "w") as wheel:
        for name_in_zip, text in files.items():
            wheel.writestr(name_in_zip, text)
    return path


class CreateVenvTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.wheels = os.path.join(cls.tmp.name, "wheels")
        os.makedirs(cls.wheels)
        cls.lock = os.path.join(cls.tmp.name, "requirements_lock.txt")
        with open(cls.lock, "w") as f:
            f.write("# a lock of one local wheel\n%s\n" % _make_wheel(
                cls.wheels, "demo-tool", "1.0", script="demo-tool"))
        cls.cache = os.path.join(cls.tmp.name, "cache")
        cls.venv = create_venv.create(cls.lock, cls.cache)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def _pip_install(self, *wheels):
        subprocess.run([os.path.join(self.venv, "bin", "python3"), "-m", "pip",
                        "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--no-index", *wheels],
                       check=True, capture_output=True)

    def test_console_script_runs_from_the_final_directory(self):
        self.assertEqual(os.path.dirname(self.venv), self.cache)
        script = os.path.join(self.venv, "bin", "demo-tool")
        with open(script) as f:
            self.assertEqual(f.readline().strip(),
                             "#!" + os.path.join(self.venv, "bin", "python3"))
        result = subprocess.run([script], capture_output=True, text=True,
                                check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "demo-tool ran in " + self.venv)

    def test_activate_names_the_final_directory(self):
        result = subprocess.run(
            ["bash", "-c", 'source "$1/bin/activate" && echo "$VIRTUAL_ENV" && '
             "command -v demo-tool && demo-tool", "bash", self.venv],
            capture_output=True, text=True, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [
            self.venv, os.path.join(self.venv, "bin", "demo-tool"),
            "demo-tool ran in " + self.venv])

    def test_no_staging_directory_is_left(self):
        self.assertEqual(sorted(os.listdir(self.cache)),
                         sorted([os.path.basename(self.venv),
                                 os.path.basename(self.venv) + ".lock"]))

    def test_complete_venv_is_reused(self):
        marker = os.path.join(self.venv, "kept")
        with open(marker, "w"):
            pass
        try:
            self.assertEqual(create_venv.create(self.lock, self.cache), self.venv)
            self.assertTrue(os.path.exists(marker))
        finally:
            os.remove(marker)

    def test_unfinished_venv_is_built_again(self):
        cache = os.path.join(self.tmp.name, "cache_unfinished")
        target = os.path.join(cache, "venv-" + create_venv.venv_key(self.lock))
        os.makedirs(os.path.join(target, "bin"))
        with open(os.path.join(target, "left_by_an_interrupted_run"), "w"):
            pass
        self.assertEqual(create_venv.create(self.lock, cache), target)
        self.assertFalse(os.path.exists(
            os.path.join(target, "left_by_an_interrupted_run")))
        self.assertTrue(os.path.exists(os.path.join(target, ".complete")))

    def test_substitute_meets_a_requirement_only_at_an_accepted_version(self):
        python = [os.path.join(self.venv, "bin", "python3")]
        self._pip_install(
            _make_wheel(self.wheels, "demo-cpu", "1.2"),
            _make_wheel(self.wheels, "demo-api", "1.0", requires=["demo>=1.0,<2"]))
        providers = {"demo": "demo-cpu"}
        try:
            with self.assertRaises(subprocess.CalledProcessError):
                create_venv.check(python, providers={})
            create_venv.check(python, providers=providers)
            self._pip_install(_make_wheel(self.wheels, "demo-strict", "1.0",
                                          requires=["demo>=2"]))
            with self.assertRaises(subprocess.CalledProcessError):
                create_venv.check(python, providers=providers)
        finally:
            subprocess.run(python + ["-m", "pip", "uninstall", "--yes", "--quiet",
                                     "demo-cpu", "demo-api", "demo-strict"],
                           check=True, capture_output=True)
            create_venv.check(python, providers={})


if __name__ == "__main__":
    unittest.main()

"""Tests for build_oci_image: the app layer, its launcher and native deps."""

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

from tensorflow_serving.tools.docker import build_oci_image
from tensorflow_serving.tools.docker import oci_layer


def _runfile(path):
    return os.path.join(os.environ.get("TEST_SRCDIR", ""), "tf_serving", path)


class ElfTest(unittest.TestCase):

    def test_needed_of_a_real_binary(self):
        needed = build_oci_image.elf_needed("/bin/sh")
        self.assertIn("libc.so.6", needed)

    def test_not_elf(self):
        self.assertIsNone(build_oci_image.elf_needed(__file__))


class ResolveNativeTest(unittest.TestCase):

    def test_pure_python_needs_nothing(self):
        copies, dirs = build_oci_image.resolve_native(
            {"/opt/tf_serving/x.runfiles/a.py": __file__}, {})
        self.assertEqual((copies, dirs), ({}, []))

    def test_base_libraries_are_not_copied(self):
        host = build_oci_image.host_library_paths()
        image_libs = {name: "/usr/lib/x86_64-linux-gnu" for name in host}
        copies, dirs = build_oci_image.resolve_native(
            {"/opt/tf_serving/x.runfiles/tool": "/bin/sh"}, image_libs)
        self.assertEqual((copies, dirs), ({}, []))

    def test_missing_libraries_come_from_the_host_with_their_deps(self):
        # /bin/sh needs libc.so.6, which in turn needs the dynamic loader.
        copies, _ = build_oci_image.resolve_native(
            {"/opt/tf_serving/x.runfiles/tool": "/bin/sh"}, {})
        self.assertIn(build_oci_image.LIB_DIR + "/libc.so.6", copies)
        self.assertTrue(os.path.exists(copies[build_oci_image.LIB_DIR + "/libc.so.6"]))
        self.assertTrue(any("ld-linux" in p for p in copies))

    def test_venv_libraries_put_their_dir_on_the_library_path(self):
        copies, dirs = build_oci_image.resolve_native(
            {"/opt/tf_serving/x.runfiles/tool": "/bin/sh"},
            {"libc.so.6": "/opt/venv/lib/python3.11/site-packages/tensorflow"},
            host_libs={})
        self.assertEqual(copies, {})
        self.assertEqual(dirs, ["/opt/venv/lib/python3.11/site-packages/tensorflow"])

    def test_unresolvable_library_is_one_clear_error(self):
        with self.assertRaisesRegex(ValueError, r"libc\.so\.6 \(needed by .*tool\)"):
            build_oci_image.resolve_native(
                {"/opt/tf_serving/x.runfiles/tool": "/bin/sh"}, {}, host_libs={})


class ImageTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.main = os.path.join(self.tmp, "server.py")
        with open(self.main, "w") as f:
            f.write("import sys\nprint('args', sys.argv[1:])\n")
        self.manifest = {
            "name": "server",
            "main": "ws/pkg/server.py",
            "files": {"ws/pkg/server.py": self.main},
            "empty_files": ["ws/pkg/__init__.py"],
            "symlinks": {},
            "imports": [],
            "repositories": ["ws"],
        }
        self.base_info = {
            "user": "1000:1000", "venv_path": "/opt/venv", "suite": "bookworm",
            "python_version": "3.11.2", "shared_libraries": {},
        }

    def _layer_members(self):
        desc, path = build_oci_image.write_app_layer(
            self.tmp, self.manifest, _runfile(
                "tensorflow_serving/tools/docker/tf_serving_entrypoint.sh"),
            self.base_info)
        with tarfile.open(path) as tar:
            return desc, {m.name: (m, tar.extractfile(m).read() if m.isfile() else None)
                          for m in tar.getmembers()}

    def test_app_layer_contents(self):
        _, members = self._layer_members()
        runfiles = "opt/tf_serving/server.runfiles"
        self.assertIn(runfiles + "/ws/pkg/server.py", members)
        self.assertEqual(members[runfiles + "/ws/pkg/__init__.py"][1], b"")
        launcher, text = members["usr/bin/tensorflow_model_server"]
        self.assertEqual(launcher.mode, 0o755)
        text = text.decode()
        self.assertIn('exec /opt/venv/bin/python3 /%s/ws/pkg/server.py "$@"'
                      % runfiles, text)
        self.assertIn("PYTHONPATH=\"/%s:/%s/ws" % (runfiles, runfiles), text)
        self.assertNotIn("LD_LIBRARY_PATH", text)
        entry, script = members["usr/bin/tf_serving_entrypoint.sh"]
        self.assertEqual(entry.mode, 0o755)
        self.assertIn(b"exec tensorflow_model_server --port=8500 --rest_api_port=8501",
                      script)

    def test_app_layer_is_reproducible(self):
        first, _ = self._layer_members()
        os.utime(self.main, (1, 1))  # only contents count, not times
        second, _ = self._layer_members()
        self.assertEqual(first, second)

    def test_launcher_runs_the_main_file_with_arguments(self):
        # The launcher with the host's interpreter and runfiles in place of
        # the image's: it must pass every argument through unchanged.
        script = build_oci_image.launcher(
            self.tmp, "server.py", [self.tmp], [], sys.executable).decode()
        path = os.path.join(self.tmp, "launcher")
        with open(path, "w") as f:
            f.write(script)
        out = subprocess.run(["sh", path, "--a=1", "two words"],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "args ['--a=1', 'two words']")

    def test_entrypoint_uses_the_environment_and_appends_arguments(self):
        # The entrypoint with a stand-in server on PATH that prints its argv.
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        fake = os.path.join(bindir, "tensorflow_model_server")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\necho pid=$$\n')
        os.chmod(fake, 0o755)
        entrypoint = _runfile("tensorflow_serving/tools/docker/tf_serving_entrypoint.sh")
        env = {"PATH": bindir + ":/usr/bin:/bin", "MODEL_NAME": "mnist",
               "MODEL_BASE_PATH": "/models"}
        proc = subprocess.run(
            ["bash", "-c", 'echo shell=$$; exec bash "$0" "$@"', entrypoint,
             "--enable_batching", "--port=9000"],
            env=env, capture_output=True, text=True, check=True)
        lines = proc.stdout.split()
        self.assertEqual(lines[1:-1], [
            "--port=8500", "--rest_api_port=8501", "--model_name=mnist",
            "--model_base_path=/models/mnist", "--enable_batching", "--port=9000"])
        # exec: the server replaced the entrypoint's shell, same process.
        self.assertEqual(lines[0].split("=")[1], lines[-1].split("=")[1])

    def test_main_writes_a_three_layer_archive(self):
        layers = {}
        for name in ("base", "venv"):
            writer = oci_layer.LayerWriter(os.path.join(self.tmp, name + ".tar"))
            writer.add_bytes(name, name.encode())
            path = os.path.join(self.tmp, name + ".tar.gz")
            layers[name] = (writer.finish(path), path)
        self.base_info["layers"] = {k: v[0] for k, v in layers.items()}
        paths = {}
        for name, obj in (("manifest", self.manifest), ("base_info", self.base_info)):
            paths[name] = os.path.join(self.tmp, name + ".json")
            with open(paths[name], "w") as f:
                json.dump(obj, f)
        out = os.path.join(self.tmp, "image.oci.tar")
        build_oci_image.main([
            "--manifest", paths["manifest"], "--base_info", paths["base_info"],
            "--base_layer", layers["base"][1], "--venv_layer", layers["venv"][1],
            "--entrypoint", _runfile(
                "tensorflow_serving/tools/docker/tf_serving_entrypoint.sh"),
            "--ref_name", "tensorflow-serving:test", "--out", out])
        with tarfile.open(out) as tar:
            read = lambda d: json.loads(tar.extractfile(
                "blobs/sha256/" + d.split(":")[1]).read())
            index = json.loads(tar.extractfile("index.json").read())
            manifest = read(index["manifests"][0]["digest"])
            config = read(manifest["config"]["digest"])
        self.assertEqual(len(manifest["layers"]), 3)
        self.assertEqual(manifest["layers"][0]["digest"], layers["base"][0]["digest"])
        self.assertEqual(manifest["layers"][1]["digest"], layers["venv"][0]["digest"])
        self.assertEqual(config["config"]["Entrypoint"],
                         ["/usr/bin/tf_serving_entrypoint.sh"])
        self.assertIn("MODEL_NAME=model", config["config"]["Env"])
        self.assertIn("MODEL_BASE_PATH=/models", config["config"]["Env"])
        self.assertEqual(sorted(config["config"]["ExposedPorts"]),
                         ["8500/tcp", "8501/tcp"])
        self.assertEqual(config["config"]["User"], "1000:1000")


if __name__ == "__main__":
    unittest.main()

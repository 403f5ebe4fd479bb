"""Tests for build_image_base's pure parts: apt sources, cache keys, the rootfs.

Bootstrapping itself needs root, the Debian mirror and minutes; the container
test (container_test.sh) exercises it end to end.
"""

import os
import tempfile
import unittest

from tensorflow_serving.tools.docker import build_image_base

_MIRROR = "http://deb.mirror.invalid/debian"


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class AptSourcesTest(unittest.TestCase):

    def setUp(self):
        self.etc = tempfile.mkdtemp()

    def test_deb822_sources(self):
        _write(os.path.join(self.etc, "apt/sources.list.d/debian.sources"),
               "Types: deb\n# a comment\nURIs: %s\nSuites: bookworm bookworm-updates\n"
               "Components: main\n\n"
               "Types: deb\nURIs: http://security.invalid/debian-security\n"
               "Suites: bookworm-security\nComponents: main\n" % _MIRROR)
        self.assertEqual(build_image_base.debian_mirror("bookworm", self.etc), _MIRROR)

    def test_one_line_sources_with_options(self):
        _write(os.path.join(self.etc, "apt/sources.list"),
               "# deb http://old.invalid/debian bookworm main\n"
               "deb [arch=amd64 signed-by=/k.gpg] %s bookworm main contrib\n" % _MIRROR)
        self.assertEqual(build_image_base.debian_mirror("bookworm", self.etc), _MIRROR)

    def test_disabled_source_and_other_suites_are_skipped(self):
        _write(os.path.join(self.etc, "apt/sources.list.d/a.sources"),
               "Types: deb\nURIs: http://off.invalid/debian\nSuites: bookworm\n"
               "Components: main\nEnabled: no\n")
        _write(os.path.join(self.etc, "apt/sources.list.d/b.list"),
               "deb http://other.invalid/x nodistro main\n"
               "deb-src %s bookworm main\n"
               "deb %s bookworm main\n" % (_MIRROR, _MIRROR))
        self.assertEqual(build_image_base.debian_mirror("bookworm", self.etc), _MIRROR)

    def test_no_source_is_one_clear_error(self):
        with self.assertRaises(SystemExit):
            build_image_base.debian_mirror("bookworm", self.etc)

    def test_host_release_must_be_debian(self):
        _write(os.path.join(self.etc, "os-release"),
               'ID=debian\nVERSION_CODENAME=bookworm\nVERSION_ID="12"\n')
        self.assertEqual(build_image_base.host_release(self.etc), "bookworm")
        _write(os.path.join(self.etc, "os-release"), "ID=ubuntu\nVERSION_CODENAME=jammy\n")
        with self.assertRaises(SystemExit):
            build_image_base.host_release(self.etc)


class CacheKeyTest(unittest.TestCase):

    def test_key_follows_the_lock_and_the_release(self):
        tmp = tempfile.mkdtemp()
        lock = os.path.join(tmp, "lock.txt")
        _write(lock, "numpy==2.4.6\n")
        first = build_image_base.cache_key(lock, "bookworm")
        self.assertEqual(first, build_image_base.cache_key(lock, "bookworm"))
        self.assertNotEqual(first, build_image_base.cache_key(lock, "trixie"))
        _write(lock, "numpy==2.4.6\nprometheus_client==0.21.0\n")
        self.assertNotEqual(first, build_image_base.cache_key(lock, "bookworm"))


class RootfsTest(unittest.TestCase):

    def setUp(self):
        self.root = tempfile.mkdtemp()
        _write(os.path.join(self.root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n")
        _write(os.path.join(self.root, "etc/group"), "root:x:0:\n")
        _write(os.path.join(self.root, "etc/apt/sources.list"), "deb %s bookworm main\n" % _MIRROR)
        _write(os.path.join(self.root, "var/lib/apt/lists/x_Packages"), _MIRROR)
        _write(os.path.join(self.root, "var/log/bootstrap.log"), _MIRROR)
        _write(os.path.join(self.root, "usr/share/doc/python3/copyright"), "text")
        _write(os.path.join(self.root, "usr/lib/x86_64-linux-gnu/libssl.so.3"), "")
        _write(os.path.join(self.root, "opt/venv/lib/site-packages/tf/libtf.so.2"), "")

    def test_configure_adds_the_user_and_models_and_prunes(self):
        build_image_base.configure(self.root)
        with open(os.path.join(self.root, "etc/passwd")) as f:
            self.assertIn("serving:x:1000:1000::/home/serving:/usr/sbin/nologin", f.read())
        with open(os.path.join(self.root, "etc/group")) as f:
            self.assertIn("serving:x:1000:", f.read())
        self.assertTrue(os.path.isdir(os.path.join(self.root, "models")))
        self.assertTrue(os.path.isdir(os.path.join(self.root, "home/serving")))
        for gone in ("etc/apt/sources.list", "var/lib/apt/lists/x_Packages",
                     "var/log/bootstrap.log", "usr/share/doc/python3"):
            self.assertFalse(os.path.exists(os.path.join(self.root, gone)), gone)
        build_image_base.no_mirror_left(self.root, _MIRROR)

    def test_a_file_naming_the_mirror_fails_the_build(self):
        build_image_base.configure(self.root)
        _write(os.path.join(self.root, "etc/apt/apt.conf.d/99proxy"),
               'Acquire::http::Proxy "http://deb.mirror.invalid";\n')
        with self.assertRaises(SystemExit):
            build_image_base.no_mirror_left(self.root, _MIRROR)

    def test_shared_libraries_map_names_to_image_dirs(self):
        libs = build_image_base.shared_libraries(self.root, ["usr/lib", "opt/venv"])
        self.assertEqual(libs, {"libssl.so.3": "/usr/lib/x86_64-linux-gnu",
                                "libtf.so.2": "/opt/venv/lib/site-packages/tf"})


if __name__ == "__main__":
    unittest.main()

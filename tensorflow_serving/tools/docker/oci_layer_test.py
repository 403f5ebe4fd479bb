"""Tests for oci_layer: reproducible layers and a readable OCI archive."""

import gzip
import hashlib
import json
import os
import tarfile
import tempfile
import unittest

from tensorflow_serving.tools.docker import oci_layer


def _sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LayerWriterTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(self.src, "lib", "pkg"))
        with open(os.path.join(self.src, "lib", "pkg", "mod.py"), "w") as f:
            f.write("x = 1\n")
        os.chmod(os.path.join(self.src, "lib", "pkg", "mod.py"), 0o640)
        os.symlink("mod.py", os.path.join(self.src, "lib", "pkg", "link.py"))
        os.link(os.path.join(self.src, "lib", "pkg", "mod.py"),
                os.path.join(self.src, "lib", "hard.py"))
        os.makedirs(os.path.join(self.src, "skip", "deep"))

    def _layer(self, name, **kwargs):
        writer = oci_layer.LayerWriter(os.path.join(self.tmp, name + ".tar"))
        writer.add_tree(self.src, prefix="opt/app", exclude=["opt/app/skip"],
                        **kwargs)
        writer.add_bytes("usr/bin/run", b"#!/bin/sh\n", mode=0o755)
        return writer.finish(os.path.join(self.tmp, name + ".tar.gz"))

    def test_same_tree_gives_same_digests(self):
        self.assertEqual(self._layer("a"), self._layer("b"))

    def test_descriptor_matches_the_bytes(self):
        desc = self._layer("a")
        with open(os.path.join(self.tmp, "a.tar.gz"), "rb") as f:
            compressed = f.read()
        self.assertEqual(desc["digest"], _sha256(compressed))
        self.assertEqual(desc["size"], len(compressed))
        self.assertEqual(desc["diff_id"], _sha256(gzip.decompress(compressed)))
        self.assertEqual(desc["mediaType"], oci_layer.MEDIA_TYPE_LAYER)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "a.tar")))

    def test_tree_keeps_modes_links_and_owners(self):
        self._layer("a", owner=lambda p: (1000, 1000) if p == "opt/app/lib" else (0, 0))
        with tarfile.open(os.path.join(self.tmp, "a.tar.gz")) as tar:
            members = {m.name: m for m in tar.getmembers()}
        self.assertEqual(
            sorted(members),
            ["opt", "opt/app", "opt/app/lib", "opt/app/lib/hard.py",
             "opt/app/lib/pkg", "opt/app/lib/pkg/link.py",
             "opt/app/lib/pkg/mod.py", "usr", "usr/bin", "usr/bin/run"])
        self.assertTrue(members["opt"].isdir())  # parents come first
        self.assertEqual(members["opt/app/lib/hard.py"].mode, 0o640)
        self.assertTrue(members["opt/app/lib/pkg/mod.py"].islnk())
        self.assertEqual(members["opt/app/lib/pkg/mod.py"].linkname,
                         "opt/app/lib/hard.py")
        self.assertTrue(members["opt/app/lib/pkg/link.py"].issym())
        self.assertEqual(members["opt/app/lib/pkg/link.py"].linkname, "mod.py")
        self.assertEqual(members["opt/app/lib"].uid, 1000)
        self.assertEqual(members["opt/app/lib/pkg"].uid, 0)
        self.assertEqual(members["usr/bin/run"].mode, 0o755)

    def test_fixed_mtime(self):
        writer = oci_layer.LayerWriter(os.path.join(self.tmp, "m.tar"), mtime=42)
        writer.add_file("a/b", os.path.join(self.src, "lib", "hard.py"))
        writer.finish(os.path.join(self.tmp, "m.tar.gz"))
        with tarfile.open(os.path.join(self.tmp, "m.tar.gz")) as tar:
            self.assertEqual({m.mtime for m in tar.getmembers()}, {42})


class ArchiveTest(unittest.TestCase):

    def test_archive_is_a_consistent_oci_layout(self):
        tmp = tempfile.mkdtemp()
        layers = []
        for i in range(2):
            writer = oci_layer.LayerWriter(os.path.join(tmp, "%d.tar" % i))
            writer.add_bytes("file%d" % i, b"layer %d" % i)
            gz = os.path.join(tmp, "%d.tar.gz" % i)
            layers.append((writer.finish(gz), gz))
        out = os.path.join(tmp, "image.oci.tar")
        config = {"Entrypoint": ["/bin/true"], "Env": ["A=b"]}
        manifest_digest = oci_layer.write_oci_archive(out, layers, config,
                                                      ref_name="img:1")
        with tarfile.open(out) as tar:
            def read(name):
                return tar.extractfile(name).read()

            self.assertEqual(json.loads(read("oci-layout")),
                             {"imageLayoutVersion": "1.0.0"})
            index = json.loads(read("index.json"))
            entry, = index["manifests"]
            self.assertEqual(entry["digest"], manifest_digest)
            self.assertEqual(entry["annotations"]["org.opencontainers.image.ref.name"],
                             "img:1")
            blob = lambda d: read("blobs/sha256/" + d.split(":")[1])
            manifest_bytes = blob(manifest_digest)
            self.assertEqual(_sha256(manifest_bytes), manifest_digest)
            manifest = json.loads(manifest_bytes)
            config_bytes = blob(manifest["config"]["digest"])
            self.assertEqual(_sha256(config_bytes), manifest["config"]["digest"])
            image_config = json.loads(config_bytes)
            self.assertEqual(image_config["config"], config)
            self.assertEqual(image_config["rootfs"]["diff_ids"],
                             [d["diff_id"] for d, _ in layers])
            for desc, (layer_desc, _) in zip(manifest["layers"], layers):
                data = blob(desc["digest"])
                self.assertEqual(_sha256(data), layer_desc["digest"])
                self.assertEqual(len(data), desc["size"])


if __name__ == "__main__":
    unittest.main()

"""Writes OCI image layers and archives with the standard library only.

No upstream counterpart: upstream builds its image with `docker build` from a
Dockerfile (tensorflow_serving/tools/docker/Dockerfile). Here no base image
and no container engine are available at build time, so the layers are plain
gzipped tar files written by hand, and the image is an OCI image layout packed
into one tar file ("oci-archive"), which `podman load`, `docker load` (25+)
and `skopeo copy oci-archive:...` read.

A layer is described by its blob digest (sha256 of the gzipped bytes), its
diff_id (sha256 of the uncompressed tar) and its size; the same inputs give
the same digests.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"

_CHUNK = 1 << 20


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, out):
        super().__init__()
        self._out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self):
        return True

    def tell(self):
        return self.size

    def write(self, data):
        self._out.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def _file_sha256(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def gzip_file(src, dest, level=6, threads=0):
    """Compresses src into dest without names or times in the header.

    Uses pigz when it is installed (parallel, same format), else Python's gzip.
    threads=0 lets pigz use every core.
    """
    pigz = shutil.which("pigz")
    if pigz:
        cmd = [pigz, "-n", "-%d" % level, "-c"]
        if threads:
            cmd += ["-p", str(threads)]
        with open(src, "rb") as fin, open(dest, "wb") as fout:
            subprocess.run(cmd, stdin=fin, stdout=fout, check=True)
        return
    with open(src, "rb") as fin, open(dest, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=level,
                           mtime=0, filename="") as fout:
            shutil.copyfileobj(fin, fout, _CHUNK)


class LayerWriter:
    """Builds one layer's tar; `finish` gzips it and returns its descriptor.

    Entries are added in the order given; callers add them sorted so that the
    same tree gives the same bytes. Owner and group default to root.
    """

    def __init__(self, tar_path, mtime=None):
        self._tar_path = tar_path
        self._raw = open(tar_path, "wb")
        self._hashing = _HashingWriter(self._raw)
        self._tar = tarfile.open(fileobj=self._hashing, mode="w",
                                 format=tarfile.PAX_FORMAT)
        self._mtime = mtime
        self._dirs = set()

    def _info(self, name, kind, mode, uid, gid, mtime):
        info = tarfile.TarInfo(name.lstrip("/"))
        info.type = kind
        info.mode = mode
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = self._mtime if self._mtime is not None else (mtime or 0)
        return info

    def add_parents(self, path, uid=0, gid=0):
        """Adds the directories above `path` that were not added yet."""
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.add_dir("/".join(parts[:i]), uid=uid, gid=gid)

    def add_dir(self, path, mode=0o755, uid=0, gid=0, mtime=None):
        path = path.strip("/")
        if not path or path in self._dirs:
            return
        self.add_parents(path)
        self._dirs.add(path)
        self._tar.addfile(self._info(path, tarfile.DIRTYPE, mode, uid, gid, mtime))

    def add_bytes(self, path, data, mode=0o644, uid=0, gid=0, mtime=None):
        self.add_parents(path)
        info = self._info(path, tarfile.REGTYPE, mode, uid, gid, mtime)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def add_file(self, path, src, mode=None, uid=0, gid=0):
        """Adds the regular file `src` (symlinks followed) at `path`."""
        st = os.stat(src)
        if mode is None:
            mode = 0o755 if st.st_mode & 0o111 else 0o644
        self.add_parents(path)
        info = self._info(path, tarfile.REGTYPE, mode, uid, gid, int(st.st_mtime))
        info.size = st.st_size
        with open(src, "rb") as f:
            self._tar.addfile(info, f)

    def add_symlink(self, path, target, uid=0, gid=0, mtime=None):
        self.add_parents(path)
        info = self._info(path, tarfile.SYMTYPE, 0o777, uid, gid, mtime)
        info.linkname = target
        self._tar.addfile(info)

    def add_tree(self, root, prefix="", exclude=(), owner=None):
        """Adds the file tree under `root` as it is: modes, times, links.

        `prefix` is the path in the image that `root` becomes. `exclude` lists
        paths in the image to leave out (with everything below them). `owner`
        maps an image path to (uid, gid); by default everything is root's.
        Hard links stay hard links; device nodes and sockets are skipped.
        """
        excluded = {p.strip("/") for p in exclude}
        seen_inodes = {}
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            rel = "" if rel == "." else rel
            image_dir = "/".join(p for p in (prefix.strip("/"), rel) if p)
            dirnames[:] = sorted(
                d for d in dirnames
                if "/".join(p for p in (image_dir, d) if p) not in excluded)
            entries = sorted(dirnames + [f for f in filenames
                                         if "/".join(p for p in (image_dir, f) if p) not in excluded])
            if image_dir:
                self.add_parents(image_dir)
                st = os.lstat(dirpath)
                uid, gid = owner(image_dir) if owner else (0, 0)
                self._dirs.add(image_dir)
                self._tar.addfile(self._info(image_dir, tarfile.DIRTYPE,
                                             stat.S_IMODE(st.st_mode), uid, gid,
                                             int(st.st_mtime)))
            for name in entries:
                src = os.path.join(dirpath, name)
                st = os.lstat(src)
                if stat.S_ISDIR(st.st_mode):
                    continue  # added when os.walk enters it
                image_path = "/".join(p for p in (image_dir, name) if p)
                uid, gid = owner(image_path) if owner else (0, 0)
                mode = stat.S_IMODE(st.st_mode)
                if stat.S_ISLNK(st.st_mode):
                    self.add_symlink(image_path, os.readlink(src), uid, gid,
                                     int(st.st_mtime))
                elif stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in seen_inodes:
                        info = self._info(image_path, tarfile.LNKTYPE, mode,
                                          uid, gid, int(st.st_mtime))
                        info.linkname = seen_inodes[key]
                        self._tar.addfile(info)
                        continue
                    seen_inodes[key] = image_path
                    info = self._info(image_path, tarfile.REGTYPE, mode, uid,
                                      gid, int(st.st_mtime))
                    info.size = st.st_size
                    with open(src, "rb") as f:
                        self._tar.addfile(info, f)

    def finish(self, gz_path, level=6, threads=0):
        """Closes the tar, gzips it to gz_path and returns the descriptor."""
        self._tar.close()
        self._raw.close()
        diff_id = "sha256:" + self._hashing.sha256.hexdigest()
        gzip_file(self._tar_path, gz_path, level=level, threads=threads)
        os.unlink(self._tar_path)
        digest, size = _file_sha256(gz_path)
        return {
            "mediaType": MEDIA_TYPE_LAYER,
            "digest": "sha256:" + digest,
            "size": size,
            "diff_id": diff_id,
        }


def _json_bytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_oci_archive(out_path, layers, config, ref_name="latest",
                      created="1970-01-01T00:00:00Z", history=None):
    """Writes an OCI image layout as one tar file (an "oci-archive").

    layers: (descriptor, path to the gzipped layer) pairs, base first.
    config: the image config's "config" object (Entrypoint, Env, User, ...).
    Returns the manifest's digest.
    """
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": {"type": "layers",
                   "diff_ids": [d["diff_id"] for d, _ in layers]},
        "history": history or [{"created": created, "created_by": "oci_layer.py"}
                               for _ in layers],
    }
    config_bytes = _json_bytes(image_config)
    config_desc = {"mediaType": MEDIA_TYPE_CONFIG,
                   "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(),
                   "size": len(config_bytes)}
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": config_desc,
        "layers": [{k: d[k] for k in ("mediaType", "digest", "size")}
                   for d, _ in layers],
    }
    manifest_bytes = _json_bytes(manifest)
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": [{
            "mediaType": MEDIA_TYPE_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "annotations": {"org.opencontainers.image.ref.name": ref_name},
        }],
    }

    def blob_name(digest):
        return "blobs/sha256/" + digest.split(":", 1)[1]

    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as tar:
        def add_bytes(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        add_bytes("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"}))
        add_bytes("index.json", _json_bytes(index))
        add_bytes(blob_name(manifest_digest), manifest_bytes)
        add_bytes(blob_name(config_desc["digest"]), config_bytes)
        written = set()
        for desc, path in layers:
            if desc["digest"] in written:
                continue  # identical layers share one blob
            written.add(desc["digest"])
            info = tarfile.TarInfo(blob_name(desc["digest"]))
            info.size = os.path.getsize(path)
            info.mode = 0o644
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return manifest_digest

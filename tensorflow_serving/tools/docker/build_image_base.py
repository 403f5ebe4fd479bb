"""Builds the image's two lower layers: a Debian base and the Python venv.

Run by the `tf_serving_image_base` repository rule with the host's python3
(standard library only). It stands in for upstream Dockerfile's `FROM
ubuntu:22.04` plus its apt step, with no base image and no registry:

1. `pip download` the wheels of the project's lock file (the same file the
   Bazel toolchain's venv is built from);
2. `debootstrap --variant=minbase` the host's own Debian release, from the
   mirror in apt's own sources, read now and written nowhere;
3. create /opt/venv inside the new root with bubblewrap and no network, and
   `pip install --no-index` the downloaded wheels into it;
4. write the base (everything but /opt/venv) and the venv as two gzipped
   layers, plus layers.json with their digests.

The result is cached under <cache_root>/image-base-<key>, keyed by the lock
file, the host's release and this builder, so an unchanged lock is built once
per machine. Needs root (debootstrap) and installs debootstrap, bubblewrap and
pigz with apt when they are missing.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tensorflow_serving.tools.docker import oci_layer
from third_party.python import create_venv

_COMPLETE = ".complete"
# Bump when a change here changes the layers, so cached bases are rebuilt.
_FORMAT = 1
_USER = ("serving", 1000, 1000)
_INCLUDE = "python3,python3-venv,ca-certificates"
# Paths removed from the base: documentation, apt's downloaded lists and
# caches (which name the mirror), logs, and the sources list itself.
_PRUNE = (
    "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*",
    "usr/share/locale/*", "usr/share/lintian", "var/lib/apt/lists/*",
    "var/cache/apt/*", "var/cache/debconf/*-old", "var/log/*", "debootstrap",
    "etc/apt/sources.list", "etc/apt/sources.list.d/*", "root/.cache",
)
_START = time.monotonic()


def progress(msg):
    print("[image base %4.0fs] %s" % (time.monotonic() - _START, msg),
          file=sys.stderr, flush=True)


def fail(msg):
    print("build_image_base: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def host_release(etc="/etc"):
    fields = {}
    with open(os.path.join(etc, "os-release")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            fields[k] = v.strip('"')
    if fields.get("ID") != "debian" or not fields.get("VERSION_CODENAME"):
        fail("the image base is bootstrapped from the host's Debian release; "
             "this host is %s %s" % (fields.get("ID"), fields.get("VERSION_ID")))
    return fields["VERSION_CODENAME"]


def _sources_entries(etc):
    """Yields (uris, suites, components) from apt's sources, both formats."""
    for path in sorted(glob.glob(os.path.join(etc, "apt/sources.list.d/*.sources"))):
        with open(path) as f:
            for stanza in re.split(r"\n\s*\n", f.read()):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    k, _, v = line.partition(":")
                    fields[k.strip().lower()] = v.split()
                if "deb" in fields.get("types", []) and \
                        fields.get("enabled", ["yes"])[0] != "no":
                    yield (fields.get("uris", []), fields.get("suites", []),
                           fields.get("components", []))
    lists = [os.path.join(etc, "apt/sources.list")] + sorted(
        glob.glob(os.path.join(etc, "apt/sources.list.d/*.list")))
    for path in lists:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(line) >= 4 and line[0] == "deb":
                    yield [line[1]], [line[2]], line[3:]


def debian_mirror(suite, etc="/etc"):
    """The host's mirror for `suite`'s main component, from apt's sources."""
    for uris, suites, components in _sources_entries(etc):
        if suite in suites and "main" in components:
            for uri in uris:
                if uri.startswith(("http://", "https://")):
                    return uri
    fail("no apt source serves '%s main' over http(s); add one to "
         "/etc/apt/sources.list.d/ or set up apt first" % suite)


def ensure_tools():
    wanted = {"debootstrap": "debootstrap", "bwrap": "bubblewrap",
              "pigz": "pigz"}
    missing = [pkg for tool, pkg in wanted.items() if not shutil.which(tool)]
    if not missing:
        return
    progress("installing %s with apt-get (one time)" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                   + missing, env=env, check=True, stdout=subprocess.DEVNULL)


def cache_key(lock_path, suite):
    """The lock file, the Debian release and _FORMAT name a cached base."""
    digest = hashlib.sha256()
    with open(lock_path, "rb") as f:
        digest.update(hashlib.sha256(f.read()).digest())
    digest.update(("%s/%d" % (suite, _FORMAT)).encode())
    return digest.hexdigest()[:16]


def run_logged(cmd, log_path, what, mask=()):
    """Runs cmd with its output in log_path; on failure shows the log's end."""
    with open(log_path, "ab") as log:
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        with open(log_path, errors="replace") as f:
            tail = f.read()[-4000:]
        for secret in mask:
            tail = tail.replace(secret, "<mirror>")
        fail("%s failed (exit %d):\n%s" % (what, result.returncode, tail))


def download_wheels(pip_python, lock_path, wheelhouse, log):
    progress("downloading the lock file's wheels (pip download)")
    run_logged([pip_python, "-m", "pip", "download", "--no-deps",
                "--only-binary=:all:", "--disable-pip-version-check",
                "--requirement", lock_path, "--dest", wheelhouse],
               log, "pip download")
    progress("%d wheels" % len(glob.glob(os.path.join(wheelhouse, "*.whl"))))


def bootstrap(suite, mirror, rootfs, log):
    progress("debootstrap --variant=minbase %s (about 1-2 min)" % suite)
    run_logged(["debootstrap", "--variant=minbase", "--include=" + _INCLUDE,
                suite, rootfs, mirror], log, "debootstrap", mask=(mirror,))


def configure(rootfs):
    """Adds the non-root user and /models; removes what an image needs not."""
    name, uid, gid = _USER
    with open(os.path.join(rootfs, "etc/passwd"), "a") as f:
        f.write("%s:x:%d:%d::/home/%s:/usr/sbin/nologin\n" % (name, uid, gid, name))
    with open(os.path.join(rootfs, "etc/group"), "a") as f:
        f.write("%s:x:%d:\n" % (name, gid))
    home = os.path.join(rootfs, "home", name)
    os.makedirs(home, exist_ok=True)
    os.chmod(home, 0o755)
    os.makedirs(os.path.join(rootfs, "models"), exist_ok=True)
    for pattern in _PRUNE:
        for path in glob.glob(os.path.join(rootfs, pattern)):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def no_mirror_left(rootfs, mirror):
    """Fails if any file apt or debootstrap writes still names the mirror."""
    host = re.sub(r"^https?://", "", mirror).split("/")[0].encode()
    for top in ("etc", "var"):
        for dirpath, _, files in os.walk(os.path.join(rootfs, top)):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    if host in f.read():
                        fail("%s still names the Debian mirror"
                             % os.path.relpath(path, rootfs))


def make_venv(rootfs, wheelhouse, lock_path, log):
    """Creates /opt/venv in the new root, offline, from the wheelhouse."""
    progress("creating /opt/venv offline inside the new root (about 30 s)")
    shutil.copy(lock_path, os.path.join(wheelhouse, "requirements_lock.txt"))
    bwrap = ["bwrap", "--bind", rootfs, "/", "--ro-bind", wheelhouse, "/wheels",
             "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-all", "--die-with-parent", "--clearenv",
             "--setenv", "PATH", "/usr/sbin:/usr/bin:/sbin:/bin",
             "--setenv", "HOME", "/root", "--setenv", "LANG", "C.UTF-8"]
    pip = ["/opt/venv/bin/python3", "-m", "pip", "--disable-pip-version-check",
           "--no-cache-dir"]
    run_logged(bwrap + ["/usr/bin/python3", "-m", "venv", "/opt/venv"], log,
               "python3 -m venv")
    run_logged(bwrap + pip + ["install", "--no-index", "--find-links", "/wheels",
                              "--no-deps", "--quiet", "--requirement",
                              "/wheels/requirements_lock.txt"], log, "pip install")
    # pip check, where tensorflow-cpu counts as the `tensorflow` that
    # tensorflow-serving-api requires (as for the toolchain's venv).
    try:
        create_venv.check(bwrap + ["/opt/venv/bin/python3"])
    except subprocess.CalledProcessError:
        fail("pip check: the lock file's packages do not fit together (see above)")
    version = subprocess.run(bwrap + ["/usr/bin/python3", "-c",
                                      "import platform; print(platform.python_version())"],
                             check=True, capture_output=True, text=True).stdout.strip()
    os.rmdir(os.path.join(rootfs, "wheels"))  # bwrap's mount point
    return version


def shared_libraries(rootfs, dirs):
    """Maps each shared library's file name to its directory in the image."""
    libs = {}
    for top in dirs:
        for dirpath, _, files in os.walk(os.path.join(rootfs, top)):
            for name in files:
                if ".so" in name and name not in libs:
                    libs[name] = "/" + os.path.relpath(dirpath, rootfs)
    return libs


def write_layers(rootfs, out):
    owner_uid = {"home/" + _USER[0]: (_USER[1], _USER[2])}

    def owner(path):
        return owner_uid.get(path, (0, 0))

    progress("writing the base layer")
    base = oci_layer.LayerWriter(os.path.join(out, "base.tar"))
    base.add_tree(rootfs, exclude=["opt/venv"], owner=owner)
    base_desc = base.finish(os.path.join(out, "base.tar.gz"))
    progress("base layer: %.1f MB gzipped" % (base_desc["size"] / 1e6))
    progress("writing the venv layer (gzip of about 2 GB: 1-2 min)")
    venv = oci_layer.LayerWriter(os.path.join(out, "venv.tar"))
    venv.add_dir("opt")
    venv.add_tree(os.path.join(rootfs, "opt/venv"), prefix="opt/venv")
    venv_desc = venv.finish(os.path.join(out, "venv.tar.gz"))
    progress("venv layer: %.1f MB gzipped" % (venv_desc["size"] / 1e6))
    return base_desc, venv_desc


def build(lock_path, cache_root, pip_python):
    suite = host_release()
    target = os.path.join(cache_root, "image-base-" + cache_key(lock_path, suite))
    if os.path.exists(os.path.join(target, _COMPLETE)):
        return target
    if os.geteuid() != 0:
        fail("building the image base needs root (debootstrap, bubblewrap)")
    os.nice(10)  # heavy, and the machine is shared
    ensure_tools()
    mirror = debian_mirror(suite)
    os.makedirs(cache_root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-image-", dir=cache_root)
    try:
        work = os.path.join(staging, "work")
        rootfs, wheelhouse = os.path.join(work, "rootfs"), os.path.join(work, "wheels")
        os.makedirs(wheelhouse)
        log = os.path.join(work, "build.log")
        download_wheels(pip_python, lock_path, wheelhouse, log)
        bootstrap(suite, mirror, rootfs, log)
        configure(rootfs)
        no_mirror_left(rootfs, mirror)
        python_version = make_venv(rootfs, wheelhouse, lock_path, log)
        libs = shared_libraries(rootfs, ["lib", "lib64", "usr/lib", "opt/venv"])
        base_desc, venv_desc = write_layers(rootfs, staging)
        with open(os.path.join(staging, "layers.json"), "w") as f:
            json.dump({"layers": {"base": base_desc, "venv": venv_desc},
                       "suite": suite, "python_version": python_version,
                       "venv_path": "/opt/venv", "user": "%d:%d" % _USER[1:],
                       "shared_libraries": libs},
                      f, indent=1, sort_keys=True)
        shutil.rmtree(work)
        with open(os.path.join(staging, _COMPLETE), "w") as f:
            f.write(lock_path + "\n")
        if os.path.exists(os.path.join(target, _COMPLETE)):
            shutil.rmtree(staging)  # another clone finished first
        else:
            shutil.rmtree(target, ignore_errors=True)
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress("done")
    return target


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", required=True)
    parser.add_argument("--cache_root", required=True)
    parser.add_argument("--pip_python", required=True,
                        help="a Python with pip, for pip download")
    args = parser.parse_args()
    print(build(os.path.abspath(args.lock), args.cache_root, args.pip_python))


if __name__ == "__main__":
    main()

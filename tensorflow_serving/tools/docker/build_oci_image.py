"""Builds the model server's OCI image archive: base, venv and app layers.

Upstream's counterpart is tensorflow_serving/tools/docker/Dockerfile: an
Ubuntu base, `/usr/bin/tensorflow_model_server`, `ENV MODEL_NAME=model
MODEL_BASE_PATH=/models`, ports 8500/8501 and `/usr/bin/tf_serving_entrypoint.sh`
as the entrypoint. Here the base and venv layers come from the
`tf_serving_image_base` repository rule, and this tool (run by the `oci_image`
Bazel rule) writes the app layer from the server's runfiles:

* /opt/tf_serving/<name>.runfiles/... -- every runfile of the py_binary,
  native libraries included, at its runfiles path;
* /usr/bin/tensorflow_model_server -- a launcher that runs the binary's main
  file under /opt/venv, with the import paths Bazel's own launcher would set;
* /usr/bin/tf_serving_entrypoint.sh -- the entrypoint script;
* /opt/tf_serving/lib -- shared libraries that native runfiles need and the
  base lacks, copied from the build host (the base is the host's Debian
  release, so they match its C library).

The app layer is last, so editing the server rebuilds only it.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from tensorflow_serving.tools.docker import oci_layer

APP_ROOT = "/opt/tf_serving"
LIB_DIR = APP_ROOT + "/lib"
# A fixed time for every app-layer entry: the same sources give the same layer.
APP_MTIME = 946684800  # 2000-01-01
CREATED = "1970-01-01T00:00:00Z"
_DT_NEEDED = 1


def elf_needed(path):
    """The DT_NEEDED names of a 64-bit little-endian ELF file, else None."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF":
            return None
        if head[4] != 2 or head[5] != 1:
            raise ValueError("%s: only 64-bit little-endian ELF is supported" % path)
        (e_phoff,) = struct.unpack_from("<Q", head, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", head, 54)
        f.seek(e_phoff)
        phdrs = f.read(e_phentsize * e_phnum)
        loads, dynamic = [], None
        for i in range(e_phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
                "<IIQQQQQQ", phdrs, i * e_phentsize)
            if p_type == 1:  # PT_LOAD
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == 2:  # PT_DYNAMIC
                dynamic = (p_offset, p_filesz)
        if dynamic is None:
            return []
        f.seek(dynamic[0])
        data = f.read(dynamic[1])
        needed, strtab = [], None
        for i in range(0, len(data) - 15, 16):
            tag, val = struct.unpack_from("<qQ", data, i)
            if tag == 0:
                break
            if tag == _DT_NEEDED:
                needed.append(val)
            elif tag == 5:  # DT_STRTAB, a virtual address
                strtab = val
        if strtab is None:
            return []
        for vaddr, offset, size in loads:
            if vaddr <= strtab < vaddr + size:
                strtab_off = strtab - vaddr + offset
                break
        else:
            return []
        names = []
        for off in needed:
            f.seek(strtab_off + off)
            raw = f.read(256)
            names.append(raw.split(b"\0", 1)[0].decode())
        return names


def host_library_paths():
    """Maps sonames to paths from the host's dynamic linker cache (x86-64)."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True,
                             text=True, check=True).stdout
    paths = {}
    for line in out.splitlines()[1:]:
        name, _, rest = line.strip().partition(" (")
        if "x86-64" in rest and "=>" in rest:
            paths.setdefault(name, rest.split("=>", 1)[1].strip())
    return paths


def resolve_native(app_files, image_libs, host_libs=None):
    """Finds what the app's ELF files need beyond the image.

    app_files: {image path: source path}. image_libs: {file name: image dir}
    for the base and venv layers. Returns ({image path: host path} of
    libraries to copy into LIB_DIR, sorted venv dirs to add to the library
    path). Raises ValueError naming what cannot be found anywhere.
    """
    provided = {os.path.basename(p) for p in app_files}
    copies, venv_dirs, missing = {}, set(), []
    todo = [(p, src) for p, src in sorted(app_files.items())]
    while todo:
        image_path, src = todo.pop()
        needed = elf_needed(src)
        if not needed:
            continue
        for name in needed:
            if name in provided:
                continue
            if name in image_libs:
                if image_libs[name].startswith("/opt/"):
                    venv_dirs.add(image_libs[name])
                continue
            if host_libs is None:
                host_libs = host_library_paths()
            host = host_libs.get(name)
            if host is None:
                missing.append("%s (needed by %s)" % (name, image_path))
                continue
            dest = LIB_DIR + "/" + name
            copies[dest] = host
            provided.add(name)
            todo.append((dest, host))
    if missing:
        raise ValueError("native libraries found neither in the image nor on "
                         "this host: " + ", ".join(sorted(missing)))
    return copies, sorted(venv_dirs)


def launcher(runfiles_dir, main, python_paths, library_dirs, python):
    """The /usr/bin/tensorflow_model_server script."""
    lines = [
        "#!/bin/sh",
        "# Runs the Bazel-built model server under the image's venv, with the",
        "# import paths Bazel's own Python launcher would set.",
        "export RUNFILES_DIR=%s" % runfiles_dir,
        'export PYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}"' % ":".join(python_paths),
        "export PYTHONDONTWRITEBYTECODE=1",
    ]
    if library_dirs:
        lines.append('export LD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"'
                     % ":".join(library_dirs))
    lines.append('exec %s %s/%s "$@"' % (python, runfiles_dir, main))
    return ("\n".join(lines) + "\n").encode()


def image_config(base_info):
    return {
        "Entrypoint": ["/usr/bin/tf_serving_entrypoint.sh"],
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "MODEL_BASE_PATH=/models",
            "MODEL_NAME=model",
        ],
        "ExposedPorts": {"8500/tcp": {}, "8501/tcp": {}},
        "User": base_info["user"],
        "WorkingDir": "/",
        "Labels": {
            "org.opencontainers.image.title": "tensorflow_model_server",
            "org.opencontainers.image.description":
                "A drop-in for the tensorflow/serving image, built with Bazel",
        },
    }


def write_app_layer(work, manifest, entrypoint, base_info, host_libs=None):
    """Writes the app layer into `work`; returns (descriptor, path)."""
    runfiles_dir = "%s/%s.runfiles" % (APP_ROOT, manifest["name"])
    files = {"%s/%s" % (runfiles_dir, rpath): src
             for rpath, src in manifest["files"].items()}
    copies, venv_dirs = resolve_native(files, base_info["shared_libraries"],
                                       host_libs)
    python_paths = [runfiles_dir] + [
        "%s/%s" % (runfiles_dir, p) for p in manifest["imports"]] + [
        "%s/%s" % (runfiles_dir, repo) for repo in manifest["repositories"]]
    library_dirs = ([LIB_DIR] if copies else []) + venv_dirs
    venv_python = base_info["venv_path"] + "/bin/python3"

    layer = oci_layer.LayerWriter(os.path.join(work, "app.tar"), mtime=APP_MTIME)
    entries = dict(files)
    entries.update(copies)
    for path in sorted(set(entries) | {"%s/%s" % (runfiles_dir, e)
                                       for e in manifest["empty_files"]}):
        if path in entries:
            layer.add_file(path, entries[path])
        else:
            layer.add_bytes(path, b"")
    for rpath, target in sorted(manifest.get("symlinks", {}).items()):
        layer.add_symlink("%s/%s" % (runfiles_dir, rpath), target)
    layer.add_bytes("/usr/bin/tensorflow_model_server",
                    launcher(runfiles_dir, manifest["main"], python_paths,
                             library_dirs, venv_python), mode=0o755)
    with open(entrypoint, "rb") as f:
        layer.add_bytes("/usr/bin/tf_serving_entrypoint.sh", f.read(), mode=0o755)
    gz = os.path.join(work, "app.tar.gz")
    return layer.finish(gz), gz


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True,
                        help="JSON: name, main, files, empty_files, symlinks, "
                             "imports, repositories")
    parser.add_argument("--base_info", required=True, help="layers.json")
    parser.add_argument("--base_layer", required=True)
    parser.add_argument("--venv_layer", required=True)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--ref_name", default="latest")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.manifest) as f:
        manifest = json.load(f)
    with open(args.base_info) as f:
        base_info = json.load(f)
    work = tempfile.mkdtemp(prefix="oci_image.")
    try:
        try:
            app_desc, app_gz = write_app_layer(work, manifest, args.entrypoint,
                                               base_info)
        except ValueError as e:
            sys.exit("build_oci_image: %s" % e)
        layers = [(base_info["layers"]["base"], args.base_layer),
                  (base_info["layers"]["venv"], args.venv_layer),
                  (app_desc, app_gz)]
        history = [
            {"created": CREATED, "created_by": "debootstrap --variant=minbase %s "
             "(python3 %s)" % (base_info["suite"], base_info["python_version"])},
            {"created": CREATED, "created_by": "pip install -r requirements_lock.txt "
             "into %s" % base_info["venv_path"]},
            {"created": CREATED, "created_by": "bazel: %s runfiles, launcher and "
             "entrypoint" % manifest["name"]},
        ]
        oci_layer.write_oci_archive(args.out, layers, image_config(base_info),
                                    ref_name=args.ref_name, created=CREATED,
                                    history=history)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

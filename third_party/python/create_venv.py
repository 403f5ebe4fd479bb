"""Creates the project's virtualenv from the pinned lock file, once per lock.

Run by the `python_venv` repository rule with the host's python3 (standard
library only). The venv lives under a directory named after a hash of the lock
file, the Python version and _FORMAT, so a changed lock gets a fresh venv (and
Bazel's cached test results keyed on the interpreter path are invalidated),
while an unchanged one is reused by every clone on this machine.

The venv is created where it stays: venv and pip write its absolute path into
`activate` and into the shebang of every console script (saved_model_cli,
pip, ...), so a venv built elsewhere and moved would leave them all naming a
directory that no longer exists. A lock file beside the venv keeps two clones
from building it at once, and `.complete`, written last, marks it usable: a
venv without it (an interrupted run) is removed and built again.
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys

_COMPLETE = ".complete"
# Bump when a change here changes what a venv holds, so existing ones are not
# reused. 2: built in place (before, the console scripts named a staging dir).
_FORMAT = 2

# Distributions that are another one built differently, under its own name:
# a requirement on the key is met by the value at a version the requirement
# accepts. tensorflow-cpu is TensorFlow without its CUDA code, and
# tensorflow-serving-api requires `tensorflow`.
PROVIDERS = {"tensorflow": "tensorflow-cpu"}

_NOT_INSTALLED = re.compile(r"^(\S+) (\S+) requires (\S+), which is not installed\.$")

# Run by the venv's own interpreter: exit 0 if distribution argv[1]'s
# requirement on argv[2] accepts the installed version of argv[3]. It reads
# requirements with pip's own copy of `packaging`, there in every venv.
_PROVIDER_CHECK = r"""
import sys
from importlib import metadata
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name
dist, wanted, provider = sys.argv[1:]
version = metadata.version(provider)
for text in metadata.requires(dist) or []:
    requirement = Requirement(text)
    if canonicalize_name(requirement.name) != canonicalize_name(wanted):
        continue
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        continue
    sys.exit(0 if requirement.specifier.contains(version, prereleases=True) else 1)
sys.exit(1)
"""


def venv_key(lock_path):
    digest = hashlib.sha256()
    with open(lock_path, "rb") as f:
        digest.update(f.read())
    digest.update(b"\0format %d" % _FORMAT)
    return "py%d.%d-%s" % (sys.version_info[0], sys.version_info[1],
                           digest.hexdigest()[:16])


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _run(cmd):
    """Runs cmd; its output is shown only if it fails.

    Raises:
      subprocess.CalledProcessError: cmd exited non-zero (its output is on
        stderr by then).
    """
    result = subprocess.run(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        raise subprocess.CalledProcessError(result.returncode, cmd)


def check(python, providers=None):
    """`pip check`, where PROVIDERS' substitutes count as what they replace.

    Args:
      python: the command (a list) that runs the venv's interpreter.
      providers: {required name: installed substitute}; PROVIDERS by default.

    Raises:
      subprocess.CalledProcessError: the installed set is inconsistent (what
        pip check said is on stderr by then).
    """
    providers = PROVIDERS if providers is None else providers
    providers = {_canonical(k): v for k, v in providers.items()}
    cmd = python + ["-m", "pip", "check", "--disable-pip-version-check"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode == 0:
        return
    unmet = []
    for line in result.stdout.splitlines():
        match = _NOT_INSTALLED.match(line.strip())
        provider = match and providers.get(_canonical(match.group(3)))
        if provider and subprocess.run(
                python + ["-c", _PROVIDER_CHECK, match.group(1),
                          match.group(3), provider],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            continue
        if line.strip():
            unmet.append(line)
    if unmet:
        sys.stderr.write("\n".join(unmet) + "\n")
        raise subprocess.CalledProcessError(result.returncode, cmd)


def _build(lock_path, target):
    shutil.rmtree(target, ignore_errors=True)  # what an interrupted run left
    print("Creating the Python virtualenv from %s (first time: ~2 min)"
          % lock_path, file=sys.stderr, flush=True)
    _run([sys.executable, "-m", "venv", target])
    python = os.path.join(target, "bin", "python3")
    # --no-deps: the lock names every package, so pip must not resolve
    # anything beyond it; check() then proves the set is consistent.
    _run([python, "-m", "pip", "install", "--disable-pip-version-check",
          "--no-deps", "--requirement", lock_path])
    check([python])
    with open(os.path.join(target, _COMPLETE), "w") as f:
        f.write(lock_path + "\n")


def create(lock_path, cache_root):
    target = os.path.join(cache_root, "venv-" + venv_key(lock_path))
    if os.path.exists(os.path.join(target, _COMPLETE)):
        return target
    os.makedirs(cache_root, exist_ok=True)
    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another clone may be building it
        if os.path.exists(os.path.join(target, _COMPLETE)):
            return target
        try:
            _build(lock_path, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
    return target


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: create_venv.py <requirements_lock.txt> <cache_root> "
                 "<file to write the venv's path to>")
    try:
        venv = create(os.path.abspath(argv[1]), argv[2])
        with open(argv[3], "w") as f:
            f.write(venv + "\n")
    except subprocess.CalledProcessError as e:
        sys.exit("create_venv.py: %s failed with exit code %d"
                 % (" ".join(e.cmd[:4]), e.returncode))


if __name__ == "__main__":
    main(sys.argv)

"""Creates the project's virtualenv from the pinned lock file, once per lock.

Run by the `python_venv` repository rule with the host's python3 (standard
library only). The venv lives under a directory named after a hash of the lock
file and the Python version, so a changed lock gets a fresh venv (and Bazel's
cached test results keyed on the interpreter path are invalidated), while an
unchanged one is reused by every clone on this machine. It is built in a
temporary sibling directory and renamed into place, so an interrupted run
never leaves a half-populated venv behind.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

_COMPLETE = ".complete"


def venv_key(lock_path):
    with open(lock_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return "py%d.%d-%s" % (sys.version_info[0], sys.version_info[1], digest)


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


def create(lock_path, cache_root):
    target = os.path.join(cache_root, "venv-" + venv_key(lock_path))
    if os.path.exists(os.path.join(target, _COMPLETE)):
        return target
    os.makedirs(cache_root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=cache_root)
    try:
        print("Creating the Python virtualenv from %s (first time: ~2 min)"
              % lock_path, file=sys.stderr, flush=True)
        _run([sys.executable, "-m", "venv", staging])
        python = os.path.join(staging, "bin", "python3")
        # --no-deps: the lock names every package, so pip must not resolve
        # anything beyond it; `pip check` then proves the set is consistent.
        _run([python, "-m", "pip", "install", "--disable-pip-version-check",
              "--no-deps", "--requirement", lock_path])
        _run([python, "-m", "pip", "check"])
        with open(os.path.join(staging, _COMPLETE), "w") as f:
            f.write(lock_path + "\n")
        if os.path.exists(os.path.join(target, _COMPLETE)):
            shutil.rmtree(staging)  # another clone finished first
        else:
            shutil.rmtree(target, ignore_errors=True)  # an unfinished one
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
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

"""Files a Bazel target lists in `data`, found with Bazel's runfiles library.

The programs also run from a source tree without Bazel (python3 path/to.py);
there is no runfiles tree then, and every lookup finds nothing.
"""

import os

try:
    from bazel_tools.tools.python.runfiles import runfiles  # pylint: disable=g-import-not-at-top
except ImportError:  # not run by Bazel
    runfiles = None


def runfile(path: str) -> str | None:
    """The location of `path` ("<repository>/<path>") if it exists, else None."""
    files = runfiles.Create() if runfiles is not None else None
    location = files.Rlocation(path) if files is not None else None
    return location if location and os.path.exists(location) else None

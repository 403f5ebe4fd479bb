r"""Renders each docs/*.dot diagram into the .svg beside it.

    tools/bazel run //docs:render_diagrams

Uses Graphviz's `dot` (Debian's `graphviz`, installed with apt the first time,
as tools/bazel installs its packages: one progress line, apt's output only if
it fails). Each SVG starts with a comment naming its source and the source's
SHA-256, which `diagrams_test` compares with the .dot file, so a diagram
whose source changed without a new rendering fails the tests.
"""

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

DOCS = "docs"
_STAMP = "<!-- Rendered by //docs:render_diagrams from {source} (sha256 {digest}); do not edit -->"


def source_digest(dot_text: bytes) -> str:
    return hashlib.sha256(dot_text).hexdigest()


def stamp(source_name: str, dot_text: bytes) -> str:
    """The comment an SVG rendered from `dot_text` carries."""
    return _STAMP.format(source=source_name, digest=source_digest(dot_text))


def stamped(svg: str, source_name: str, dot_text: bytes) -> str:
    """`svg` with the stamp on the line after its XML declaration."""
    first, newline, rest = svg.partition("\n")
    if not first.startswith("<?xml"):
        raise ValueError("dot's SVG does not start with an XML declaration")
    return first + newline + stamp(source_name, dot_text) + "\n" + rest


def _sudo(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return command
    if shutil.which("sudo"):
        return ["sudo"] + command
    raise OSError("not root and no sudo")


def ensure_dot() -> str:
    """The path of `dot`, installing Debian's graphviz when it is missing."""
    dot = shutil.which("dot")
    if dot:
        return dot
    print("render_diagrams: installing graphviz with apt-get (one time)...",
          file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with tempfile.NamedTemporaryFile("w", prefix="graphviz-apt-", suffix=".log",
                                     delete=False) as log:
        try:
            ok = all(subprocess.run(_sudo(command), stdout=log, stderr=subprocess.STDOUT,
                                    env=env, check=False).returncode == 0
                     for command in (["apt-get", "update", "-qq"],
                                     ["apt-get", "install", "-y", "-qq",
                                      "--no-install-recommends", "graphviz"]))
        except OSError as e:
            log.write(f"{e}\n")
            ok = False
    dot = shutil.which("dot")
    if not ok or not dot:
        raise OSError("the Debian package graphviz could not be installed (need root "
                      f"or sudo and apt; apt's output: {log.name})")
    os.unlink(log.name)
    return dot


def render(dot: str, source_path: str) -> str:
    """The stamped SVG of one .dot file."""
    with open(source_path, "rb") as f:
        dot_text = f.read()
    result = subprocess.run([dot, "-Tsvg"], input=dot_text, capture_output=True,
                            check=False)
    if result.returncode != 0:
        raise OSError(f"dot failed on {source_path}: "
                      f"{result.stderr.decode(errors='replace').strip()}")
    return stamped(result.stdout.decode("utf-8"), os.path.basename(source_path), dot_text)


def main() -> int:
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if not workspace:
        print("render_diagrams: run it with `tools/bazel run //docs:render_diagrams`",
              file=sys.stderr)
        return 2
    try:
        dot = ensure_dot()
        for source in sorted(glob.glob(os.path.join(workspace, DOCS, "*.dot"))):
            target = source[:-len(".dot")] + ".svg"
            with open(target, "w", encoding="utf-8") as f:
                f.write(render(dot, source))
            print(f"render_diagrams: wrote {os.path.relpath(target, workspace)}")
    except OSError as e:
        print(f"render_diagrams: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

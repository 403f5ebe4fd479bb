"""A repository rule that makes the project's virtualenv the Python toolchain.

Every py_binary and py_test then runs under the pinned packages of
requirements_lock.txt, never under the host's site-packages. The runtime
points at the venv's interpreter by absolute path: globbing the venv into
runfiles instead would add ~113k files to every test and make builds and
tests several times slower.
"""

_BUILD = """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

# The launcher of every py_binary runs under the venv's interpreter too, not
# whatever `python` a PATH holds: actions and tests see a fixed PATH
# (--incompatible_strict_action_env), which need not have one.
py_runtime(
    name = "py3_runtime",
    interpreter_path = "{interpreter}",
    python_version = "PY3",
    stub_shebang = "#!{interpreter}",
)

py_runtime_pair(
    name = "runtime_pair",
    py3_runtime = ":py3_runtime",
)

toolchain(
    name = "py_toolchain",
    toolchain = ":runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)

exports_files(["venv_path.txt"])
"""

def _python_venv_impl(rctx):
    python = rctx.which("python3")
    if not python:
        fail("python3 is not on PATH: install Python 3.11 (apt-get install python3 python3-venv)")
    cache_root = rctx.os.environ.get("TF_SERVING_VENV_CACHE", "")
    if not cache_root:
        cache_root = "%s/.cache/tf_serving_bazel" % rctx.os.environ.get("HOME", "/tmp")
    rctx.report_progress("Creating the Python virtualenv (first time only: ~2 min)")
    result = rctx.execute(
        [
            python,
            rctx.path(rctx.attr._create_venv),
            rctx.path(rctx.attr.requirements_lock),
            cache_root,
            rctx.path("venv_path.txt"),
        ],
        timeout = 1800,
        quiet = False,  # its one progress line; pip's output only on failure
    )
    if result.return_code != 0:
        fail("Could not create the Python virtualenv (see above)")
    venv = rctx.read("venv_path.txt").strip()
    rctx.file("BUILD.bazel", _BUILD.format(interpreter = venv + "/bin/python3"))

python_venv = repository_rule(
    implementation = _python_venv_impl,
    attrs = {
        "requirements_lock": attr.label(mandatory = True, allow_single_file = True),
        "_create_venv": attr.label(default = "//third_party/python:create_venv.py"),
    },
    environ = ["TF_SERVING_VENV_CACHE"],
)

"""A repository rule for the venv of KServe's Python SDK (its v2 clients, and
its ModelServer with TensorFlow, the Open Inference Protocol benchmark's peer).

The venv (requirements_lock.txt beside this file) is created by
//third_party/python:create_venv.py like the toolchain's, in its own cache
directory keyed by this lock; it is not the server's toolchain (kserve's pins
clash with it), so only the tests that run KServe's clients carry it.
`python` runs the venv's interpreter.
"""

_BUILD = """
package(default_visibility = ["//visibility:public"])

exports_files(["python"])
"""

def _kserve_client_venv_impl(rctx):
    python = rctx.which("python3")
    if not python:
        fail("python3 is not on PATH")
    cache_root = rctx.os.environ.get("TF_SERVING_VENV_CACHE", "")
    if not cache_root:
        cache_root = "%s/.cache/tf_serving_bazel" % rctx.os.environ.get("HOME", "/tmp")
    rctx.report_progress("Creating KServe's SDK virtualenv (first time only)")
    result = rctx.execute(
        [
            python,
            rctx.path(rctx.attr._create_venv),
            rctx.path(rctx.attr.requirements_lock),
            cache_root,
            rctx.path("venv_path.txt"),
        ],
        timeout = 1200,
        quiet = False,  # its one progress line; pip's output only on failure
    )
    if result.return_code != 0:
        fail("Could not create KServe's SDK virtualenv (see above)")
    venv = rctx.read("venv_path.txt").strip()
    rctx.file("python", "#!/bin/sh\nexec %s/bin/python3 \"$@\"\n" % venv, executable = True)
    rctx.file("BUILD.bazel", _BUILD)

kserve_client_venv = repository_rule(
    implementation = _kserve_client_venv_impl,
    attrs = {
        "requirements_lock": attr.label(default = "//third_party/kserve_client:requirements_lock.txt", allow_single_file = True),
        "_create_venv": attr.label(default = "//third_party/python:create_venv.py"),
    },
    environ = ["TF_SERVING_VENV_CACHE"],
)

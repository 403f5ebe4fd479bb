"""A repository rule for the Kubernetes manifest check's own small venv.

The venv (kubernetes-validate and its JSON schemas, from requirements_lock.txt
beside this file) is created by //third_party/python:create_venv.py like the
toolchain's, in its own cache directory keyed by this lock; it is not the
server's toolchain, so the server's tests do not carry it. KServe's SDK wheel
(kserve_wheel.txt, pinned by hash) is downloaded without its dependencies and
unpacked for its generated models. `python` runs the venv's interpreter.
"""

_BUILD = """
package(default_visibility = ["//visibility:public"])

exports_files(["python"])

filegroup(
    name = "kserve_sdk",
    srcs = glob(["kserve_sdk/kserve/**"]),
)
"""

def _k8s_validate_venv_impl(rctx):
    python = rctx.which("python3")
    if not python:
        fail("python3 is not on PATH")
    cache_root = rctx.os.environ.get("TF_SERVING_VENV_CACHE", "")
    if not cache_root:
        cache_root = "%s/.cache/tf_serving_bazel" % rctx.os.environ.get("HOME", "/tmp")
    rctx.report_progress("Creating the manifest check's virtualenv (first time only)")
    result = rctx.execute(
        [
            python,
            rctx.path(rctx.attr._create_venv),
            rctx.path(rctx.attr.requirements_lock),
            cache_root,
            rctx.path("venv_path.txt"),
        ],
        timeout = 900,
        quiet = False,  # its one progress line; pip's output only on failure
    )
    if result.return_code != 0:
        fail("Could not create the manifest check's virtualenv (see above)")
    venv = rctx.read("venv_path.txt").strip()
    rctx.report_progress("Downloading KServe's SDK wheel (its models only)")
    result = rctx.execute(
        [
            venv + "/bin/python3",
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--requirement",
            rctx.path(rctx.attr.kserve_wheel),
            "--dest",
            "wheel",
        ],
        timeout = 300,
    )
    if result.return_code != 0:
        fail("Could not download KServe's SDK wheel:\n" + result.stderr)
    wheels = [p for p in rctx.path("wheel").readdir() if p.basename.endswith(".whl")]
    if len(wheels) != 1:
        fail("expected one KServe wheel, found %s" % wheels)
    rctx.symlink(wheels[0], "kserve.zip")
    rctx.extract("kserve.zip", "kserve_sdk")
    rctx.file("python", "#!/bin/sh\nexec %s/bin/python3 \"$@\"\n" % venv, executable = True)
    rctx.file("BUILD.bazel", _BUILD)

k8s_validate_venv = repository_rule(
    implementation = _k8s_validate_venv_impl,
    attrs = {
        "requirements_lock": attr.label(default = "//third_party/k8s_validate:requirements_lock.txt", allow_single_file = True),
        "kserve_wheel": attr.label(default = "//third_party/k8s_validate:kserve_wheel.txt", allow_single_file = True),
        "_create_venv": attr.label(default = "//third_party/python:create_venv.py"),
    },
    environ = ["TF_SERVING_VENV_CACHE"],
)

"""A repository rule that builds the container image's base and venv layers.

The counterpart of upstream Dockerfile's `FROM ubuntu` and package steps. It
runs build_image_base.py, which bootstraps the host's Debian release and
installs the wheels of the project's lock file into /opt/venv, and exposes
the two gzipped layers and their digests (layers.json) to the `oci_image`
rule. It needs root and the Debian and PyPI registries, which a repository
rule may use; it runs only when an image target is built, and its result is
cached per lock file under ~/.cache/tf_serving_bazel (override with
--repo_env=TF_SERVING_IMAGE_CACHE=/dir).
"""

_BUILD = """
package(default_visibility = ["//visibility:public"])

exports_files([
    "base.tar.gz",
    "venv.tar.gz",
    "layers.json",
])
"""

def _tf_serving_image_base_impl(rctx):
    python = rctx.which("python3")
    if not python:
        fail("python3 is not on PATH")
    cache_root = rctx.os.environ.get("TF_SERVING_IMAGE_CACHE", "")
    if not cache_root:
        cache_root = "%s/.cache/tf_serving_bazel" % rctx.os.environ.get("HOME", "/tmp")
    venv = rctx.read(rctx.path(rctx.attr.venv_path)).strip()
    rctx.path(rctx.attr._oci_layer)  # dependencies: their edits rebuild the base
    rctx.path(rctx.attr._create_venv)
    rctx.report_progress("Building the image's Debian base and venv layers (first time per lock file: ~4 min)")
    result = rctx.execute(
        [
            python,
            rctx.path(rctx.attr._builder),
            "--lock",
            rctx.path(rctx.attr.requirements_lock),
            "--cache_root",
            cache_root,
            "--pip_python",
            venv + "/bin/python3",
        ],
        timeout = 3600,
        quiet = False,
        # The builder imports tensorflow_serving.tools.docker.oci_layer and
        # third_party.python.create_venv.
        environment = {"PYTHONPATH": str(rctx.path(Label("//:WORKSPACE")).dirname)},
    )
    if result.return_code != 0:
        fail("Could not build the image base:\n" + result.stderr[-4000:])
    built = result.stdout.strip().splitlines()[-1]
    for name in ["base.tar.gz", "venv.tar.gz", "layers.json"]:
        rctx.symlink(built + "/" + name, name)
    rctx.file("BUILD.bazel", _BUILD)

tf_serving_image_base = repository_rule(
    implementation = _tf_serving_image_base_impl,
    attrs = {
        "requirements_lock": attr.label(mandatory = True, allow_single_file = True),
        "venv_path": attr.label(default = "@python_venv//:venv_path.txt", allow_single_file = True),
        "_builder": attr.label(default = "//tensorflow_serving/tools/docker:build_image_base.py"),
        "_oci_layer": attr.label(default = "//tensorflow_serving/tools/docker:oci_layer.py"),
        "_create_venv": attr.label(default = "//third_party/python:create_venv.py"),
    },
    environ = ["TF_SERVING_IMAGE_CACHE"],
)

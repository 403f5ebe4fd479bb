"""Lets the tutorial and the loop tests run upstream's C++ model server.

Upstream's `tensorflow_model_server` cannot be built or downloaded here, but a
user may have one (apt, a container image, their own build). With
`--config=upstream_server --repo_env=TF_MODEL_SERVER_PATH=/path/to/binary`,
`//tensorflow_serving/model_servers:model_server_under_test` resolves to a
wrapper around that binary instead of this repo's Python server. Without the
path, building anything that needs it fails with one line saying what to pass.
"""

_ENV = "TF_MODEL_SERVER_PATH"

_WRAPPER = """#!/bin/sh
exec "{path}" "$@"
"""

_BUILD_OK = """
sh_binary(
    name = "tensorflow_model_server",
    srcs = ["tensorflow_model_server.sh"],
    visibility = ["//visibility:public"],
)
"""

# A genrule that fails makes the build itself stop with the message, before
# any test starts, rather than every test failing on its own.
_BUILD_MISSING = """
genrule(
    name = "missing_path",
    outs = ["tensorflow_model_server.sh"],
    cmd = "echo '{message}' >&2; exit 1",
)

sh_binary(
    name = "tensorflow_model_server",
    srcs = [":tensorflow_model_server.sh"],
    visibility = ["//visibility:public"],
)
"""

def _upstream_model_server_impl(rctx):
    path = rctx.os.environ.get(_ENV, "")
    if not path:
        message = "--config=upstream_server needs --repo_env=%s=/absolute/path/to/tensorflow_model_server" % _ENV
        rctx.file("BUILD.bazel", _BUILD_MISSING.format(message = message))
        return
    if not path.startswith("/"):
        fail("%s must be an absolute path, got %s" % (_ENV, path))
    if not rctx.path(path).exists:
        fail("%s=%s does not exist" % (_ENV, path))
    rctx.file("tensorflow_model_server.sh", _WRAPPER.format(path = path), executable = True)
    rctx.file("BUILD.bazel", _BUILD_OK)

upstream_model_server = repository_rule(
    implementation = _upstream_model_server_impl,
    environ = [_ENV],
)

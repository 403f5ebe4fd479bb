"""The native data plane's dependencies, found on this machine.

The model server's data plane (every request path, in C++) is built
from Debian's gRPC and protobuf (libgrpc++-dev, libprotobuf-dev, protoc and
grpc_cpp_plugin; tools/bazel installs them with apt), RapidJSON (rapidjson-dev,
header-only: the REST API's JSON is read and written by the same library and
version as upstream's, 1.1.0), libevent's core and zlib for the HTTP
transport (libevent-dev, zlib1g-dev), RE2 for the REST API's paths
(libre2-dev), ISA-L for the request logs' CRC32C (libisal-dev), Python's
headers, and
the C API headers of the TensorFlow wheel in the project's virtualenv. Only
those C API headers are exposed, never the wheel's whole include/ directory:
it ships TensorFlow's own google/protobuf headers, which must not meet
Debian's.

When something is missing the build stops, saying what and which Debian
package provides it (tools/bazel installs them before Bazel starts).
"""

_BUILD_AVAILABLE = """
package(default_visibility = ["//visibility:public"])

# Debian's gRPC C++ and protobuf runtime libraries.
cc_library(
    name = "grpcpp",
    linkopts = {linkopts},
)

# libevent's core (event loop, timers, sockets) for util/net_http: the
# transport uses neither evhttp nor bufferevents (see util/net_http/).
cc_library(
    name = "libevent",
    linkopts = ["-levent_core"],
)

# zlib, for gzip request bodies.
cc_library(
    name = "zlib",
    linkopts = ["-lz"],
)

# Intel's ISA-L, for the CRC32C of the request logs' TFRecords (with the
# CPU's CRC instructions where it has them).
cc_library(
    name = "isal",
    linkopts = ["-lisal"],
)

# RE2 (gRPC's own dependency), for the REST API's paths: upstream's regular
# expressions, matched as upstream matches them.
cc_library(
    name = "re2",
    linkopts = ["-lre2"],
)

# The TensorFlow C API declarations; the library itself is the one the
# Python process has already loaded (see tf_c_api.cc), so nothing links it.
cc_library(
    name = "tensorflow_c_api",
    hdrs = {tf_headers},
    strip_include_prefix = "tf_include",
)

# Header-only. The compiler would find it in /usr/include anyway; depending
# on this target says who uses it and makes its headers inputs of their
# compiles. A system include: its C++17 deprecation warnings are not ours.
cc_library(
    name = "rapidjson",
    hdrs = glob(["rapidjson_include/rapidjson/**/*.h"]),
    includes = ["rapidjson_include"],
)

cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    strip_include_prefix = "python_include",
)

exports_files(["bin/protoc", "bin/grpc_cpp_plugin"])

# The wheel's TensorFlow libraries, for C++ tests that load them themselves.
filegroup(
    name = "libtensorflow",
    srcs = ["lib/libtensorflow_cc.so.2", "lib/libtensorflow_framework.so.2"],
)
"""

# Where the C API walk starts; every header it includes from the wheel follows.
_TF_ROOT_HEADERS = ["tensorflow/c/c_api.h"]

_PACKAGES_HINT = ("tools/bazel installs them; or: apt-get install g++ libgrpc++-dev " +
                  "libprotobuf-dev protobuf-compiler protobuf-compiler-grpc rapidjson-dev " +
                  "libevent-dev zlib1g-dev libre2-dev libisal-dev python3-dev")

def _quoted_includes(text):
    """The "..." includes of a C header, in order."""
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("#include"):
            continue
        rest = line[len("#include"):].strip()
        if rest.startswith("\""):
            end = rest.find("\"", 1)
            if end > 1:
                result.append(rest[1:end])
    return result

def _link_tf_headers(rctx, include_dir):
    """Symlinks the C API headers and what they include; returns their paths."""
    pending = list(_TF_ROOT_HEADERS)
    seen = {}
    for _ in range(1000):
        if not pending:
            break
        header = pending.pop()
        if header in seen:
            continue
        src = rctx.path(include_dir + "/" + header)
        if not src.exists:
            return None, "the TensorFlow wheel lacks %s" % header
        seen[header] = True
        rctx.symlink(src, "tf_include/" + header)
        pending.extend(_quoted_includes(rctx.read(src)))
    return ["tf_include/" + h for h in sorted(seen)], None

def _python_info(rctx, python):
    script = ("import importlib.util, os, sysconfig; " +
              "spec = importlib.util.find_spec('tensorflow'); " +
              "print(os.path.dirname(spec.origin) if spec else ''); " +
              "print(sysconfig.get_paths()['include'])")
    result = rctx.execute([python, "-c", script], timeout = 120)
    if result.return_code != 0:
        return None, None
    lines = result.stdout.strip().splitlines()
    if len(lines) != 2:
        return None, None
    return lines[0], lines[1]

def _pkg_config_libs(rctx):
    pkg_config = rctx.which("pkg-config")
    if pkg_config:
        result = rctx.execute([pkg_config, "--libs", "grpc++", "protobuf"], timeout = 60)
        if result.return_code == 0 and result.stdout.strip():
            flags = []
            for flag in result.stdout.strip().split(" "):
                if flag and flag not in flags:
                    flags.append(flag)
            return flags
    return ["-lgrpc++", "-lgrpc", "-lgpr", "-lprotobuf"]

def _configure(rctx):
    """Returns (BUILD text, None) or (None, reason)."""
    for tool in ["g++", "protoc", "grpc_cpp_plugin"]:
        if not rctx.which(tool):
            return None, "%s is not installed (%s)" % (tool, _PACKAGES_HINT)
    for header, package in [
        ("/usr/include/grpcpp/grpcpp.h", "libgrpc++-dev"),
        ("/usr/include/google/protobuf/message.h", "libprotobuf-dev"),
        ("/usr/include/event2/event.h", "libevent-dev"),
        ("/usr/include/zlib.h", "zlib1g-dev"),
        ("/usr/include/re2/re2.h", "libre2-dev"),
        ("/usr/include/isa-l/crc.h", "libisal-dev"),
        ("/usr/include/rapidjson/document.h", "rapidjson-dev"),
    ]:
        if not rctx.path(header).exists:
            return None, "%s is not installed (%s)" % (package, _PACKAGES_HINT)
    venv = rctx.read(rctx.path(rctx.attr.venv_path)).strip()
    tf_dir, python_include = _python_info(rctx, venv + "/bin/python3")
    if not tf_dir:
        return None, "the virtualenv %s has no tensorflow package" % venv
    if not rctx.path(python_include + "/Python.h").exists:
        return None, "Python's headers are not installed (%s)" % _PACKAGES_HINT
    for lib in ["libtensorflow_cc.so.2", "libtensorflow_framework.so.2"]:
        if not rctx.path(tf_dir + "/" + lib).exists:
            return None, "the TensorFlow wheel has no %s" % lib
        rctx.symlink(tf_dir + "/" + lib, "lib/" + lib)
    tf_headers, error = _link_tf_headers(rctx, tf_dir + "/include")
    if error:
        return None, error
    rctx.symlink(python_include, "python_include")
    rctx.symlink("/usr/include/rapidjson", "rapidjson_include/rapidjson")
    rctx.symlink(rctx.which("protoc"), "bin/protoc")
    rctx.symlink(rctx.which("grpc_cpp_plugin"), "bin/grpc_cpp_plugin")
    return _BUILD_AVAILABLE.format(
        linkopts = repr(["-Wl,--as-needed"] + _pkg_config_libs(rctx)),
        tf_headers = repr(tf_headers),
    ), None

def _native_deps_impl(rctx):
    build, reason = _configure(rctx)
    if not build:
        fail("the model server cannot be built: " + reason)
    rctx.file("BUILD.bazel", build)

native_deps = repository_rule(
    implementation = _native_deps_impl,
    attrs = {
        "venv_path": attr.label(mandatory = True, allow_single_file = True),
    },
    local = True,
)

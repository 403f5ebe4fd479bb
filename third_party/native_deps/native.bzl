"""Targets of the native data plane, defined only where it can be built.

@native_deps says whether this machine has what the native plane needs; on a
machine without it these macros define nothing, so `bazel build //...` still
works and the model server runs its pure Python data plane.
"""

load("@native_deps//:defs.bzl", "NATIVE_PLANE_AVAILABLE")
load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("@rules_python//python:defs.bzl", "py_test")

def if_native(items):
    """`items` where the native plane is built, else []."""
    return items if NATIVE_PLANE_AVAILABLE else []

def native_cc_library(**kwargs):
    if NATIVE_PLANE_AVAILABLE:
        cc_library(**kwargs)

def native_cc_binary(**kwargs):
    if NATIVE_PLANE_AVAILABLE:
        cc_binary(**kwargs)

def native_cc_test(**kwargs):
    if NATIVE_PLANE_AVAILABLE:
        cc_test(**kwargs)

def native_genrule(**kwargs):
    if NATIVE_PLANE_AVAILABLE:
        native.genrule(**kwargs)

def native_py_test(**kwargs):
    """A Python test of native binaries: defined only where they are built."""
    if NATIVE_PLANE_AVAILABLE:
        py_test(**kwargs)

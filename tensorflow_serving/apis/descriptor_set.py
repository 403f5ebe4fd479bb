"""Writes the FileDescriptorSet of the serving APIs the native plane reads.

The C++ message and service code of the native data plane is generated from
the descriptors compiled into pip's tensorflow-serving-api and tensorflow
packages, so no .proto file is copied into this repository:

  descriptor_set.py [--roots=MODULE,...] OUT FILE.proto...

walks the imports of the root modules' files (by default prediction_service.proto
and get_model_status.proto, whose response the REST API prints as JSON;
the Open Inference Protocol's service comes from tritonclient's
grpc_service.proto), writes every file (dependencies first) to OUT, and fails
with one line if the set differs from the FILEs expected (the BUILD file lists
the generated outputs) or if a file uses protobuf editions, which Debian's
protoc 3.21 cannot read.
"""

import sys

from google.protobuf import descriptor_pb2

_ROOT_MODULES = ("tensorflow_serving.apis.prediction_service_pb2",
                 "tensorflow_serving.apis.get_model_status_pb2")
# Files protoc takes from libprotobuf itself; they are in the set, not generated.
WELL_KNOWN_PREFIX = "google/protobuf/"


def closure(roots):
    """Every FileDescriptor `roots` depend on, dependencies before dependents."""
    ordered, seen = [], set()

    def visit(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            visit(dep)
        ordered.append(fd)

    for root in roots:
        visit(root)
    return ordered


def uses_editions(proto: descriptor_pb2.FileDescriptorProto) -> bool:
    if proto.syntax == "editions" or proto.HasField("edition"):
        return True
    options = [proto.options]
    options += [m.options for m in proto.message_type]
    return any(o.HasField("features") for o in options)


def descriptor_set(roots) -> descriptor_pb2.FileDescriptorSet:
    result = descriptor_pb2.FileDescriptorSet()
    for fd in closure(roots):
        proto = result.file.add()
        fd.CopyToProto(proto)
        if uses_editions(proto):
            raise ValueError(
                f"{fd.name} uses protobuf editions, which Debian's protoc 3.21 "
                "cannot compile; pin a tensorflow-serving-api whose protos use "
                "proto2/proto3 syntax")
    return result


def main(argv) -> int:
    args = argv[1:]
    root_modules = _ROOT_MODULES
    if args and args[0].startswith("--roots="):
        root_modules = tuple(m for m in args[0][len("--roots="):].split(",") if m)
        args = args[1:]
    if len(args) < 2 or not root_modules:
        sys.stderr.write(__doc__)
        return 2
    out, expected = args[0], set(args[1:])
    import importlib  # pylint: disable=g-import-not-at-top
    roots = [importlib.import_module(name).DESCRIPTOR for name in root_modules]
    try:
        result = descriptor_set(roots)
    except ValueError as e:
        sys.stderr.write(f"descriptor_set: {e}\n")
        return 1
    found = {f.name for f in result.file if not f.name.startswith(WELL_KNOWN_PREFIX)}
    if found != expected:
        sys.stderr.write(
            "descriptor_set: the pip packages' serving protos changed; "
            "update PROTO_FILES in tensorflow_serving/apis/BUILD (new: "
            f"{sorted(found - expected)}, gone: {sorted(expected - found)})\n")
        return 1
    with open(out, "wb") as f:
        f.write(result.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Predict requests of every kind, as raw bytes, for the data plane tests.

cases() covers valid requests of every dtype, shape and value-list length the
all_dtypes and half_plus_two test models accept, and every kind of bad
request (unknown model, version, label, signature, alias or output; bad
tensors; unparseable bytes). The parity test sends them to both data planes;
the fuzz test mutates them.
"""

import os

from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.model_servers.test_util import server_runner
from tensorflow_serving.servables.tensorflow.testdata import saved_model_all_dtypes

PREDICT = "/tensorflow.serving.PredictionService/Predict"

# A model config serving both test models under `base` (half_plus_two with
# versions 1 and 2 and labels stable/canary, all_dtypes with version 1).
CONFIG = """
model_config_list {{
  config {{
    name: "half_plus_two" base_path: "{base}/half_plus_two" model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
    version_labels {{ key: "canary" value: 2 }}
  }}
  config {{
    name: "all_dtypes" base_path: "{base}/all_dtypes" model_platform: "tensorflow"
  }}
}}
"""

MODELS = ["half_plus_two", "all_dtypes"]


def server_args(base: str) -> list[str]:
    """Exports both test models under `base`; the server flags that serve them."""
    server_runner.export_half_plus_two_versions(
        os.path.join(base, "half_plus_two"), {1: 2.0, 2: 3.0})
    saved_model_all_dtypes.export_all_dtypes(os.path.join(base, "all_dtypes", "1"))
    config = os.path.join(base, "models.config")
    with open(config, "w", encoding="utf-8") as f:
        f.write(CONFIG.format(base=base))
    return [f"--model_config_file={config}", "--file_system_poll_wait_seconds=0"]


_FIELD = {
    "float": ("float_val", types_pb2.DT_FLOAT), "double": ("double_val", types_pb2.DT_DOUBLE),
    "half": ("half_val", types_pb2.DT_HALF), "bfloat16": ("half_val", types_pb2.DT_BFLOAT16),
    "int8": ("int_val", types_pb2.DT_INT8), "int16": ("int_val", types_pb2.DT_INT16),
    "int32": ("int_val", types_pb2.DT_INT32), "int64": ("int64_val", types_pb2.DT_INT64),
    "uint8": ("int_val", types_pb2.DT_UINT8), "uint16": ("int_val", types_pb2.DT_UINT16),
    "uint32": ("uint32_val", types_pb2.DT_UINT32),
    "uint64": ("uint64_val", types_pb2.DT_UINT64),
    "bool": ("bool_val", types_pb2.DT_BOOL), "string": ("string_val", types_pb2.DT_STRING),
    "complex64": ("scomplex_val", types_pb2.DT_COMPLEX64),
    "complex128": ("dcomplex_val", types_pb2.DT_COMPLEX128),
}
_VALUES = {
    "float": [1.5, -2.25, 3e38, 0.0], "double": [1e300, -0.5, 2.0, 7.0],
    "half": [15360, 16384, 49152, 0], "bfloat16": [16256, 16384, 49024, 1],
    "int8": [-128, 127, 0, 5], "int16": [-32768, 32767, 1, 2],
    "int32": [-2**31, 2**31 - 1, 3, 4], "int64": [-2**63, 2**63 - 1, 5, 6],
    "uint8": [0, 255, 7, 8], "uint16": [0, 65535, 9, 10],
    "uint32": [0, 2**32 - 1, 11, 12], "uint64": [0, 2**64 - 1, 13, 14],
    "bool": [True, False, True, True], "string": [b"a", b"\xff\x00bytes", b"", b"x" * 40],
    "complex64": [1.0, 2.0, -3.0, 4.5], "complex128": [1.0, -2.0, 3.0, 0.25],
}


def tensor(dtype_name, values, shape, *, dtype=None, content=None, unknown_rank=False):
    field, enum = _FIELD[dtype_name]
    t = tensor_pb2.TensorProto(dtype=enum if dtype is None else dtype)
    if unknown_rank:
        t.tensor_shape.unknown_rank = True
    for size in shape:
        t.tensor_shape.dim.add(size=size)
    if content is not None:
        t.tensor_content = content
    else:
        getattr(t, field).extend(values)
    return t


def request(model="all_dtypes", signature="", inputs=None, *, version=None, label=None,
            output_filter=()):
    r = predict_pb2.PredictRequest()
    r.model_spec.name = model
    if signature:
        r.model_spec.signature_name = signature
    if version is not None:
        r.model_spec.version.value = version
    if label is not None:
        r.model_spec.version_label = label
    for alias, t in (inputs or {}).items():
        r.inputs[alias].CopyFrom(t)
    r.output_filter.extend(output_filter)
    return r.SerializeToString()


def cases():
    """(description, request bytes) for every request both planes must answer alike."""
    out = []
    for name in saved_model_all_dtypes.DTYPES:
        values = _VALUES[name]
        per = 2 if name.startswith("complex") else 1
        sig = f"echo_{name}"
        out += [
            (f"{name} [2,2]", request(signature=sig, inputs={"x": tensor(name, values, [2, 2 // per])})),
            (f"{name} scalar", request(signature=sig, inputs={"x": tensor(name, values[:per], [])})),
            (f"{name} empty [0,3]", request(signature=sig, inputs={"x": tensor(name, [], [0, 3])})),
            (f"{name} no values [3]", request(signature=sig, inputs={"x": tensor(name, [], [3])})),
            (f"{name} one value fills [5]", request(signature=sig, inputs={"x": tensor(name, values[:per], [5])})),
            (f"{name} short list [7]", request(signature=sig, inputs={"x": tensor(name, values, [7])})),
            (f"{name} long list [1]", request(signature=sig, inputs={"x": tensor(name, values, [1])})),
            (f"{name} unknown rank", request(signature=sig, inputs={"x": tensor(name, values, [], unknown_rank=True)})),
            (f"{name} negative dim", request(signature=sig, inputs={"x": tensor(name, values, [-1])})),
            (f"{name} fed as int32", request(signature=sig, inputs={"x": tensor("int32", [1], [1])})),
        ]
        if name != "string":
            out.append((f"{name} tensor_content 3 bytes", request(
                signature=sig, inputs={"x": tensor(name, [], [1], content=b"\x01\x02\x03")})))
    out += [
        ("string tensor_content", request(signature="echo_string", inputs={
            "x": tensor("string", [], [2], content=b"\x01\x02ab" + b"c")})),
        ("float tensor_content", request(signature="echo_float", inputs={
            "x": tensor("float", [], [2], content=b"\x00\x00\x80\x3f\x00\x00\x00\x40")})),
        ("DT_INVALID", request(inputs={"x": tensor("float", [1.0], [1], dtype=0)})),
        ("a fill beyond --max_tensor_fill_bytes", request(
            inputs={"x": tensor("float", [1.0], [1 << 20, 1 << 10])})),
        ("a string fill beyond --max_tensor_fill_bytes", request(
            signature="echo_string", inputs={"x": tensor("string", [b"s"], [1 << 24])})),
        ("65 dimensions", request(inputs={"x": tensor("float", [1.0], [1] * 65)})),
        ("shape overflow", request(inputs={"x": tensor("float", [1.0], [1 << 40] * 2)})),
        ("unknown dtype 99", request(inputs={"x": tensor("float", [1.0], [1], dtype=99)})),
        ("default b", request(signature="with_defaults", inputs={"a": tensor("float", [1, 2], [2])})),
        ("a and b", request(signature="with_defaults", inputs={
            "a": tensor("float", [1, 2], [2]), "b": tensor("float", [0.5], [])})),
        ("only b", request(signature="with_defaults", inputs={"b": tensor("float", [0.5], [])})),
        ("extra input", request(signature="with_defaults", inputs={
            "a": tensor("float", [1], [1]), "b": tensor("float", [1], []),
            "c": tensor("float", [1], [1])})),
        ("unknown alias", request(signature="with_defaults", inputs={
            "a": tensor("float", [1], [1]), "z": tensor("float", [1], [])})),
        ("filter sum", request(signature="with_defaults", inputs={"a": tensor("float", [1], [1])},
                               output_filter=["sum"])),
        ("filter total (scalar)", request(signature="with_defaults",
                                          inputs={"a": tensor("float", [1, 2], [2])},
                                          output_filter=["total", "doubled"])),
        ("filter unknown", request(signature="with_defaults",
                                   inputs={"a": tensor("float", [1], [1])},
                                   output_filter=["nope"])),
        ("filter duplicate", request(signature="with_defaults",
                                     inputs={"a": tensor("float", [1], [1])},
                                     output_filter=["sum", "sum"])),
        ("shape mismatch at run", request(signature="with_defaults", inputs={
            "a": tensor("float", [1, 2], [1, 2])})),
        ("no inputs", request(signature="with_defaults")),
        ("unknown signature", request(signature="nope", inputs={"x": tensor("float", [1], [1])})),
        ("half_plus_two latest", request("half_plus_two", inputs={"x": tensor("float", [1, 2], [2, 1])})),
        ("half_plus_two [3]", request("half_plus_two", inputs={"x": tensor("float", [1, 2, 3], [3])})),
        ("half_plus_two version 1", request("half_plus_two", version=1,
                                            inputs={"x": tensor("float", [1], [1, 1])})),
        ("half_plus_two label canary", request("half_plus_two", label="canary",
                                               inputs={"x": tensor("float", [1], [1, 1])})),
        ("half_plus_two classify signature", request("half_plus_two", "classify_x_to_classes", {
            "inputs": tensor("string", [b"\x0a\x0c\x0a\x0a\x0a\x01x\x12\x05\x12\x03\x0a\x01\x00"], [1])})),
        ("unknown version", request("half_plus_two", version=9,
                                    inputs={"x": tensor("float", [1], [1, 1])})),
        ("unknown label", request("half_plus_two", label="nope",
                                  inputs={"x": tensor("float", [1], [1, 1])})),
        ("unknown model", request("nope", inputs={"x": tensor("float", [1], [1])})),
        ("no model name", request("", inputs={"x": tensor("float", [1], [1])})),
        ("unparseable", b"\xff\xff\xff"),
        ("truncated", request("half_plus_two", inputs={"x": tensor("float", [1], [1, 1])})[:-3]),
        ("empty request", b""),
    ]
    return out

"""Helpers shared by the request handlers (upstream's servables/tensorflow/util.cc)."""

import math
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import descriptor

from tensorflow_serving.apis import input_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.util import status

DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
PREDICT_METHOD_NAME = tf.saved_model.PREDICT_METHOD_NAME
CLASSIFY_METHOD_NAME = tf.saved_model.CLASSIFY_METHOD_NAME
REGRESS_METHOD_NAME = tf.saved_model.REGRESS_METHOD_NAME

# --enable_signature_method_name_check: process-wide, as upstream's flag.
_method_name_check = threading.Event()


def set_signature_method_name_check_feature(enabled: bool) -> None:
    """Upstream's SetSignatureMethodNameCheckFeature."""
    if enabled:
        _method_name_check.set()
    else:
        _method_name_check.clear()


def get_signature_method_name_check_feature() -> bool:
    """Upstream's GetSignatureMethodNameCheckFeature (off unless the flag is set)."""
    return _method_name_check.is_set()


def input_to_serialized_examples(inp: input_pb2.Input) -> np.ndarray:
    """Input -> 1-D object array of serialized tf.Examples.

    With example_list_with_context, each example is the serialized context
    followed by the serialized example: parsing that concatenation merges the
    two, the example's own features winning, exactly as upstream does.

    Raises ServingError INVALID_ARGUMENT "Input is empty." without examples.
    """
    kind = inp.WhichOneof("kind")
    if kind == "example_list":
        examples = inp.example_list.examples
        prefix = b""
    elif kind == "example_list_with_context":
        examples = inp.example_list_with_context.examples
        prefix = inp.example_list_with_context.context.SerializeToString()
    else:
        examples = ()
        prefix = b""
    if not examples:
        raise status.invalid_argument("Input is empty.")
    out = np.empty(len(examples), dtype=object)
    for i, example in enumerate(examples):
        out[i] = prefix + example.SerializeToString()
    return out


def make_model_spec(model_spec: model_pb2.ModelSpec, name: str,
                    signature_name: str | None, version: int | None) -> None:
    """Fills a response's model_spec as upstream's MakeModelSpec."""
    model_spec.Clear()
    model_spec.name = name
    if signature_name is not None:
        model_spec.signature_name = signature_name or DEFAULT_SIGNATURE
    if version is not None:
        model_spec.version.value = version


def signature_debug_string(signature_def) -> str:
    """A SignatureDef in protobuf text format, as upstream's DebugString().

    Python's text_format writes floats its own way (2.0, not C++'s 2); this
    writes what C++ protobuf's TextFormat writes, as the native plane's
    DebugString() does.
    """
    lines = []
    _print_message(signature_def, 0, lines)
    return "".join(lines)


_CPP = descriptor.FieldDescriptor


def _print_message(message, indent, lines):
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry_class = value.GetEntryClass()
            for key in sorted(value):
                _print_field(field, entry_class(key=key, value=value[key]), indent, lines)
        elif field.is_repeated:
            for item in value:
                _print_field(field, item, indent, lines)
        else:
            _print_field(field, value, indent, lines)


def _print_field(field, value, indent, lines):
    pad = " " * indent
    if field.cpp_type == _CPP.CPPTYPE_MESSAGE:
        lines.append(f"{pad}{field.name} {{\n")
        if field.message_type.GetOptions().map_entry:
            # C++ prints a map entry's key and value even when they are defaults.
            for part in (value.DESCRIPTOR.fields_by_name["key"],
                         value.DESCRIPTOR.fields_by_name["value"]):
                _print_field(part, getattr(value, part.name), indent + 2, lines)
        else:
            _print_message(value, indent + 2, lines)
        lines.append(f"{pad}}}\n")
    else:
        lines.append(f"{pad}{field.name}: {_cpp_scalar(field, value)}\n")


def _cpp_scalar(field, value) -> str:
    """C++ TextFormat's text of a scalar field value."""
    kind = field.cpp_type
    if kind == _CPP.CPPTYPE_BOOL:
        return "true" if value else "false"
    if kind == _CPP.CPPTYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    if kind == _CPP.CPPTYPE_STRING:
        data = value.encode("utf-8") if isinstance(value, str) else value
        return '"' + _cpp_escape(data) + '"'
    if kind == _CPP.CPPTYPE_FLOAT:
        return _cpp_float(value, 6, 9, lambda text: _strtof(text) == np.float32(value))
    if kind == _CPP.CPPTYPE_DOUBLE:
        return _cpp_float(value, 15, 17, lambda text: float(text) == value)
    return str(value)


def _cpp_float(value, digits, more_digits, round_trips) -> str:
    """SimpleFtoa/SimpleDtoa: %g with `digits`, or `more_digits` when that
    does not give the value back."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = "%.*g" % (digits, value)
    return text if round_trips(text) else "%.*g" % (more_digits, value)


_FLT_MIN = float(np.finfo(np.float32).tiny)


def _strtof(text: str):
    """What C++'s safe_strtof gives for `text`, or None: it fails, as strtof
    sets ERANGE, when the result is subnormal."""
    parsed = np.float32(float(text))
    if parsed != 0 and abs(float(parsed)) < _FLT_MIN:
        return None
    return parsed


_CPP_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"',
                ord("'"): "\\'", ord("\\"): "\\\\"}


def _cpp_escape(data: bytes) -> str:
    """CEscape: C escapes, and octal for bytes outside printable ASCII."""
    out = []
    for byte in data:
        escape = _CPP_ESCAPES.get(byte)
        if escape is not None:
            out.append(escape)
        elif byte < 0x20 or byte >= 0x7F:
            out.append("\\%03o" % byte)
        else:
            out.append(chr(byte))
    return "".join(out)


def check_method_name(signature_def, expected: str, kind: str) -> None:
    """With --enable_signature_method_name_check, INVALID_ARGUMENT unless the
    signature's method is `expected` (`kind`: "classification" or "regression")."""
    if (get_signature_method_name_check_feature()
            and signature_def.method_name != expected):
        raise status.invalid_argument(
            f"Expected {kind} signature method_name to be {expected}. "
            f"Was: {signature_def.method_name}")


def find_signature(bundle, model_spec, expected_method: str, kind: str,
                   pre_process) -> tuple:
    """Upstream's Get{Classification,Regression}SignatureDef: (name, SignatureDef).

    The method name is checked with --enable_signature_method_name_check;
    without it, `pre_process(signature_def)` checks the signature's inputs
    and outputs instead. Raises ServingError INVALID_ARGUMENT.
    """
    name = model_spec.signature_name or DEFAULT_SIGNATURE
    signature_def = bundle.signature_defs.get(name)
    if signature_def is None:
        raise status.invalid_argument(f"No signature was found with the name: {name}")
    if get_signature_method_name_check_feature():
        check_method_name(signature_def, expected_method, kind)
    else:
        pre_process(signature_def)
    return name, signature_def


def require_model_spec(request) -> None:
    """INVALID_ARGUMENT "Missing ModelSpec" for a request without one, as upstream."""
    if not request.HasField("model_spec"):
        raise status.invalid_argument("Missing ModelSpec")

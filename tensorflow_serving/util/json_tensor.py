"""JSON <-> tensor conversion for the REST API, following upstream's json_tensor.

Requests come in two layouts: row ("instances": one entry per example) and
columnar ("inputs": one value per named input). Responses mirror the request:
"predictions" for rows, "outputs" for columns; a signature with one output
writes bare values, one with several writes an object per row (or one object
keyed by output name). Binary strings travel as {"b64": "..."}; string outputs
whose alias ends in "_bytes" are always sent that way.

Everything raises ServingError(INVALID_ARGUMENT) on bad input, naming what was
wrong and what was expected.
"""

import base64
import binascii
import enum
import json
import math
from typing import Callable, Mapping

import numpy as np

from tensorflow.core.example import example_pb2
from tensorflow.core.example import feature_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.util import status

INSTANCES_KEY = "instances"
INPUTS_KEY = "inputs"
SIGNATURE_NAME_KEY = "signature_name"
PREDICTIONS_KEY = "predictions"
OUTPUTS_KEY = "outputs"
EXAMPLES_KEY = "examples"
CONTEXT_KEY = "context"
RESULTS_KEY = "results"
B64_KEY = "b64"
BYTES_SUFFIX = "_bytes"


class JsonPredictRequestFormat(enum.Enum):
    ROW = "row"
    COLUMNAR = "columnar"


_NUMPY_DTYPES = {
    types_pb2.DT_FLOAT: np.float32,
    types_pb2.DT_DOUBLE: np.float64,
    types_pb2.DT_HALF: np.float16,
    types_pb2.DT_INT8: np.int8,
    types_pb2.DT_INT16: np.int16,
    types_pb2.DT_INT32: np.int32,
    types_pb2.DT_INT64: np.int64,
    types_pb2.DT_UINT8: np.uint8,
    types_pb2.DT_UINT16: np.uint16,
    types_pb2.DT_UINT32: np.uint32,
    types_pb2.DT_UINT64: np.uint64,
    types_pb2.DT_BOOL: np.bool_,
    types_pb2.DT_STRING: np.object_,
}


def _dtype_name(dtype_enum: int) -> str:
    name = types_pb2.DataType.Name(dtype_enum) if dtype_enum in \
        types_pb2.DataType.values() else str(dtype_enum)
    return name[3:].lower() if name.startswith("DT_") else name


def numpy_dtype(dtype_enum: int):
    """numpy dtype for a TF DataType enum; INVALID_ARGUMENT if REST can't carry it."""
    try:
        return _NUMPY_DTYPES[dtype_enum]
    except KeyError:
        raise status.invalid_argument(
            f"Tensor of type {_dtype_name(dtype_enum)} is not supported by the "
            "JSON/REST API") from None


def _short(value, limit=200) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_json(body) -> object:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise status.invalid_argument(
                f"JSON Parse error: Invalid encoding in string. at offset: "
                f"{e.start}") from None
    try:
        return json.loads(body, parse_constant=_parse_constant)
    except json.JSONDecodeError as e:
        raise status.invalid_argument(
            f"JSON Parse error: {e.msg} at offset: {e.pos}") from None


def _parse_constant(name):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _is_b64_object(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and B64_KEY in value


def _decode_b64(obj) -> bytes:
    text = obj[B64_KEY]
    if not isinstance(text, str):
        raise status.invalid_argument(
            f"JSON Value: {_short(obj)} 'b64' must be a base64 encoded string")
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            raise status.invalid_argument(
                f"Unable to base64 decode: {_short(text)}") from None


def _strings_to_bytes(value, name: str):
    """Nested lists of str / {"b64"} -> same nesting with bytes."""
    if isinstance(value, list):
        return [_strings_to_bytes(v, name) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    if _is_b64_object(value):
        return _decode_b64(value)
    raise status.invalid_argument(
        f"JSON Value: {_short(value)} Type: {_json_type(value)} is not of "
        f"expected type: string (input '{name}')")


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "Null"


def value_to_array(value, dtype_enum: int, name: str) -> np.ndarray:
    """One JSON value (scalar or nested lists) -> ndarray of the signature's dtype."""
    dtype = numpy_dtype(dtype_enum)
    if dtype is np.object_:
        converted = _strings_to_bytes(value, name)
        try:
            arr = np.array(converted, dtype=object)
            # A ragged nest gives a 1-D array of lists: reject it.
            if arr.size and isinstance(arr.flat[0], list):
                raise ValueError
        except ValueError:
            raise status.invalid_argument(
                f"Input '{name}': the JSON lists do not form a tensor (every "
                f"list at the same depth must have the same length)") from None
        return arr
    try:
        raw = np.array(value)
    except ValueError:
        raw = None
    if raw is None or raw.dtype == object:
        raise status.invalid_argument(
            f"Input '{name}': the JSON value does not form a {_dtype_name(dtype_enum)} "
            f"tensor (lists at the same depth must have the same length and "
            f"hold only numbers): {_short(value)}")
    kind = raw.dtype.kind
    want = np.dtype(dtype).kind
    if kind in "USO" or (kind == "b") != (want == "b") or \
            (kind == "f" and want in "iu"):
        example = raw.flat[0].item() if raw.size else value
        raise status.invalid_argument(
            f"JSON Value: {_short(example)} Type: {_json_type(example)} is not "
            f"of expected type: {_dtype_name(dtype_enum)} (input '{name}')")
    if raw.size == 0 and raw.ndim == 1 and raw.dtype.kind == "f" and want != "f":
        raw = raw.astype(dtype)
    try:
        with np.errstate(over="raise", invalid="raise"):
            arr = raw.astype(dtype, copy=False)
        if want in "iu" and raw.size and not np.array_equal(arr, raw):
            raise FloatingPointError
    except (FloatingPointError, OverflowError, ValueError):
        raise status.invalid_argument(
            f"Input '{name}': value out of range for type "
            f"{_dtype_name(dtype_enum)}") from None
    return arr


def parse_predict_request(
        body, input_infos: Callable[[str], Mapping[str, int]]):
    """Parses a REST predict body.

    `input_infos(signature_name)` returns alias -> DataType enum for the
    signature's inputs (it may raise ServingError, e.g. unknown signature).
    Returns (signature_name, {alias: ndarray}, JsonPredictRequestFormat).
    """
    doc = parse_json(body)
    if not isinstance(doc, dict):
        raise status.invalid_argument(
            f"JSON Value: {_short(doc)} Is not an object (expecting an object "
            f"with an '{INSTANCES_KEY}' or '{INPUTS_KEY}' key)")
    signature_name = doc.get(SIGNATURE_NAME_KEY, "")
    if not isinstance(signature_name, str):
        raise status.invalid_argument(
            f"'{SIGNATURE_NAME_KEY}' key must be a string value. Found: "
            f"{_json_type(signature_name)}")
    has_instances = INSTANCES_KEY in doc
    has_inputs = INPUTS_KEY in doc
    if has_instances and has_inputs:
        raise status.invalid_argument(
            f"Not formatted correctly expecting only one of '{INPUTS_KEY}' or "
            f"'{INSTANCES_KEY}' keys to exist")
    if not has_instances and not has_inputs:
        raise status.invalid_argument("Missing 'inputs' or 'instances' key")
    infos = input_infos(signature_name)
    if has_instances:
        return (signature_name, _parse_instances(doc[INSTANCES_KEY], infos),
                JsonPredictRequestFormat.ROW)
    return (signature_name, _parse_inputs(doc[INPUTS_KEY], infos),
            JsonPredictRequestFormat.COLUMNAR)


def _expected_names(infos) -> str:
    return ", ".join(sorted(infos))


def _parse_instances(instances, infos) -> dict:
    if not isinstance(instances, list):
        raise status.invalid_argument(
            f"Expecting '{INSTANCES_KEY}' value to be a list/array with "
            f"each element being a tensor value or an object of named inputs. "
            f"Found: {_json_type(instances)}")
    if not instances:
        raise status.invalid_argument(
            f"No values in '{INSTANCES_KEY}' list (expecting at least one instance)")
    named = isinstance(instances[0], dict) and not _is_b64_object(instances[0])
    if not named:
        if len(infos) != 1:
            raise status.invalid_argument(
                f"Expecting the elements of '{INSTANCES_KEY}' to be JSON "
                f"objects keyed by input name, as the signature has "
                f"{len(infos)} inputs: {_expected_names(infos)}")
        (name, dtype_enum), = infos.items()
        for i, elem in enumerate(instances):
            if isinstance(elem, dict) and not _is_b64_object(elem):
                raise status.invalid_argument(
                    f"Element {i} of '{INSTANCES_KEY}' is an object but "
                    f"element 0 is not: all instances must have the same form")
        return {name: _stack(instances, dtype_enum, name)}
    per_input = {name: [] for name in infos}
    for i, elem in enumerate(instances):
        if not isinstance(elem, dict) or _is_b64_object(elem):
            raise status.invalid_argument(
                f"Expecting element {i} of '{INSTANCES_KEY}' to be an object "
                f"keyed by input name like element 0. Found: {_short(elem)}")
        for key, value in elem.items():
            if key not in per_input:
                raise status.invalid_argument(
                    f"Input '{key}' in element {i} of '{INSTANCES_KEY}' is "
                    f"not an input of the signature; expected inputs: "
                    f"{_expected_names(infos)}")
            per_input[key].append(value)
        if len(elem) != len(infos):
            missing = sorted(set(infos) - set(elem))
            raise status.invalid_argument(
                f"Element {i} of '{INSTANCES_KEY}' is missing input(s): "
                f"{', '.join(missing)} (expected inputs: {_expected_names(infos)})")
    return {name: _stack(values, infos[name], name)
            for name, values in per_input.items()}


def _stack(values: list, dtype_enum: int, name: str) -> np.ndarray:
    arr = value_to_array(values, dtype_enum, name)
    if arr.ndim == 0 or arr.shape[0] != len(values):
        raise status.invalid_argument(
            f"Input '{name}': the instances do not all have the same shape")
    return arr


def _parse_inputs(inputs, infos) -> dict:
    if isinstance(inputs, dict) and not _is_b64_object(inputs):
        result = {}
        for key, value in inputs.items():
            if key not in infos:
                raise status.invalid_argument(
                    f"Input '{key}' in '{INPUTS_KEY}' is not an input of the "
                    f"signature; expected inputs: {_expected_names(infos)}")
            result[key] = value_to_array(value, infos[key], key)
        missing = sorted(set(infos) - set(result))
        if missing:
            raise status.invalid_argument(
                f"'{INPUTS_KEY}' is missing input(s): {', '.join(missing)} "
                f"(expected inputs: {_expected_names(infos)})")
        return result
    if len(infos) != 1:
        raise status.invalid_argument(
            f"Expecting '{INPUTS_KEY}' to be an object keyed by input name, as "
            f"the signature has {len(infos)} inputs: {_expected_names(infos)}")
    (name, dtype_enum), = infos.items()
    return {name: value_to_array(inputs, dtype_enum, name)}


# ---------------------------------------------------------------- outputs

def _float_list(arr: np.ndarray):
    """Floats as their shortest round-trip text, so 0.1f prints as 0.1."""
    if arr.dtype == np.float64:
        return arr.tolist()
    return arr.astype(str).astype(np.float64).tolist()


def array_to_json_value(arr: np.ndarray, name: str):
    """ndarray -> nested Python lists / scalars ready for json.dumps."""
    kind = arr.dtype.kind
    if kind == "f":
        return _float_list(arr)
    if kind in "iub":
        return arr.tolist()
    if kind in "OSU":
        as_b64 = name.endswith(BYTES_SUFFIX)
        def conv(v):
            if isinstance(v, str):
                v = v.encode("utf-8")
            if not as_b64:
                try:
                    return v.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            return {B64_KEY: base64.b64encode(v).decode("ascii")}
        return _map_nested(arr.tolist(), conv)
    if kind == "c":
        raise status.invalid_argument(
            f"Output '{name}': complex tensors are not supported by the JSON/REST API")
    return arr.tolist()


def _map_nested(value, fn):
    if isinstance(value, list):
        return [_map_nested(v, fn) for v in value]
    return fn(value)


# json.dumps with arguments builds an encoder per call; one shared encoder
# (it keeps no per-call state) spares that on every response.
_ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"))


def dumps(obj) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def make_predict_response(outputs: Mapping[str, np.ndarray],
                          fmt: JsonPredictRequestFormat) -> bytes:
    if fmt is JsonPredictRequestFormat.COLUMNAR:
        if len(outputs) == 1:
            (name, arr), = outputs.items()
            return dumps({OUTPUTS_KEY: array_to_json_value(arr, name)})
        return dumps({OUTPUTS_KEY: {name: array_to_json_value(arr, name)
                                    for name, arr in outputs.items()}})
    batch = None
    for name, arr in outputs.items():
        if arr.ndim == 0:
            raise status.invalid_argument(
                f"Tensor name: {name} has no shape information; row format "
                f"needs a batch dimension (use the columnar 'inputs' format)")
        if batch is None:
            batch = arr.shape[0]
        elif arr.shape[0] != batch:
            raise status.invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: "
                f"{arr.shape[0]} expecting: {batch}")
    if len(outputs) == 1:
        (name, arr), = outputs.items()
        return dumps({PREDICTIONS_KEY: array_to_json_value(arr, name)})
    columns = {name: array_to_json_value(arr, name)
               for name, arr in outputs.items()}
    rows = [{name: col[i] for name, col in columns.items()}
            for i in range(batch or 0)]
    return dumps({PREDICTIONS_KEY: rows})


# ------------------------------------------------------- classify / regress

def _fill_feature(feature: feature_pb2.Feature, name: str, value) -> None:
    values = value if isinstance(value, list) else [value]
    if not values:
        return
    if all(isinstance(v, str) or _is_b64_object(v) for v in values):
        feature.bytes_list.value.extend(
            v.encode("utf-8") if isinstance(v, str) else _decode_b64(v)
            for v in values)
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        feature.int64_list.value.extend(values)
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool)
             for v in values):
        feature.float_list.value.extend(float(v) for v in values)
    else:
        raise status.invalid_argument(
            f"Feature '{name}': expecting a number, string, {{\"b64\": ...}} or "
            f"a flat list of one of those kinds. Found: {_short(value)}")


def _json_to_example(obj, where: str) -> example_pb2.Example:
    if not isinstance(obj, dict):
        raise status.invalid_argument(
            f"Expecting {where} to be an object of feature name to value. "
            f"Found: {_short(obj)}")
    example = example_pb2.Example()
    for name, value in obj.items():
        _fill_feature(example.features.feature[name], name, value)
    return example


def fill_input_from_json(body, request) -> None:
    """Fills a Classification/RegressionRequest's input and signature_name."""
    doc = parse_json(body)
    if not isinstance(doc, dict):
        raise status.invalid_argument(
            f"JSON Value: {_short(doc)} Is not an object (expecting an object "
            f"with an '{EXAMPLES_KEY}' key)")
    signature_name = doc.get(SIGNATURE_NAME_KEY, "")
    if not isinstance(signature_name, str):
        raise status.invalid_argument(
            f"'{SIGNATURE_NAME_KEY}' key must be a string value.")
    request.model_spec.signature_name = signature_name
    examples = doc.get(EXAMPLES_KEY)
    if examples is None:
        raise status.invalid_argument(f"Missing '{EXAMPLES_KEY}' key")
    if not isinstance(examples, list):
        raise status.invalid_argument(
            f"Expecting '{EXAMPLES_KEY}' value to be a list/array of objects")
    parsed = [_json_to_example(e, f"element {i} of '{EXAMPLES_KEY}'")
              for i, e in enumerate(examples)]
    if CONTEXT_KEY in doc:
        ctx = request.input.example_list_with_context
        ctx.context.CopyFrom(_json_to_example(doc[CONTEXT_KEY], f"'{CONTEXT_KEY}'"))
        ctx.examples.extend(parsed)
    else:
        request.input.example_list.examples.extend(parsed)


def _float_value(v: float) -> float:
    return float(str(np.float32(v)))


def make_classification_response(result) -> bytes:
    rows = [[[c.label, _float_value(c.score)] for c in cl.classes]
            for cl in result.classifications]
    return dumps({RESULTS_KEY: rows})


def make_regression_response(result) -> bytes:
    return dumps({RESULTS_KEY: [_float_value(r.value) for r in result.regressions]})


def error_json(message: str) -> bytes:
    return dumps({"error": message})


__all__ = [
    "JsonPredictRequestFormat", "parse_predict_request", "make_predict_response",
    "fill_input_from_json", "make_classification_response",
    "make_regression_response", "error_json", "value_to_array",
    "array_to_json_value", "numpy_dtype", "parse_json",
]

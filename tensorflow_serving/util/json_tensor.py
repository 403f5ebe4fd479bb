"""JSON <-> tensors for the REST API, as upstream's util/json_tensor.cc.

Requests come in two layouts: row ("instances": one entry per example) and
columnar ("inputs": one value per named input). Each JSON value becomes a
tensor of the dtype the signature's TensorInfo declares, with upstream's
rules (a float input takes any number, an int32 input only integers that fit,
strings take text or {"b64": ...}) and upstream's error texts; shapes come
from the JSON nesting and are not compared with the signature, TensorFlow
decides when the model runs.

Responses mirror the request: "predictions" for rows, "outputs" for columns,
written with RapidJSON's layout and upstream's number formatting; string
outputs whose alias ends in "_bytes" go out as {"b64": ...}.

Everything raises ServingError: INVALID_ARGUMENT for bad input, UNIMPLEMENTED
for a dtype JSON cannot carry, as upstream.
"""

import base64
import binascii
import enum
import re

import numpy as np
from tensorflow_serving.util import dtypes
from tensorflow_serving.util.dtypes import DataType
from tensorflow_serving.util import json_text
from tensorflow_serving.util import status

INSTANCES_KEY = "instances"
INPUTS_KEY = "inputs"
SIGNATURE_NAME_KEY = "signature_name"
PREDICTIONS_KEY = "predictions"
OUTPUTS_KEY = "outputs"
EXAMPLES_KEY = "examples"
CONTEXT_KEY = "context"
RESULTS_KEY = "results"
ERROR_KEY = "error"
B64_KEY = "b64"
BYTES_SUFFIX = "_bytes"

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MAX = 2**63 - 1
_UINT32_MAX = 2**32 - 1


class JsonPredictRequestFormat(enum.Enum):
    ROW = "row"
    COLUMNAR = "columnar"


def _format_error(value, *parts) -> status.ServingError:
    return status.invalid_argument(
        "JSON Value: " + json_text.debug_string(value) + " " + "".join(parts))


def _type_error(value, dtype: int) -> status.ServingError:
    return status.invalid_argument(
        f"JSON Value: {json_text.debug_string(value)} Type: "
        f"{json_text.type_string(value)} is not of expected type: {dtypes.dtype_string(dtype)}")


def _status_string(error: status.ServingError) -> str:
    """absl::Status::ToString(): 'INVALID_ARGUMENT: message'."""
    return f"{error.code.name}: {error.message}"


def parse_json_object(body: bytes) -> dict:
    """Upstream's ParseJson: the body's root value, which must be an object.

    Raises:
      ServingError: INVALID_ARGUMENT with upstream's message for bad JSON or a
        root that is not an object.
    """
    doc = json_text.parse(body)
    if not isinstance(doc, dict):
        raise _format_error(doc, "Is not object")
    return doc


def _signature_name(doc: dict) -> str:
    name = doc.get(SIGNATURE_NAME_KEY, "")
    if not isinstance(name, str):
        raise status.invalid_argument(
            f"JSON Value: {json_text.debug_string(doc)} not formatted correctly. "
            f"'{SIGNATURE_NAME_KEY}' key must be a string value.")
    return name


# ------------------------------------------------------------ base64

_B64_DATA = re.compile(rb"[A-Za-z0-9+/]*")
_B64_SPACE = b" \t\n\v\f\r"


def b64_decode(text: bytes) -> bytes | None:
    """absl::Base64Unescape: standard alphabet, whitespace ignored, padding
    '=' or '.' either absent or exact; None if the text is not base64."""
    text = text.translate(None, _B64_SPACE)
    end = len(text)
    for pad in (b"=", b"."):
        i = text.find(pad)
        if i >= 0:
            end = min(end, i)
    data, pads = text[:end], text[end:]
    if pads.translate(None, b"=.") or not _B64_DATA.fullmatch(data):
        return None
    remainder = len(data) % 4
    if remainder == 1:
        return None
    expected = (0, None, 2, 1)[remainder]
    if pads and len(pads) != expected:
        return None
    try:
        return base64.b64decode(data + b"=" * expected, validate=True)
    except binascii.Error:
        return None


def _is_b64_object(value) -> bool:
    return (isinstance(value, dict) and len(value) == 1
            and isinstance(value.get(B64_KEY), str))


def _decode_b64_object(value) -> bytes:
    if not _is_b64_object(value):
        raise status.invalid_argument(
            f"JSON Value: {json_text.debug_string(value)} not formatted correctly "
            "for base64 data")
    decoded = b64_decode(json_text.to_bytes(value[B64_KEY]))
    if decoded is None:
        raise status.invalid_argument("Unable to base64 decode")
    return decoded


# ------------------------------------------------- JSON value -> tensor

def _dense_shape(value) -> list[int]:
    """Upstream's GetDenseTensorShape: list lengths along the first elements."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _leaf(value, dtype: int):
    """Upstream's AddValueToTensor for one scalar JSON value."""
    if isinstance(value, dict):
        if dtype == DataType.DT_STRING:
            return _decode_b64_object(value)
        raise _type_error(value, dtype)
    if dtype in (DataType.DT_FLOAT, DataType.DT_DOUBLE):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif dtype in (DataType.DT_INT32, DataType.DT_INT16, DataType.DT_INT8,
                   DataType.DT_UINT8):
        ok = type(value) is int and _INT32_MIN <= value <= _INT32_MAX
    elif dtype == DataType.DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return json_text.to_bytes(value)
    elif dtype == DataType.DT_INT64:
        ok = type(value) is int and json_text.INT64_MIN <= value <= _INT64_MAX
    elif dtype == DataType.DT_BOOL:
        ok = isinstance(value, bool)
    elif dtype == DataType.DT_UINT32:
        ok = type(value) is int and 0 <= value <= _UINT32_MAX
    elif dtype == DataType.DT_UINT64:
        ok = type(value) is int and 0 <= value <= json_text.UINT64_MAX
    else:
        raise status.unimplemented(
            f"Conversion of JSON Value: {json_text.debug_string(value)} to type: "
            f"{dtypes.dtype_string(dtype)}")
    if not ok:
        raise _type_error(value, dtype)
    return value


def _fill(value, dtype: int, shape: list[int]) -> list:
    """Upstream's FillTensorProto: the leaves in order, checking the nesting."""
    rank = len(shape)
    leaves = []
    # Iterative, so any nesting depth a body can hold is fine.
    stack = [(iter((value,)), -1)]
    while stack:
        items, level = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
            continue
        level += 1
        if not isinstance(item, list):
            if level != rank:
                raise status.invalid_argument(
                    f"JSON Value: {json_text.debug_string(item)} found at incorrect "
                    f"level: {level + 1} in the JSON DOM. Expected at level: {rank}")
            leaves.append(_leaf(item, dtype))
            continue
        if level >= rank:
            raise status.invalid_argument(
                f"Encountered list at unexpected level: {level} expected < {rank}")
        if len(item) != shape[level]:
            raise status.invalid_argument(
                f"Encountered list at unexpected size: {len(item)} at level: {level} "
                f"expected size: {shape[level]}")
        stack.append((iter(item), level))
    return leaves


_END = object()
_MAX_RANK = 64  # numpy's limit on dimensions


class _Unbuildable:
    """Stands in for a tensor too deep to build: Predict refuses it.

    It reads as a TensorProto of DT_INVALID, which never decodes.
    """

    dtype = DataType.DT_INVALID
    tensor_content = b""

    def __repr__(self):
        return "UNBUILDABLE"


UNBUILDABLE = _Unbuildable()

# The dtypes JSON numbers and booleans can carry.
_NUMPY = {dt: dtypes.numpy_dtype(dt) for dt in (
    DataType.DT_FLOAT, DataType.DT_DOUBLE, DataType.DT_INT32, DataType.DT_INT16,
    DataType.DT_INT8, DataType.DT_UINT8, DataType.DT_INT64, DataType.DT_BOOL,
    DataType.DT_UINT32, DataType.DT_UINT64)}


def _leaves_to_array(leaves: list, dtype: int, shape) -> np.ndarray:
    if dtype == DataType.DT_STRING:
        out = np.empty(len(leaves), dtype=object)
        out[:] = leaves
        return out.reshape(shape)
    np_dtype = _NUMPY[dtype]
    if dtype in (DataType.DT_FLOAT, DataType.DT_DOUBLE):
        # Integers become doubles first, as RapidJSON's GetFloat does.
        return np.array(leaves, dtype=np.float64).astype(np_dtype).reshape(shape)
    if dtype in (DataType.DT_INT16, DataType.DT_INT8, DataType.DT_UINT8):
        # int_val carries int32s; TensorFlow narrows them as a C++ cast does.
        return np.array(leaves, dtype=np.int32).astype(np_dtype).reshape(shape)
    return np.array(leaves, dtype=np_dtype).reshape(shape)


def _fast_array(value, dtype: int, shape, plain_numbers: bool):
    """The array numpy builds from plain numeric JSON, when it is what upstream
    would build; None where the careful path must decide."""
    if not plain_numbers or dtype not in _NUMPY or dtype == DataType.DT_BOOL:
        return None
    try:
        raw = np.array(value)
    except (ValueError, OverflowError):
        return None
    if list(raw.shape) != shape:
        return None
    kind = raw.dtype.kind
    if dtype in (DataType.DT_FLOAT, DataType.DT_DOUBLE):
        if kind not in "fiu":
            return None
        return raw.astype(np.float64, copy=False).astype(_NUMPY[dtype])
    if kind not in "iu":
        return None
    if raw.size:
        low, high = int(raw.min()), int(raw.max())
        limits = {DataType.DT_INT64: (json_text.INT64_MIN, _INT64_MAX),
                  DataType.DT_UINT32: (0, _UINT32_MAX),
                  DataType.DT_UINT64: (0, json_text.UINT64_MAX)}
        lo, hi = limits.get(dtype, (_INT32_MIN, _INT32_MAX))
        if low < lo or high > hi:
            return None
    if dtype in (DataType.DT_INT16, DataType.DT_INT8, DataType.DT_UINT8):
        return raw.astype(np.int32).astype(_NUMPY[dtype])
    return raw.astype(_NUMPY[dtype])


def value_to_array(value, dtype: int, plain_numbers: bool = False):
    """One JSON value -> (tensor of `dtype`, its shape, its number of values).

    The tensor is UNBUILDABLE when it is deeper than numpy can hold: Predict
    then refuses it where upstream's refuses tensors it cannot build
    ("tensor parsing error: <alias>").
    """
    shape = _dense_shape(value)
    array = _fast_array(value, dtype, shape, plain_numbers)
    if array is not None:
        return array, shape, array.size
    leaves = _fill(value, dtype, shape)
    if len(shape) > _MAX_RANK:
        return UNBUILDABLE, shape, len(leaves)
    return _leaves_to_array(leaves, dtype, shape), shape, len(leaves)


def _plain_numbers(body: bytes) -> bool:
    # numpy reads true/false as numbers; bodies with them take the careful path.
    return b"true" not in body and b"false" not in body


# ------------------------------------------------------- predict request

def parse_predict_request(body: bytes, input_dtypes):
    """Upstream's FillPredictRequestFromJson.

    `input_dtypes(signature_name)` returns {alias: DataType} of the named
    signature's inputs (it may raise, e.g. for an unknown signature).
    Returns (signature_name, {alias: tensor}, JsonPredictRequestFormat); a
    tensor is an ndarray, or UNBUILDABLE (see value_to_array).
    """
    doc = parse_json_object(body)
    signature_name = _signature_name(doc)
    infos = input_dtypes(signature_name)
    if not infos:
        raise status.invalid_argument(
            f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
    plain = _plain_numbers(body)
    if INSTANCES_KEY in doc:
        if INPUTS_KEY in doc:
            raise _format_error(
                doc, f"Not formatted correctly expecting only one of '{INPUTS_KEY}' "
                f"or '{INSTANCES_KEY}' keys to exist ")
        instances = doc[INSTANCES_KEY]
        if not isinstance(instances, list):
            raise _format_error(doc, f"Expecting '{INSTANCES_KEY}' to be an list/array")
        if not instances:
            raise _format_error(doc, f"No values in '{INSTANCES_KEY}' array")
        return (signature_name, _from_instances(instances, infos, plain),
                JsonPredictRequestFormat.ROW)
    if INPUTS_KEY in doc:
        return (signature_name, _from_inputs(doc[INPUTS_KEY], infos, plain),
                JsonPredictRequestFormat.COLUMNAR)
    raise status.invalid_argument("Missing 'inputs' or 'instances' key")


def _is_element_object(value) -> bool:
    return isinstance(value, dict) and not _is_b64_object(value)


class _Instances:
    """Per input: the instances' values, checked to agree in size and shape."""

    def __init__(self, infos, plain: bool):
        self.infos = infos
        self.plain = plain
        self.arrays = {}
        self.sizes = {}
        self.shapes = {}

    def add(self, value, name: str) -> None:
        """Upstream's AddInstanceItem."""
        if name not in self.infos:
            raise status.invalid_argument(
                f"JSON object: does not have named input: {name}")
        array, shape, size = value_to_array(value, self.infos[name], self.plain)
        if name not in self.sizes:
            self.sizes[name] = size
            self.shapes[name] = shape
            self.arrays[name] = []
        elif self.sizes[name] != size:
            raise status.invalid_argument(
                f"Expecting tensor size: {self.sizes[name]} but got: {size}")
        elif self.shapes[name] != shape:
            raise status.invalid_argument(
                f"Expecting shape {_shape_string(self.shapes[name])} but got: "
                f"{_shape_string(shape)}")
        self.arrays[name].append(array)

    def stacked(self) -> dict:
        return {name: UNBUILDABLE if any(a is UNBUILDABLE for a in arrays)
                else np.stack(arrays) for name, arrays in self.arrays.items()}


def _shape_string(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _from_instances(instances: list, infos, plain: bool) -> dict:
    """Upstream's FillTensorMapFromInstancesList."""
    first = instances[0]
    if not isinstance(first, dict) and len(infos) > 1:
        raise status.invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple "
            "input tensors required as per tensorinfo_map")
    if not _is_element_object(first):
        name = min(infos)
        # Fast path: numpy reads the whole list in one go.
        array = _fast_array(instances, infos[name], _dense_shape(instances), plain)
        if array is not None:
            return {name: array}
    collected = _Instances(infos, plain)
    input_names = set(infos)
    for i, elem in enumerate(instances):
        if _is_element_object(first):
            if not _is_element_object(elem):
                raise status.invalid_argument(
                    f"Expecting object but got list at item {i} of input list")
            for name, value in elem.items():
                try:
                    collected.add(value, name)
                except status.ServingError as e:
                    raise status.invalid_argument(
                        f"Failed to process element: {i} key: {name} of "
                        f"'{INSTANCES_KEY}' list. Error: {_status_string(e)}") from None
            if set(elem) != input_names:
                raise status.invalid_argument(
                    f"Failed to process element: {i} of '{INSTANCES_KEY}' list. "
                    f"JSON object: {json_text.debug_string(elem)} keys must be equal "
                    f"to: {','.join(sorted(input_names))}")
        else:
            if _is_element_object(elem):
                raise status.invalid_argument(
                    f"Expecting value/list but got object at item {i} of input list")
            try:
                collected.add(elem, min(infos))
            except status.ServingError as e:
                raise status.invalid_argument(
                    f"Failed to process element: {i} of '{INSTANCES_KEY}' list. "
                    f"Error: {_status_string(e)}") from None
    return collected.stacked()


def _from_inputs(value, infos, plain: bool) -> dict:
    """Upstream's FillTensorMapFromInputsMap (keys the signature lacks are ignored)."""
    if not isinstance(value, dict) or _is_b64_object(value):
        if len(infos) > 1:
            raise status.invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple "
                "input tensors required as per tensorinfo_map")
        name = min(infos)
        return {name: value_to_array(value, infos[name], plain)[0]}
    tensors = {}
    for name in sorted(infos):
        if name not in value:
            raise status.invalid_argument(
                f"Missing named input: {name} in '{INPUTS_KEY}' object.")
        tensors[name] = value_to_array(value[name], infos[name], plain)[0]
    return tensors


# ------------------------------------------------------ predict response

def _value_writer(array: np.ndarray, name: str):
    """A function writing one element of `array` (upstream's AddSingleValueAndAdvance)."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "f" and size in (4, 8):
        is_double = size == 8
        return lambda w, v: w.raw(json_text.decimal(v, is_double))
    if kind == "b":
        return lambda w, v: w.raw("true" if v else "false")
    if (kind == "i" and size in (1, 2, 4, 8)) or (kind == "u" and size in (1, 4, 8)):
        return lambda w, v: w.raw(str(v))
    if kind in "OSU":
        if name.endswith(BYTES_SUFFIX):
            def write_b64(w, v):
                w.start_object()
                w.key(B64_KEY)
                w.string(base64.b64encode(_as_bytes(v)).decode("ascii"))
                w.end_object()
            return write_b64
        return lambda w, v: w.string(_as_bytes(v).decode("utf-8", "surrogateescape"))
    return None


def _as_bytes(value) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _write_values(writer, array: np.ndarray, name: str, first_dim: int) -> None:
    """Upstream's AddTensorValues for every element of `array` below `first_dim`."""
    if array.size == 0:
        values, write = [], None
    else:
        write = _value_writer(array, name)
        if write is None:
            raise status.invalid_argument(
                "Failed to write JSON value for tensor type: "
                f"{_dtype_name(array.dtype)}")
        values = array.ravel().tolist()
    shape = array.shape[first_dim:]
    position = [0]

    def write_dim(dim: int) -> None:
        if dim == len(shape):
            write(writer, values[position[0]])
            position[0] += 1
            return
        writer.start_array()
        for _ in range(shape[dim]):
            write_dim(dim + 1)
        writer.end_array()

    if first_dim:
        # Row format: the rows of the batch, one after the other.
        for _ in range(array.shape[0] if array.ndim else 0):
            write_dim(0)
    else:
        write_dim(0)


def _dtype_name(np_dtype: np.dtype) -> str:
    """TensorFlow's name of a numpy dtype ('half' for float16)."""
    dt = dtypes.numpy_to_dtype(np_dtype)
    return np_dtype.name if dt is None else dtypes.dtype_string(dt)


def _tokens(array: np.ndarray) -> list[str] | None:
    """Every element's JSON text at once, for plain numeric arrays; else None."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    flat = array.ravel()
    if kind == "f" and size in (4, 8):
        values = flat.tolist()
        texts = ["%g" % v for v in values]
        # Six digits where they read back as the same value, else all of them.
        finite = np.isfinite(flat)
        back = np.array([t if f else "0" for t, f in zip(texts, finite.tolist())],
                        dtype=np.float64)
        if size == 4:
            back = back.astype(np.float32)
        exact = (back == flat) | ~finite
        full = "%.17g" if size == 8 else "%.9g"
        for i in np.flatnonzero(~exact).tolist():
            texts[i] = full % values[i]
        out = []
        for text, value, fin in zip(texts, values, finite.tolist()):
            if not fin:
                out.append(json_text.decimal(value, size == 8))
            elif "." in text or "e" in text:
                out.append(text)
            else:
                out.append(text + ".0")
        return out
    if kind == "b":
        return np.where(flat, "true", "false").tolist()
    if (kind == "i" and size in (1, 2, 4, 8)) or (kind == "u" and size in (1, 4, 8)):
        return [str(v) for v in flat.tolist()]
    return None


def _single_line(tokens: list[str], dims) -> list[str]:
    """Nested arrays on one line each ("[[1, 2], [3, 4]]"), one per outer element."""
    for d in reversed(dims):
        tokens = ["[" + ", ".join(tokens[i:i + d]) + "]" for i in range(0, len(tokens), d)]
    return tokens


def _multi_line(tokens: list[str], dims, depth: int) -> list[str]:
    """Nested arrays with one element per line, the outermost at `depth` levels."""
    level = depth + len(dims) - 1
    for d in reversed(dims):
        pad = "\n" + "    " * level
        close = "\n" + "    " * (level - 1) + "]"
        tokens = ["[" + ",".join(pad + t for t in tokens[i:i + d]) + close
                  for i in range(0, len(tokens), d)]
        level -= 1
    return tokens


def _fast_response(outputs: dict, fmt: JsonPredictRequestFormat) -> bytes | None:
    """The common case at C speed: one numeric output with no empty dimension."""
    if len(outputs) != 1:
        return None
    (name, array), = outputs.items()
    array = np.asarray(array)
    if 0 in array.shape:
        return None
    tokens = _tokens(array)
    if tokens is None:
        return None
    if fmt is JsonPredictRequestFormat.COLUMNAR:
        (value,) = _multi_line(tokens, array.shape, 2)
        return _encode('{\n    "' + OUTPUTS_KEY + '": ' + value + "\n}")
    if array.ndim == 0:
        return None  # the generic writer reports it
    rows = _single_line(tokens, array.shape[1:])
    return _encode('{\n    "' + PREDICTIONS_KEY + '": [' + ", ".join(rows)
                   + "\n    ]\n}")


def make_predict_response(outputs: dict, fmt: JsonPredictRequestFormat) -> bytes:
    """Upstream's MakeJsonFromTensors (outputs in alias order).

    Raises:
      ServingError: INVALID_ARGUMENT with upstream's message for no outputs
        or outputs JSON cannot carry as asked.
    """
    if not outputs:
        raise status.invalid_argument("Cannot convert empty tensor map to JSON")
    fast = _fast_response(outputs, fmt)
    if fast is not None:
        return fast
    outputs = dict(sorted(outputs.items()))
    writer = json_text.PrettyWriter()
    writer.start_object()
    many = len(outputs) > 1
    if fmt is JsonPredictRequestFormat.COLUMNAR:
        writer.key(OUTPUTS_KEY)
        if many:
            writer.start_object()
        for name, array in outputs.items():
            if many:
                writer.key(name)
            _write_values(writer, np.asarray(array), name, 0)
        if many:
            writer.end_object()
    else:
        batch = -1
        for name, array in outputs.items():
            if np.ndim(array) == 0:
                raise status.invalid_argument(
                    f"Tensor name: {name} has no shape information ")
            size = np.shape(array)[0]
            if batch >= 0 and batch != size:
                raise status.invalid_argument(
                    f"Tensor name: {name} has inconsistent batch size: {size} "
                    f"expecting: {batch}")
            batch = size
        writer.key(PREDICTIONS_KEY)
        writer.start_array()
        rows = {name: np.asarray(array) for name, array in outputs.items()}
        for item in range(batch):
            if many:
                writer.start_object()
            writer.single_line_arrays = True
            for name, array in rows.items():
                if many:
                    writer.key(name)
                _write_values(writer, array[item:item + 1], name, 1)
            writer.single_line_arrays = False
            if many:
                writer.end_object()
        writer.end_array()
    writer.end_object()
    return _encode(writer.text())


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# ------------------------------------------------- classify / regress

_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64",
               None: "UNKNOWN"}


def _add_value_to_feature(value, name: str, feature) -> None:
    """Upstream's AddValueToFeature."""
    def of_kind(kind):
        current = feature.WhichOneof("kind")
        if current is not None and current != kind:
            raise status.invalid_argument(
                f"Unexpected element type in feature: {name} expecting type: "
                f"{_KIND_NAMES[current]}")

    if value is None or isinstance(value, list) or (
            isinstance(value, dict) and not _is_b64_object(value)):
        raise status.invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: "
            f"{json_text.type_string(value)}")
    if isinstance(value, bool):
        of_kind("int64_list")
        feature.int64_list.value.append(1 if value else 0)
    elif isinstance(value, dict):
        of_kind("bytes_list")
        feature.bytes_list.value.append(_decode_b64_object(value))
    elif isinstance(value, str):
        of_kind("bytes_list")
        feature.bytes_list.value.append(json_text.to_bytes(value))
    elif json_text.is_int(value):
        of_kind("int64_list")
        if value > _INT64_MAX:
            raise status.invalid_argument(
                f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        feature.int64_list.value.append(value)
    else:
        of_kind("float_list")
        feature.float_list.value.append(float(value))


def _example_from_json(value, example) -> None:
    """Upstream's MakeExampleFromJsonObject."""
    if not isinstance(value, dict):
        raise status.invalid_argument(
            f"Example must be JSON object but got JSON {json_text.type_string(value)}")
    features = example.features.feature
    for name, content in value.items():
        feature = features[name]
        feature.Clear()
        for item in content if isinstance(content, list) else (content,):
            _add_value_to_feature(item, name, feature)


def fill_classify_regress_request(body: bytes, request) -> None:
    """Upstream's FillClassificationRequestFromJson / FillRegressionRequestFromJson.

    Raises:
      ServingError: INVALID_ARGUMENT with upstream's message for a body
        without a non-empty "examples" list.
    """
    doc = parse_json_object(body)
    if SIGNATURE_NAME_KEY in doc:
        request.model_spec.signature_name = _signature_name(doc)
    has_context = CONTEXT_KEY in doc
    if has_context:
        _example_from_json(doc[CONTEXT_KEY],
                           request.input.example_list_with_context.context)
    examples = doc.get(EXAMPLES_KEY)
    if EXAMPLES_KEY not in doc:
        raise _format_error(doc, f"When method is classify, key '{EXAMPLES_KEY}' "
                            "is expected and was not found")
    if not isinstance(examples, list):
        raise _format_error(doc, f"Expecting '{EXAMPLES_KEY}' value to be an list/array")
    if not examples:
        raise _format_error(doc, f"'{EXAMPLES_KEY}' value is an empty array")
    target = (request.input.example_list_with_context.examples if has_context
              else request.input.example_list.examples)
    for value in examples:
        _example_from_json(value, target.add())


def make_classification_response(result) -> bytes:
    """Upstream's MakeJsonFromClassificationResult."""
    if not result.classifications:
        raise status.invalid_argument("Cannot convert empty ClassificationResults to JSON")
    writer = json_text.PrettyWriter()
    writer.start_object()
    writer.key(RESULTS_KEY)
    writer.start_array()
    for classifications in result.classifications:
        writer.single_line_arrays = True
        writer.start_array()
        for cl in classifications.classes:
            writer.start_array()
            writer.string(cl.label)
            writer.raw(json_text.decimal(cl.score, False))
            writer.end_array()
        writer.end_array()
        writer.single_line_arrays = False
    writer.end_array()
    writer.end_object()
    return _encode(writer.text())


def make_regression_response(result) -> bytes:
    """Upstream's MakeJsonFromRegressionResult."""
    if not result.regressions:
        raise status.invalid_argument("Cannot convert empty RegressionResults to JSON")
    writer = json_text.PrettyWriter()
    writer.start_object()
    writer.key(RESULTS_KEY)
    writer.single_line_arrays = True
    writer.start_array()
    for regression in result.regressions:
        writer.raw(json_text.decimal(regression.value, False))
    writer.end_array()
    writer.end_object()
    return _encode(writer.text())


def error_json(message: str) -> bytes:
    """Upstream's MakeJsonFromStatus: {"error": message}."""
    writer = json_text.PrettyWriter()
    writer.start_object()
    writer.key(ERROR_KEY)
    writer.string(message)
    writer.end_object()
    return _encode(writer.text())

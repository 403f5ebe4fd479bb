"""TensorProto <-> np.ndarray with TensorFlow's own rules, on every request's hot path.

Decoding follows TensorFlow's Tensor::FromProto, which upstream's Predict uses
for every request input: `tensor_content` wins when present; otherwise the
typed `*_val` field is read, a short list is filled up with its last value, a
long one is cut to the shape, an empty one gives zeros. A proto FromProto
rejects (bad shape, unknown dtype, content of the wrong size) decodes to None;
the caller turns that into upstream's "tensor parsing error". Nothing checks a
tensor against a signature: TensorFlow decides when the model runs.

Encoding follows Tensor::AsProtoField (typed fields, what clients such as
mnist_client read as `outputs['scores'].float_val`) or AsProtoTensorContent.
"""

import numpy as np
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2

from tensorflow_serving.util import dtypes
from tensorflow_serving.util import status

# DataType -> typed value field. Complex values are stored as interleaved
# (real, imag) pairs; half/bfloat16 as their 16-bit patterns in half_val; the
# small integer types in int_val.
_FIELDS = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_HALF: "half_val",
    types_pb2.DT_BFLOAT16: "half_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
    types_pb2.DT_COMPLEX64: "scomplex_val",
    types_pb2.DT_COMPLEX128: "dcomplex_val",
}
# DataType -> (numpy dtype, typed value field).
_DTYPES = {dt: (dtypes.numpy_dtype(dt), field) for dt, field in _FIELDS.items()}
_HALF_BITS = {dtypes.numpy_dtype(types_pb2.DT_HALF),
              dtypes.numpy_dtype(types_pb2.DT_BFLOAT16)}
# A short *_val list fills its tensor's shape (TensorFlow repeats the last
# value): a few bytes can declare gigabytes. Fills beyond this many bytes are
# refused before anything is allocated (--max_tensor_fill_bytes).
DEFAULT_MAX_FILL_BYTES = 64 << 20
_max_fill_bytes = DEFAULT_MAX_FILL_BYTES


class FillTooLarge(Exception):
    """A request tensor whose few values would be filled beyond the limit."""


def set_max_fill_bytes(limit: int) -> None:
    """The largest tensor a short value list may be filled to, in bytes."""
    global _max_fill_bytes  # pylint: disable=global-statement
    _max_fill_bytes = limit


# TensorFlow's TensorShape allows 254 dimensions, numpy 64: tensors deeper
# than numpy can hold cannot be decoded here.
_MAX_DIMS = 64
_INT64_MAX = 2**63 - 1


def shape_debug_string(dims) -> str:
    """TensorShape::DebugString: '[2,3]'."""
    return "[" + ",".join(str(d) for d in dims) + "]"


def _valid_shape(shape) -> tuple[int, ...] | None:
    """Dims of a TensorShapeProto TensorFlow accepts for a Tensor, or None."""
    dims = tuple(d.size for d in shape.dim)
    if len(dims) > _MAX_DIMS:
        return None
    count = 1
    for d in dims:
        if d < 0:
            return None
        count *= d
        if count > _INT64_MAX:
            return None
    return dims


def _decode_string_list(content: bytes, count: int):
    """TensorFlow's DecodeStringList: `count` varint32 lengths, then the bytes."""
    lengths = []
    pos = 0
    size = len(content)
    for _ in range(count):
        value = shift = 0
        while True:
            if pos >= size or shift > 28:
                return None
            byte = content[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        lengths.append(value)
    if pos + sum(lengths) != size:
        return None
    out = np.empty(count, dtype=object)
    for i, n in enumerate(lengths):
        out[i] = content[pos:pos + n]
        pos += n
    return out


# Request shapes repeat (the same batch shapes over and over): serialized
# TensorShapeProto -> (dims, element count), filled once a shape was valid.
# Reading dims through the proto API costs more than the rest of decoding a
# small tensor. Bounded: cleared when full.
_SHAPE_CACHE: dict = {}
# Response shapes: dims tuple -> serialized TensorShapeProto.
_SHAPE_BYTES: dict = {}
_SHAPE_CACHE_MAX = 1024
# Dtypes whose tensor_content is a plain little-endian array.
_CONTENT_DTYPES = {dt: np_dtype for dt, (np_dtype, _) in _DTYPES.items()
                   if np_dtype.kind not in "Ob"}


def _cache_shape(key: bytes, dims, count) -> None:
    if len(_SHAPE_CACHE) >= _SHAPE_CACHE_MAX:
        _SHAPE_CACHE.clear()
    _SHAPE_CACHE[key] = (dims, count)


def _shape_bytes(dims) -> bytes:
    data = _SHAPE_BYTES.get(dims)
    if data is None:
        shape = tensor_pb2.TensorProto().tensor_shape
        for d in dims:
            shape.dim.add().size = d
        data = shape.SerializeToString()
        if len(_SHAPE_BYTES) >= _SHAPE_CACHE_MAX:
            _SHAPE_BYTES.clear()
        _SHAPE_BYTES[dims] = data
    return data


def to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray | None:
    """Decodes a tensor as Tensor::FromProto does; None where FromProto fails.

    Raises FillTooLarge when a short value list would be filled to more than
    set_max_fill_bytes() bytes.
    """
    content = proto.tensor_content
    if content:
        # Fast path: packed numbers of a shape seen before.
        np_dtype = _CONTENT_DTYPES.get(proto.dtype)
        if np_dtype is not None:
            hit = _SHAPE_CACHE.get(proto.tensor_shape.SerializeToString())
            if hit is not None and len(content) == hit[1] * np_dtype.itemsize:
                return np.frombuffer(content, dtype=np_dtype).reshape(hit[0])
    return _to_ndarray(proto)


def _to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray | None:
    entry = _DTYPES.get(proto.dtype)
    if entry is None:
        return None
    np_dtype, field = entry
    shape_key = proto.tensor_shape.SerializeToString()
    hit = _SHAPE_CACHE.get(shape_key)
    if hit is not None:
        shape, count = hit
    else:
        shape = _valid_shape(proto.tensor_shape)
        if shape is None:
            return None
        count = 1
        for d in shape:
            count *= d
        _cache_shape(shape_key, shape, count)
    if count == 0:
        return np.empty(shape, dtype=np_dtype)
    content = proto.tensor_content
    if content:
        return _from_content(content, np_dtype, shape, count)
    values = getattr(proto, field)
    sent = len(values) // 2 if np_dtype.kind == "c" else len(values)
    if count > sent and count * np_dtype.itemsize > _max_fill_bytes:
        raise FillTooLarge(
            f"its {sent} value(s) would fill shape "
            f"{shape_debug_string(shape)} ({count * np_dtype.itemsize} bytes), "
            f"more than --max_tensor_fill_bytes={_max_fill_bytes}")
    return _from_field(values, np_dtype, shape, count)


def _from_content(content: bytes, np_dtype, shape, count):
    if np_dtype.kind == "O":
        flat = _decode_string_list(content, count)
        return None if flat is None else flat.reshape(shape)
    if len(content) != count * np_dtype.itemsize:
        return None
    if np_dtype.kind == "b":
        raw = np.frombuffer(content, dtype=np.uint8)
        if raw.max() > 1:  # TensorFlow refuses bytes other than 0 and 1.
            return None
        return raw.view(np.bool_).reshape(shape)
    return np.frombuffer(content, dtype=np_dtype).reshape(shape)


def _from_field(values, np_dtype, shape, count):
    if np_dtype.kind == "c":
        parts = np.array(values, dtype=np_dtype.type(0).real.dtype)
        n = len(parts) // 2
        flat = (parts[0:2 * n:2] + 1j * parts[1:2 * n:2]).astype(np_dtype)
    elif np_dtype.kind == "O":
        n = len(values)
        flat = np.empty(min(n, count), dtype=object)
        flat[:] = list(values[:count]) if n > count else list(values)
    elif np_dtype in _HALF_BITS:
        flat = np.array(values, dtype=np.int64).astype(np.uint16).view(np_dtype)
        n = len(flat)
    elif np_dtype.kind in "iu" and np_dtype.itemsize < 4:
        # int_val carries int32s; TensorFlow narrows them as a C++ cast does.
        flat = np.array(values, dtype=np.int32).astype(np_dtype)
        n = len(flat)
    else:
        flat = np.array(values, dtype=np_dtype)
        n = len(flat)
    if n == count:
        return flat.reshape(shape)
    if n > count:
        return flat[:count].reshape(shape)
    out = np.empty(count, dtype=np_dtype)
    if n == 0:
        out.fill(b"" if np_dtype.kind == "O" else 0)
    else:
        out[:n] = flat
        out[n:] = flat[n - 1]
    return out.reshape(shape)


def from_ndarray(array, proto: tensor_pb2.TensorProto | None = None, *,
                 use_tensor_content: bool = False) -> tensor_pb2.TensorProto:
    """Encodes an output as Tensor::AsProtoField (or AsProtoTensorContent)."""
    array = np.asarray(array)
    if proto is None:
        proto = tensor_pb2.TensorProto()
    dt = dtypes.numpy_to_dtype(array.dtype)
    if dt is None:
        raise status.internal(f"Cannot encode an output of numpy dtype {array.dtype}")
    proto.dtype = dt
    # The shape is always present, empty for a scalar, as upstream writes it.
    proto.tensor_shape.MergeFromString(_shape_bytes(array.shape))
    proto.tensor_shape.SetInParent()
    if dt == types_pb2.DT_STRING:
        flat = [s.encode() if isinstance(s, str) else bytes(s)
                for s in array.ravel().tolist()]
        if use_tensor_content:
            proto.tensor_content = _encode_string_list(flat)
        else:
            proto.string_val.extend(flat)
        return proto
    if use_tensor_content:
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
        return proto
    field = _DTYPES[dt][1]
    if array.dtype in _HALF_BITS:
        values = array.ravel().view(np.uint16).tolist()
    elif array.dtype.kind == "c":
        flat = array.ravel()
        pairs = np.empty((flat.size, 2), dtype=flat.real.dtype)
        pairs[:, 0] = flat.real
        pairs[:, 1] = flat.imag
        values = pairs.ravel().tolist()
    else:
        values = array.ravel().tolist()
    getattr(proto, field).extend(values)
    return proto


def _encode_string_list(strings: list[bytes]) -> bytes:
    """TensorFlow's EncodeStringList: varint32 lengths, then the bytes."""
    out = bytearray()
    for s in strings:
        n = len(s)
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
    for s in strings:
        out += s
    return bytes(out)

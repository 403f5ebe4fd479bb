"""TensorProto <-> np.ndarray, on every request's hot path.

Requests may carry values either packed in `tensor_content` (what
tf.make_tensor_proto writes) or in the typed repeated fields (what most other
clients write), and a single typed value fills the whole shape as TensorFlow
does. Responses use the typed fields (upstream's Tensor::AsProtoField), which
clients such as mnist_client read (`outputs['scores'].float_val`).
"""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2

from tensorflow_serving.util import status

_BFLOAT16 = np.dtype(tf.bfloat16.as_numpy_dtype)

# DataType -> (numpy dtype, typed value field). Complex values are stored as
# interleaved (real, imag) pairs; half/bfloat16 as their 16-bit patterns.
_DTYPES = {
    types_pb2.DT_FLOAT: (np.dtype(np.float32), "float_val"),
    types_pb2.DT_DOUBLE: (np.dtype(np.float64), "double_val"),
    types_pb2.DT_HALF: (np.dtype(np.float16), "half_val"),
    types_pb2.DT_BFLOAT16: (_BFLOAT16, "half_val"),
    types_pb2.DT_INT8: (np.dtype(np.int8), "int_val"),
    types_pb2.DT_INT16: (np.dtype(np.int16), "int_val"),
    types_pb2.DT_INT32: (np.dtype(np.int32), "int_val"),
    types_pb2.DT_INT64: (np.dtype(np.int64), "int64_val"),
    types_pb2.DT_UINT8: (np.dtype(np.uint8), "int_val"),
    types_pb2.DT_UINT16: (np.dtype(np.uint16), "int_val"),
    types_pb2.DT_UINT32: (np.dtype(np.uint32), "uint32_val"),
    types_pb2.DT_UINT64: (np.dtype(np.uint64), "uint64_val"),
    types_pb2.DT_BOOL: (np.dtype(np.bool_), "bool_val"),
    types_pb2.DT_STRING: (np.dtype(object), "string_val"),
    types_pb2.DT_COMPLEX64: (np.dtype(np.complex64), "scomplex_val"),
    types_pb2.DT_COMPLEX128: (np.dtype(np.complex128), "dcomplex_val"),
}
_NP_TO_DTYPE = {np_dtype: dt for dt, (np_dtype, _) in _DTYPES.items()
                if dt != types_pb2.DT_STRING}
_HALF_BITS = {np.dtype(np.float16), _BFLOAT16}


def dtype_name(dtype: int) -> str:
    """'float' for DT_FLOAT, as TensorFlow's DataTypeString prints it."""
    try:
        return tf.dtypes.as_dtype(dtype).name
    except (TypeError, ValueError):
        return types_pb2.DataType.Name(dtype) if dtype in \
            types_pb2.DataType.values() else str(dtype)


def to_numpy_dtype(dtype: int) -> np.dtype | None:
    """The numpy dtype arrays of DataType `dtype` use (object for strings)."""
    entry = _DTYPES.get(dtype)
    return entry[0] if entry is not None else None


def numpy_to_dtype(np_dtype: np.dtype) -> int | None:
    """The DataType enum of a numpy dtype (bytes/str/object arrays: DT_STRING)."""
    dt = _NP_TO_DTYPE.get(np_dtype)
    if dt is None and np_dtype.kind in "OSU":
        return types_pb2.DT_STRING
    return dt


def _shape(proto: tensor_pb2.TensorProto, name: str) -> tuple[int, ...]:
    shape = proto.tensor_shape
    if shape.unknown_rank:
        raise status.invalid_argument(
            f"tensor {name!r} has unknown rank; requests need a full shape")
    dims = tuple(d.size for d in shape.dim)
    if any(d < 0 for d in dims):
        raise status.invalid_argument(
            f"tensor {name!r} has a negative dimension in shape "
            f"{list(dims)}")
    return dims


def _decode_string_content(content: bytes, count: int, name: str):
    """Strings in tensor_content: `count` varint lengths, then the bytes."""
    lengths = []
    pos = 0
    try:
        for _ in range(count):
            value = shift = 0
            while True:
                byte = content[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            lengths.append(value)
    except IndexError:
        lengths = None
    if lengths is None or pos + sum(lengths) != len(content):
        raise status.invalid_argument(
            f"tensor {name!r}: tensor_content does not hold {count} strings")
    out = np.empty(count, dtype=object)
    for i, n in enumerate(lengths):
        out[i] = content[pos:pos + n]
        pos += n
    return out


# Request shapes repeat (the same batch shapes over and over): serialized
# TensorShapeProto -> (dims, element count), filled once a shape has passed
# _shape()'s checks. Reading dims through the proto API costs more than the
# rest of decoding a small tensor. Bounded: cleared when full.
_SHAPE_CACHE: dict = {}
# Response shapes: dims tuple -> serialized TensorShapeProto.
_SHAPE_BYTES: dict = {}
_SHAPE_CACHE_MAX = 1024
# Dtypes whose tensor_content is a plain little-endian array.
_CONTENT_DTYPES = {dt: np_dtype for dt, (np_dtype, _) in _DTYPES.items()
                   if np_dtype.kind not in "O"}


def _cache_shape(proto, dims, count) -> None:
    if len(_SHAPE_CACHE) >= _SHAPE_CACHE_MAX:
        _SHAPE_CACHE.clear()
    _SHAPE_CACHE[proto.tensor_shape.SerializeToString()] = (dims, count)


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


def to_ndarray(proto: tensor_pb2.TensorProto, name: str = "") -> np.ndarray:
    """Decodes a request tensor; INVALID_ARGUMENT naming `name` if malformed."""
    content = proto.tensor_content
    if content:
        # Fast path: packed numbers of a shape seen before.
        np_dtype = _CONTENT_DTYPES.get(proto.dtype)
        if np_dtype is not None:
            hit = _SHAPE_CACHE.get(proto.tensor_shape.SerializeToString())
            if hit is not None and len(content) == hit[1] * np_dtype.itemsize:
                return np.frombuffer(content, dtype=np_dtype).reshape(hit[0])
    return _to_ndarray(proto, name)


def _to_ndarray(proto: tensor_pb2.TensorProto, name: str) -> np.ndarray:
    entry = _DTYPES.get(proto.dtype)
    if entry is None:
        raise status.invalid_argument(
            f"tensor {name!r} has unsupported dtype {dtype_name(proto.dtype)}")
    np_dtype, field = entry
    shape = _shape(proto, name)
    count = 1
    for d in shape:
        count *= d
    content = proto.tensor_content
    if content:
        if proto.dtype == types_pb2.DT_STRING:
            return _decode_string_content(content, count, name).reshape(shape)
        if len(content) != count * np_dtype.itemsize:
            raise status.invalid_argument(
                f"tensor {name!r}: tensor_content has {len(content)} bytes but "
                f"shape {list(shape)} of {dtype_name(proto.dtype)} needs "
                f"{count * np_dtype.itemsize}")
        _cache_shape(proto, shape, count)
        return np.frombuffer(content, dtype=np_dtype).reshape(shape)

    values = getattr(proto, field)
    n = len(values)
    if np_dtype.kind == "c":
        if n % 2:
            raise status.invalid_argument(
                f"tensor {name!r}: {field} needs (real, imaginary) pairs, "
                f"got an odd count {n}")
        parts = np.array(values, dtype=np_dtype.type(0).real.dtype)
        flat = parts[0::2] + 1j * parts[1::2]
        flat = flat.astype(np_dtype)
        n //= 2
    elif np_dtype.kind == "O":
        flat = np.empty(n, dtype=object)
        flat[:] = list(values)
    elif np_dtype in _HALF_BITS:
        flat = np.array(values, dtype=np.uint16).view(np_dtype)
    else:
        flat = np.array(values, dtype=np_dtype)
    if n == count:
        return flat.reshape(shape)
    if n == 0:  # No values: zeros (empty strings), as TensorFlow does.
        if np_dtype.kind == "O":
            out = np.empty(shape, dtype=object)
            out.fill(b"")
            return out
        return np.zeros(shape, dtype=np_dtype)
    if n == 1:  # One value fills the whole shape, as TensorFlow does.
        if np_dtype.kind == "O":
            out = np.empty(shape, dtype=object)
            out.fill(flat[0])
            return out
        return np.full(shape, flat[0], dtype=np_dtype)
    raise status.invalid_argument(
        f"tensor {name!r}: {field} has {n} values but shape {list(shape)} "
        f"needs {count} (or a single value to fill it)")


def from_ndarray(array, proto: tensor_pb2.TensorProto | None = None, *,
                 use_tensor_content: bool = False,
                 name: str = "") -> tensor_pb2.TensorProto:
    """Encodes a response tensor into `proto` (new if None) with typed fields."""
    array = np.asarray(array)
    if proto is None:
        proto = tensor_pb2.TensorProto()
    dt = numpy_to_dtype(array.dtype)
    if dt is None:
        raise status.invalid_argument(
            f"tensor {name!r} has unsupported numpy dtype {array.dtype}")
    proto.dtype = dt
    if array.ndim:  # a scalar leaves tensor_shape unset, as before
        proto.tensor_shape.MergeFromString(_shape_bytes(array.shape))
    if dt == types_pb2.DT_STRING:
        flat = array.ravel()
        if array.dtype.kind == "U":
            proto.string_val.extend(s.encode() for s in flat.tolist())
        elif array.dtype.kind == "S":
            proto.string_val.extend(flat.tolist())
        else:
            proto.string_val.extend(
                s.encode() if isinstance(s, str) else bytes(s)
                for s in flat.tolist())
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

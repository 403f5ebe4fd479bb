"""TensorFlow's DataType enum, its names and its numpy dtypes, without TensorFlow.

The counterpart of tensorflow/core/framework/types.proto and types.cc
(DataTypeString, DataType_Name). The REST API's JSON worker processes must
start fast and small, so they import numpy and this module, never
TensorFlow; the gRPC path and the REST path share these tables. bfloat16 is
ml_dtypes' (the type TensorFlow's own tf.bfloat16.as_numpy_dtype is).
"""

import ml_dtypes
import numpy as np


class DataType:
    """The values of TensorFlow's DataType enum (types.proto)."""
    DT_INVALID, DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8 = range(7)
    DT_STRING, DT_COMPLEX64, DT_INT64, DT_BOOL = 7, 8, 9, 10
    DT_QINT8, DT_QUINT8, DT_QINT32, DT_BFLOAT16, DT_QINT16, DT_QUINT16 = range(11, 17)
    DT_UINT16, DT_COMPLEX128, DT_HALF = 17, 18, 19
    DT_RESOURCE, DT_VARIANT, DT_UINT32, DT_UINT64 = 20, 21, 22, 23
    DT_FLOAT8_E5M2, DT_FLOAT8_E4M3FN, DT_FLOAT8_E4M3FNUZ = 24, 25, 26
    DT_FLOAT8_E4M3B11FNUZ, DT_FLOAT8_E5M2FNUZ = 27, 28
    DT_INT4, DT_UINT4, DT_INT2, DT_UINT2, DT_FLOAT4_E2M1FN = range(29, 34)


# Each DataType's enum name, e.g. {1: "DT_FLOAT"}; a reference type is its
# base type plus _REF_OFFSET.
_ENUM_NAMES = {value: name for name, value in vars(DataType).items()
               if name.startswith("DT_")}
_REF_OFFSET = 100

# The numpy dtype of every DataType this server carries in tensors.
_NUMPY = {
    DataType.DT_FLOAT: np.dtype(np.float32),
    DataType.DT_DOUBLE: np.dtype(np.float64),
    DataType.DT_HALF: np.dtype(np.float16),
    DataType.DT_BFLOAT16: np.dtype(ml_dtypes.bfloat16),
    DataType.DT_INT8: np.dtype(np.int8),
    DataType.DT_INT16: np.dtype(np.int16),
    DataType.DT_INT32: np.dtype(np.int32),
    DataType.DT_INT64: np.dtype(np.int64),
    DataType.DT_UINT8: np.dtype(np.uint8),
    DataType.DT_UINT16: np.dtype(np.uint16),
    DataType.DT_UINT32: np.dtype(np.uint32),
    DataType.DT_UINT64: np.dtype(np.uint64),
    DataType.DT_BOOL: np.dtype(np.bool_),
    DataType.DT_STRING: np.dtype(object),
    DataType.DT_COMPLEX64: np.dtype(np.complex64),
    DataType.DT_COMPLEX128: np.dtype(np.complex128),
}
_FROM_NUMPY = {np_dtype: dt for dt, np_dtype in _NUMPY.items()
               if dt != DataType.DT_STRING}


def dtype_enum_name(dtype: int) -> str:
    """TensorFlow's DataType_Name: 'DT_FLOAT', 'DT_FLOAT_REF'; else the number."""
    name = _ENUM_NAMES.get(dtype)
    if name is None and dtype > _REF_OFFSET and dtype - _REF_OFFSET in _ENUM_NAMES:
        name = _ENUM_NAMES[dtype - _REF_OFFSET] + "_REF"
    return name if name is not None else str(dtype)


def dtype_string(dtype: int) -> str:
    """TensorFlow's DataTypeString: 'float' for DT_FLOAT, 'int32', 'float_ref'."""
    name = dtype_enum_name(dtype)
    if not name.startswith("DT_"):
        return f"unknown dtype enum ({dtype})"
    if name.endswith("_REF"):
        return name[3:-4].lower() + "_ref"
    return name[3:].lower()


def numpy_dtype(dtype: int) -> np.dtype | None:
    """The numpy dtype of a DataType this server can carry (None if none)."""
    return _NUMPY.get(dtype)


def numpy_to_dtype(np_dtype: np.dtype) -> int | None:
    """The DataType of a numpy dtype (bytes/str/object arrays: DT_STRING)."""
    dt = _FROM_NUMPY.get(np_dtype)
    if dt is None and np_dtype.kind in "OSU":
        return DataType.DT_STRING
    return dt

from absl.testing import absltest
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from tensorflow_serving.util import dtypes


class DtypesTest(absltest.TestCase):

    def test_enum_values_and_names_are_tensorflows(self):
        for name in dir(dtypes.DataType):
            if name.startswith("DT_"):
                self.assertEqual(types_pb2.DataType.Value(name),
                                 getattr(dtypes.DataType, name), name)
        for value in types_pb2.DataType.values():
            name = types_pb2.DataType.Name(value)
            self.assertEqual(dtypes.dtype_enum_name(value), name)
            base = name[3:-4] if name.endswith("_REF") else name[3:]
            suffix = "_ref" if name.endswith("_REF") else ""
            self.assertEqual(dtypes.dtype_string(value), base.lower() + suffix)

    def test_dtype_names_are_tensorflows(self):
        self.assertEqual("float", dtypes.dtype_string(types_pb2.DT_FLOAT))
        self.assertEqual("string", dtypes.dtype_string(types_pb2.DT_STRING))
        self.assertEqual("float_ref", dtypes.dtype_string(types_pb2.DT_FLOAT_REF))
        self.assertEqual("DT_INT32", dtypes.dtype_enum_name(types_pb2.DT_INT32))

    def test_unknown_values(self):
        self.assertEqual("unknown dtype enum (99)", dtypes.dtype_string(99))
        self.assertEqual("99", dtypes.dtype_enum_name(99))
        self.assertIsNone(dtypes.numpy_dtype(types_pb2.DT_RESOURCE))

    def test_numpy_dtypes_are_tensorflows(self):
        for value in types_pb2.DataType.values():
            np_dtype = dtypes.numpy_dtype(value)
            if np_dtype is None or value == types_pb2.DT_STRING:
                continue
            self.assertEqual(np_dtype, np.dtype(tf.as_dtype(value).as_numpy_dtype),
                             types_pb2.DataType.Name(value))
            self.assertEqual(dtypes.numpy_to_dtype(np_dtype), value)
        self.assertEqual(dtypes.numpy_dtype(types_pb2.DT_STRING), np.dtype(object))

    def test_text_and_bytes_arrays_are_strings(self):
        for array in (np.array(["a"]), np.array([b"a"]), np.array([b"a"], object)):
            self.assertEqual(dtypes.numpy_to_dtype(array.dtype), types_pb2.DT_STRING)


if __name__ == "__main__":
    absltest.main()

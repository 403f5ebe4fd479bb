"""Round trips every dtype through both encodings and checks the errors."""

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2

from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.util import status

_CASES = [
    ("float", np.array([[1.5, -2.0, 3.25]], np.float32)),
    ("double", np.array([1e300, -0.5], np.float64)),
    ("half", np.array([[0.5], [65504.0]], np.float16)),
    ("bfloat16", np.array([1.0, -3.5], tf.bfloat16.as_numpy_dtype)),
    ("int8", np.array([-128, 127], np.int8)),
    ("int16", np.array([-32768, 7], np.int16)),
    ("int32", np.array([[-1, 2], [3, 2**31 - 1]], np.int32)),
    ("int64", np.array([-(2**63), 2**62], np.int64)),
    ("uint8", np.array([0, 255], np.uint8)),
    ("uint16", np.array([65535], np.uint16)),
    ("uint32", np.array([2**32 - 1], np.uint32)),
    ("uint64", np.array([2**64 - 1], np.uint64)),
    ("bool", np.array([True, False, True], np.bool_)),
    ("complex64", np.array([1 + 2j, -3.5j], np.complex64)),
    ("complex128", np.array([[1e200 - 1j]], np.complex128)),
    ("string", np.array([[b"a", b""], [b"\xff\x00", b"long" * 40]],
                        dtype=object)),
    ("scalar", np.array(4.0, np.float32)),
    ("empty", np.zeros((0, 3), np.float32)),
]


class TensorUtilTest(parameterized.TestCase):

    def assertSameArray(self, expected, actual):
        self.assertEqual(expected.dtype, actual.dtype)
        self.assertEqual(expected.shape, actual.shape)
        np.testing.assert_array_equal(expected, actual)

    @parameterized.named_parameters(*_CASES)
    def test_typed_fields_round_trip(self, array):
        proto = tensor_util.from_ndarray(array)
        self.assertEqual(b"", proto.tensor_content)
        self.assertSameArray(array, tensor_util.to_ndarray(proto))
        # TensorFlow itself reads our encoding the same way.
        self.assertSameArray(
            array, tf.make_ndarray(proto).astype(array.dtype))

    @parameterized.named_parameters(*_CASES)
    def test_reads_tensorflow_encoding(self, array):
        proto = tf.make_tensor_proto(array)
        self.assertSameArray(array, tensor_util.to_ndarray(proto))

    @parameterized.named_parameters(*[c for c in _CASES if c[0] != "string"])
    def test_tensor_content_round_trip(self, array):
        proto = tensor_util.from_ndarray(array, use_tensor_content=True)
        self.assertSameArray(array, tensor_util.to_ndarray(proto))

    def test_floats_use_float_val_as_clients_read_them(self):
        proto = tensor_util.from_ndarray(np.array([[0.25, 0.75]], np.float32))
        self.assertEqual([0.25, 0.75], list(proto.float_val))
        self.assertEqual([1, 2], [d.size for d in proto.tensor_shape.dim])
        self.assertEqual(types_pb2.DT_FLOAT, proto.dtype)

    def test_unicode_strings_are_utf8(self):
        proto = tensor_util.from_ndarray(np.array(["é"]))
        self.assertEqual(["é".encode()], list(proto.string_val))

    def test_string_tensor_content_decodes(self):
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING)
        proto.tensor_shape.dim.add().size = 2
        proto.tensor_content = b"\x01\x02a" + b"bc"
        self.assertSameArray(np.array([b"a", b"bc"], dtype=object),
                             tensor_util.to_ndarray(proto))

    def test_single_value_fills_shape(self):
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32, int_val=[7])
        proto.tensor_shape.dim.add().size = 2
        proto.tensor_shape.dim.add().size = 3
        self.assertSameArray(np.full((2, 3), 7, np.int32),
                             tensor_util.to_ndarray(proto))

    def test_no_values_gives_zeros(self):
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
        proto.tensor_shape.dim.add().size = 3
        self.assertSameArray(np.zeros(3, np.float32),
                             tensor_util.to_ndarray(proto))

    def _proto(self, dtype, dims, **fields):
        proto = tensor_pb2.TensorProto(dtype=dtype, **fields)
        for d in dims:
            proto.tensor_shape.dim.add().size = d
        return proto

    def test_short_value_list_repeats_its_last_value(self):
        proto = self._proto(types_pb2.DT_FLOAT, [4], float_val=[1, 2])
        self.assertSameArray(np.array([1, 2, 2, 2], np.float32),
                             tensor_util.to_ndarray(proto))

    def test_fill_beyond_the_limit_is_refused_before_allocating(self):
        proto = self._proto(types_pb2.DT_FLOAT, [1, 2**30], float_val=[1])
        with self.assertRaisesRegex(tensor_util.FillTooLarge,
                                    r"fill shape \[1,1073741824\] \(4294967296 bytes\)"):
            tensor_util.to_ndarray(proto)
        # Within the limit, and values actually sent, are what upstream serves.
        proto = self._proto(types_pb2.DT_FLOAT, [1000, 1000], float_val=[7])
        self.assertEqual(7.0, tensor_util.to_ndarray(proto)[999, 999])
        tensor_util.set_max_fill_bytes(16)
        self.addCleanup(tensor_util.set_max_fill_bytes,
                        tensor_util.DEFAULT_MAX_FILL_BYTES)
        proto = self._proto(types_pb2.DT_FLOAT, [8], float_val=list(range(8)))
        self.assertEqual(8, tensor_util.to_ndarray(proto).size)
        with self.assertRaises(tensor_util.FillTooLarge):
            tensor_util.to_ndarray(self._proto(types_pb2.DT_FLOAT, [8], float_val=[1]))

    def test_long_value_list_is_cut_to_the_shape(self):
        proto = self._proto(types_pb2.DT_FLOAT, [3], float_val=[1, 2, 3, 4, 5])
        self.assertSameArray(np.array([1, 2, 3], np.float32),
                             tensor_util.to_ndarray(proto))

    def test_small_ints_wrap_as_tensorflow_narrows_them(self):
        proto = self._proto(types_pb2.DT_INT8, [2], int_val=[300, -200])
        self.assertSameArray(np.array([44, 56], np.int8),
                             tensor_util.to_ndarray(proto))

    def test_tensor_content_wins_over_typed_values(self):
        proto = self._proto(types_pb2.DT_FLOAT, [1], float_val=[5],
                            tensor_content=np.float32(1).tobytes())
        self.assertSameArray(np.array([1], np.float32), tensor_util.to_ndarray(proto))

    def test_unknown_rank_without_dims_is_a_scalar(self):
        proto = self._proto(types_pb2.DT_FLOAT, [], float_val=[3, 4])
        proto.tensor_shape.unknown_rank = True
        self.assertSameArray(np.array(3, np.float32), tensor_util.to_ndarray(proto))

    def test_empty_tensor_ignores_values(self):
        proto = self._proto(types_pb2.DT_FLOAT, [0, 3], float_val=[1, 2])
        self.assertSameArray(np.zeros((0, 3), np.float32),
                             tensor_util.to_ndarray(proto))

    def test_what_tensorflow_decodes_we_decode_the_same(self):
        cases = [
            self._proto(types_pb2.DT_COMPLEX64, [2], scomplex_val=[1, 2, 3]),
            self._proto(types_pb2.DT_HALF, [2], half_val=[0x3C00, 70000]),
            self._proto(types_pb2.DT_STRING, [3], string_val=[b"a"]),
            self._proto(types_pb2.DT_BOOL, [2], bool_val=[True]),
            self._proto(types_pb2.DT_UINT16, [1], int_val=[70000]),
            self._proto(types_pb2.DT_INT64, [2, 2], int64_val=[7]),
        ]
        for proto in cases:
            expected = tf.io.parse_tensor(proto.SerializeToString(),
                                          tf.dtypes.as_dtype(proto.dtype)).numpy()
            actual = tensor_util.to_ndarray(proto)
            self.assertEqual(expected.shape, actual.shape, proto)
            np.testing.assert_array_equal(expected, actual)

    def test_what_tensorflow_refuses_decodes_to_none(self):
        bad = [
            self._proto(types_pb2.DT_FLOAT, [2], tensor_content=b"\0" * 4),
            self._proto(types_pb2.DT_FLOAT, [-1], float_val=[1]),
            self._proto(types_pb2.DT_FLOAT, [2**40, 2**40], float_val=[1]),
            self._proto(types_pb2.DT_INVALID, [1], float_val=[1]),
            self._proto(types_pb2.DT_STRING, [1], tensor_content=b"\x05ab"),
            self._proto(types_pb2.DT_BOOL, [2], tensor_content=b"\x00\x05"),
        ]
        for proto in bad:
            with self.assertRaises(tf.errors.InvalidArgumentError):
                tf.io.parse_tensor(proto.SerializeToString(),
                                   tf.dtypes.as_dtype(proto.dtype or 1))
            self.assertIsNone(tensor_util.to_ndarray(proto), proto)

    def test_cached_shape_still_checks_content_size(self):
        good = tf.make_tensor_proto(np.ones((2, 3), np.float32))
        # Twice: the second decode takes the cached-shape path.
        for _ in range(2):
            self.assertSameArray(np.ones((2, 3), np.float32),
                                 tensor_util.to_ndarray(good))
        bad = tensor_pb2.TensorProto()
        bad.CopyFrom(good)
        bad.tensor_content = good.tensor_content[:-4]
        self.assertIsNone(tensor_util.to_ndarray(bad))
        # Same shape, other dtype: sized by that dtype.
        as_double = tf.make_tensor_proto(np.ones((2, 3), np.float64))
        self.assertSameArray(np.ones((2, 3), np.float64),
                             tensor_util.to_ndarray(as_double))

    def test_unsupported_numpy_dtype_on_output(self):
        with self.assertRaises(status.ServingError):
            tensor_util.from_ndarray(np.array([np.datetime64("2020-01-01")]))

    def test_scalar_output_has_an_empty_shape_as_upstream_writes_it(self):
        proto = tensor_util.from_ndarray(np.array(4.0, np.float32))
        self.assertTrue(proto.HasField("tensor_shape"))
        self.assertEqual([], list(proto.tensor_shape.dim))
        self.assertEqual([4.0], list(proto.float_val))
        proto = tensor_util.from_ndarray(np.zeros((2, 0), np.int64))
        self.assertEqual([2, 0], [d.size for d in proto.tensor_shape.dim])

    def test_string_tensor_content_round_trip(self):
        array = np.array([b"a", b"", b"x" * 300], dtype=object)
        proto = tensor_util.from_ndarray(array, use_tensor_content=True)
        self.assertEqual([], list(proto.string_val))
        self.assertSameArray(array, tensor_util.to_ndarray(proto))
        np.testing.assert_array_equal(
            array, tf.io.parse_tensor(proto.SerializeToString(), tf.string).numpy())


if __name__ == "__main__":
    absltest.main()

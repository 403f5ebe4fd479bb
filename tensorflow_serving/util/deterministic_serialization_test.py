"""Tests deterministic_serialization: C++ protobuf's map order from Python."""

from absl.testing import absltest

from tensorflow.core.example import feature_pb2
from tensorflow.core.framework import function_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.util import deterministic_serialization


def entry_keys(data: bytes, field: int = 1) -> list:
    """The keys of the map entries of `field`, in the order they were written;
    each entry's first field (its key) is a length-delimited string."""
    keys, i = [], 0
    while i < len(data):
        tag = data[i]
        length = data[i + 1]
        entry = data[i + 2:i + 2 + length]
        if tag >> 3 == field:
            keys.append(entry[2:2 + entry[1]].decode())
        i += 2 + length
    return keys


class DeterministicSerializationTest(absltest.TestCase):

    def test_string_keys_in_byte_order_prefix_first(self):
        features = feature_pb2.Features()
        for key in ("b", "ab", "a", "abc", "aa", "", "B", "ba", "é"):
            features.feature[key].int64_list.value.append(len(key))
        data = deterministic_serialization.serialize(features)
        self.assertEqual(entry_keys(data), ["", "B", "a", "aa", "ab", "abc", "b", "ba", "é"])
        # Python's own deterministic order differs (that is why this module is).
        self.assertNotEqual(entry_keys(features.SerializeToString(deterministic=True)),
                            entry_keys(data))
        self.assertEqual(feature_pb2.Features.FromString(data), features)

    def test_without_prefix_keys_the_bytes_are_upbs(self):
        response = predict_pb2.PredictResponse()
        for key in ("y", "scores", "classes"):
            response.outputs[key].float_val.append(1.0)
        response.model_spec.name = "m"
        self.assertEqual(deterministic_serialization.serialize(response),
                         response.SerializeToString(deterministic=True))

    def test_nested_maps_scalar_values_and_integer_keys(self):
        function = function_pb2.FunctionDef()
        for key in ("x", "", "x_1"):
            function.ret[key] = key + "!"
        for key in (7, 0, 2**32 - 1):
            function.arg_attr[key].attr["a"].i = key
            function.resource_arg_unique_id[key] = key // 2
        data = deterministic_serialization.serialize(function)
        self.assertEqual(function_pb2.FunctionDef.FromString(data), function)
        self.assertEqual(entry_keys(data, field=4), ["", "x", "x_1"])
        attr_keys = [entry[1] for entry in _entries(data, field=7)]
        self.assertEqual(attr_keys, [0x00, 0x07, 0xFF])  # first varint byte of 0, 7, 2**32-1
        map_def = get_model_metadata_pb2.SignatureDefMap()
        for name in ("s", "s2"):
            for alias in ("in", "in_2", ""):
                map_def.signature_def[name].inputs[alias].name = f"{name}/{alias}"
        data = deterministic_serialization.serialize(map_def)
        self.assertEqual(entry_keys(data), ["s", "s2"])
        self.assertEqual(get_model_metadata_pb2.SignatureDefMap.FromString(data), map_def)
        for entry in _entries(data, field=1):
            key_length = entry[1]
            signature = entry[2 + key_length + 2:]
            self.assertEqual(entry_keys(signature), ["", "in", "in_2"])

    def test_unknown_fields_are_kept_last(self):
        map_def = get_model_metadata_pb2.SignatureDefMap()
        map_def.signature_def["a"].method_name = "m"
        map_def.signature_def["ab"].method_name = "n"
        unknown = b"\xa8\x06\x07"  # field 101, varint 7
        parsed = get_model_metadata_pb2.SignatureDefMap.FromString(
            map_def.SerializeToString() + unknown)
        data = deterministic_serialization.serialize(parsed)
        self.assertTrue(data.endswith(unknown), data)
        self.assertEqual(entry_keys(data[:-len(unknown)]), ["a", "ab"])


def _entries(data: bytes, field: int) -> list:
    out, i = [], 0
    while i < len(data):
        length = data[i + 1]
        if data[i] >> 3 == field:
            out.append(data[i + 2:i + 2 + length])
        i += 2 + length
    return out


if __name__ == "__main__":
    absltest.main()

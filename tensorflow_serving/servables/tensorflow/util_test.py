"""Input -> serialized examples and response model_spec filling."""

import grpc
import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.apis import input_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.servables.tensorflow import test_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import status


class UtilTest(absltest.TestCase):

    def test_example_list(self):
        inp = input_pb2.Input()
        inp.example_list.examples.add().CopyFrom(test_util.example(x=1.0))
        inp.example_list.examples.add().CopyFrom(test_util.example(x=2.0))
        out = util.input_to_serialized_examples(inp)
        self.assertEqual((2,), out.shape)
        self.assertEqual(test_util.example(x=2.0).SerializeToString(), out[1])

    def test_context_merges_with_example_winning(self):
        inp = input_pb2.Input()
        ctx = inp.example_list_with_context
        ctx.context.CopyFrom(test_util.example(x=1.0, c=9.0))
        ctx.examples.add().CopyFrom(test_util.example(x=5.0))
        (serialized,) = util.input_to_serialized_examples(inp)
        merged = tf.train.Example.FromString(serialized)
        feature = merged.features.feature
        self.assertEqual([5.0], list(feature["x"].float_list.value))
        self.assertEqual([9.0], list(feature["c"].float_list.value))

    def test_empty_input(self):
        for inp in (input_pb2.Input(),
                    input_pb2.Input(example_list=input_pb2.ExampleList())):
            with self.assertRaises(status.ServingError) as cm:
                util.input_to_serialized_examples(inp)
            self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT,
                             cm.exception.code)
            self.assertEqual("Input is empty.", cm.exception.message)

    def test_make_model_spec(self):
        spec = model_pb2.ModelSpec(version_label="stale")
        util.make_model_spec(spec, "m", "", 3)
        self.assertEqual(model_pb2.ModelSpec(name="m",
                                             signature_name="serving_default"),
                         model_pb2.ModelSpec(name=spec.name,
                                             signature_name=spec.signature_name))
        self.assertEqual(3, spec.version.value)
        self.assertEqual("", spec.version_label)
        util.make_model_spec(spec, "m", None, None)
        self.assertFalse(spec.HasField("version"))
        self.assertEqual("", spec.signature_name)

    def test_signature_debug_string_is_cpp_text_format(self):
        v1 = tf.compat.v1
        with tf.Graph().as_default():
            x = v1.placeholder(tf.float32, [None], name="x")
            signature = v1.saved_model.signature_def_utils.build_signature_def(
                inputs={"x": v1.saved_model.utils.build_tensor_info(x)},
                method_name="m\xe9\n")
        default = signature.defaults["x"]
        default.float_val.extend([2.0, 1 / 3, 1e20, 1e-45, float("inf")])
        default.double_val.extend([2.0, 0.1, 1e15])
        default.string_val.append(b"\x00'\"\\\x7f")
        text = util.signature_debug_string(signature)
        # As C++'s DebugString() (upstream's message): shortest round-trip
        # floats without ".0", octal escapes, map entries by key.
        self.assertIn("\n    float_val: 2\n    float_val: 0.333333343\n"
                      "    float_val: 1e+20\n    float_val: 1.40129846e-45\n"
                      "    float_val: inf\n    double_val: 2\n    double_val: 0.1\n"
                      "    double_val: 1e+15\n", text)
        self.assertIn('    string_val: "\\000\\\'\\"\\\\\\177"\n', text)
        self.assertIn('method_name: "m\\303\\251\\n"\n', text)
        self.assertTrue(text.startswith('inputs {\n  key: "x"\n  value {\n    name: "x:0"\n'
                                        "    dtype: DT_FLOAT\n    tensor_shape {\n"
                                        "      dim {\n        size: -1\n      }\n    }\n"
                                        "  }\n}\n"), text)


if __name__ == "__main__":
    absltest.main()

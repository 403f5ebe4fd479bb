"""json_tensor: upstream's JSON <-> tensor rules, error texts and response layout."""

import base64
import json

import grpc
import numpy as np
from absl.testing import absltest
from absl.testing import parameterized

from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.util import json_tensor
from tensorflow_serving.util.status import ServingError

ROW = json_tensor.JsonPredictRequestFormat.ROW
COLUMNAR = json_tensor.JsonPredictRequestFormat.COLUMNAR
FLOAT, INT32, STRING = types_pb2.DT_FLOAT, types_pb2.DT_INT32, types_pb2.DT_STRING


def infos(**kw):
    return lambda signature_name: kw


def parse(body, input_infos):
    if isinstance(body, str):
        body = body.encode()
    return json_tensor.parse_predict_request(body, input_infos)


class ParsePredictRequestTest(parameterized.TestCase):

    def assertError(self, body, input_infos, fragment,
                    code=grpc.StatusCode.INVALID_ARGUMENT):
        with self.assertRaises(ServingError) as cm:
            parse(body, input_infos)
        self.assertEqual(code, cm.exception.code, cm.exception.message)
        self.assertIn(fragment, cm.exception.message)
        return cm.exception.message

    def test_row_single_input(self):
        sig, inputs, fmt = parse(b'{"instances": [[1.0], [2.5]]}', infos(x=FLOAT))
        self.assertEqual("", sig)
        self.assertIs(ROW, fmt)
        self.assertEqual(np.float32, inputs["x"].dtype)
        np.testing.assert_array_equal([[1.0], [2.5]], inputs["x"])

    def test_shape_comes_from_the_json_not_the_signature(self):
        _, inputs, _ = parse('{"instances": [1.0, 2.0, 5.0]}', infos(x=FLOAT))
        self.assertEqual((3,), inputs["x"].shape)

    def test_row_named_inputs_and_signature(self):
        sig, inputs, _ = parse(json.dumps({"signature_name": "s", "instances": [
            {"a": 1, "b": "x"},
            {"a": 2, "b": {"b64": base64.b64encode(b"\xff").decode()}}]}),
            infos(a=types_pb2.DT_INT64, b=STRING))
        self.assertEqual("s", sig)
        np.testing.assert_array_equal([1, 2], inputs["a"])
        self.assertEqual(np.int64, inputs["a"].dtype)
        self.assertEqual([b"x", b"\xff"], list(inputs["b"]))

    def test_columnar_ignores_keys_the_signature_lacks(self):
        _, inputs, fmt = parse('{"inputs": {"a": [[1, 2]], "b": true, "extra": 1}}',
                               infos(a=INT32, b=types_pb2.DT_BOOL))
        self.assertIs(COLUMNAR, fmt)
        self.assertEqual((1, 2), inputs["a"].shape)
        self.assertEqual((), inputs["b"].shape)
        self.assertEqual(["a", "b"], sorted(inputs))

    def test_numbers_by_dtype(self):
        _, inputs, _ = parse('{"inputs": [1.5, 2, 1e300]}', infos(x=types_pb2.DT_DOUBLE))
        np.testing.assert_array_equal([1.5, 2.0, 1e300], inputs["x"])
        # A double too big for a float becomes inf, as upstream's GetFloat does.
        _, inputs, _ = parse('{"inputs": [1.7976931348623157e308]}', infos(x=FLOAT))
        self.assertEqual(np.inf, inputs["x"][0])
        # int_val narrows as a C++ cast: 300 as uint8 is 44.
        _, inputs, _ = parse('{"inputs": [300, -1]}', infos(x=types_pb2.DT_UINT8))
        np.testing.assert_array_equal(np.array([44, 255], np.uint8), inputs["x"])
        _, inputs, _ = parse('{"inputs": [18446744073709551615]}',
                             infos(x=types_pb2.DT_UINT64))
        self.assertEqual(2**64 - 1, int(inputs["x"][0]))

    def test_nan_and_inf_spellings(self):
        _, inputs, _ = parse('{"inputs": [NaN, Inf, -Inf, Infinity, -Infinity]}',
                             infos(x=FLOAT))
        self.assertTrue(np.isnan(inputs["x"][0]))
        np.testing.assert_array_equal([np.inf, -np.inf, np.inf, -np.inf], inputs["x"][1:])

    def test_bools_take_the_careful_path(self):
        self.assertError('{"inputs": [1, true]}', infos(x=INT32),
                         "JSON Value: true Type: True is not of expected type: int32")
        _, inputs, _ = parse('{"inputs": [true, false]}', infos(x=types_pb2.DT_BOOL))
        np.testing.assert_array_equal([True, False], inputs["x"])

    def test_trailing_content_after_the_document_is_ignored(self):
        _, inputs, _ = parse('{"instances": [[1,2],[3,4]]}X', infos(x=INT32))
        np.testing.assert_array_equal([[1, 2], [3, 4]], inputs["x"])

    def test_deeply_nested_unrelated_value_is_fine(self):
        body = '{"instances":[1], "nested":' + "[" * 200000 + "]" * 200000 + "}"
        _, inputs, _ = parse(body, infos(x=INT32))
        np.testing.assert_array_equal([1], inputs["x"])

    def test_deeply_nested_instance_is_left_for_predict_to_refuse(self):
        # Deeper than numpy can hold: a tensor that never decodes, so Predict
        # answers upstream's "tensor parsing error: x".
        body = '{"instances":' + "[" * 100000 + "1" + "]" * 100000 + "}"
        _, inputs, _ = parse(body, infos(x=INT32))
        self.assertIs(json_tensor.UNBUILDABLE, inputs["x"])

    @parameterized.named_parameters(
        ("empty", b"", "JSON Parse error: The document is empty"),
        ("invalid", b"instances = [1, 2]", "JSON Parse error: Invalid value. at offset: 0"),
        ("truncated", b'{"instances": [1, 2', "Missing a comma or ']' after an array element"),
        ("not_object", b"[1]", "JSON Value: [1] Is not object"),
        ("signature", b'{"signature_name": 5, "instances": [1]}',
         "'signature_name' key must be a string value."),
        ("no_key", b'{"foo": 1}', "Missing 'inputs' or 'instances' key"),
        ("both", b'{"inputs": 1, "instances": [1]}',
         "Not formatted correctly expecting only one of 'inputs' or 'instances' keys"),
        ("not_list", b'{"instances": 3}', "Expecting 'instances' to be an list/array"),
        ("empty_list", b'{"instances": []}', "No values in 'instances' array"),
        ("size", b'{"instances": [[1,2],[3,4],[5,6,7]]}',
         "Failed to process element: 2 of 'instances' list. Error: INVALID_ARGUMENT: "
         "Expecting tensor size: 2 but got: 3"),
        ("shape", b'{"instances": [1, [1]]}', "Expecting shape [] but got: [1]"),
        ("type", b'{"instances": [[1,2],["a", "b"]]}',
         'JSON Value: "a" Type: String is not of expected type: int32'),
        ("level", b'{"inputs": [[1], 2]}',
         "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
        ("list_level", b'{"inputs": [1, [2]]}',
         "Encountered list at unexpected level: 1 expected < 1"),
        ("list_size", b'{"inputs": [[1, 2], [3]]}',
         "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
        ("float_for_int", b'{"instances": [1.0]}', "is not of expected type: int32"),
        ("int32_range", b'{"instances": [2147483648]}', "is not of expected type: int32"),
    )
    def test_errors(self, body, fragment):
        self.assertError(body, infos(x=INT32), fragment)

    def test_named_instance_errors(self):
        two = infos(a=INT32, b=STRING)
        self.assertError(b'{"instances": [1]}', two,
                         "instances is a plain list, but expecting list of objects")
        self.assertError(b'{"instances": [{"a": 1, "b": "x"}, [1]]}', two,
                         "Expecting object but got list at item 1 of input list")
        self.assertError(b'{"instances": [{"a": 1, "c": "x"}]}', two,
                         "Failed to process element: 0 key: c of 'instances' list. "
                         "Error: INVALID_ARGUMENT: JSON object: does not have named input: c")
        self.assertError(b'{"instances": [{"a": 1}]}', two,
                         "keys must be equal to: a,b")
        self.assertError(b'{"instances": [["x"], {"b": ["y"]}]}', infos(b=STRING),
                         "Expecting value/list but got object at item 1 of input list")
        self.assertError(b'{"inputs": {"a": 1}}', two,
                         "Missing named input: b in 'inputs' object.")
        self.assertError(b'{"inputs": [1]}', two,
                         "inputs is a plain value/list, but expecting an object")

    def test_base64(self):
        _, inputs, _ = parse('{"inputs": [{"b64": "aGk="}, {"b64": "aGk"}, '
                             '{"b64": " a G k = "}]}', infos(x=STRING))
        self.assertEqual([b"hi"] * 3, list(inputs["x"]))
        self.assertError('{"inputs": [{"b64": "not base64!"}]}', infos(x=STRING),
                         "Unable to base64 decode")
        self.assertError('{"inputs": [{"b64": "aGk=="}]}', infos(x=STRING),
                         "Unable to base64 decode")
        self.assertError('{"inputs": [{"b64": 5}]}', infos(x=STRING),
                         "not formatted correctly for base64 data")

    def test_dtypes_json_cannot_carry_are_unimplemented(self):
        self.assertError('{"inputs": [1.5]}', infos(x=types_pb2.DT_HALF),
                         "Conversion of JSON Value: 1.5 to type: half",
                         grpc.StatusCode.UNIMPLEMENTED)

    def test_signature_without_inputs(self):
        self.assertError('{"inputs": [1]}', infos(), "Failed to get input map for "
                         "signature: DEFAULT")

    def test_quoted_values_are_cut_after_256_bytes(self):
        message = self.assertError(
            json.dumps({"instances": [["s" * 300]]}), infos(x=INT32), "JSON Value: ")
        quoted = message[len("Failed to process element: 0 of 'instances' list. "
                             "Error: INVALID_ARGUMENT: JSON Value: "):]
        self.assertTrue(quoted.startswith('"' + "s" * 300 + '" Type: String'), quoted)
        message = self.assertError(
            json.dumps({"signature_name": list(range(1000)), "inputs": 1}),
            infos(x=INT32), "key must be a string value")
        self.assertLess(len(message), 400)


class ResponseTest(absltest.TestCase):

    def test_row_single_output_layout(self):
        out = json_tensor.make_predict_response(
            {"y": np.array([3.0, 3.5, 4.0], np.float32)}, ROW)
        self.assertEqual(b'{\n    "predictions": [3.0, 3.5, 4.0\n    ]\n}', out)

    def test_columnar_layout(self):
        out = json_tensor.make_predict_response(
            {"y": np.array([[0.1], [3.0]], np.float32)}, COLUMNAR)
        self.assertEqual(b'{\n    "outputs": [\n        [\n            0.1\n        ],\n'
                         b'        [\n            3.0\n        ]\n    ]\n}', out)
        self.assertEqual(json.loads(json_tensor.make_predict_response(
            {"y": np.array(2.5, np.float32)}, COLUMNAR)), {"outputs": 2.5})

    def test_row_multi_output(self):
        out = json_tensor.make_predict_response(
            {"a": np.array([1, 2]), "b_bytes": np.array([b"x", b"y"], object)}, ROW)
        self.assertEqual({"predictions": [
            {"a": 1, "b_bytes": {"b64": "eA=="}}, {"a": 2, "b_bytes": {"b64": "eQ=="}}]},
            json.loads(out))
        self.assertIn(b'{\n            "a": 1,\n            "b_bytes": {', out)

    def test_numbers_as_upstream_writes_them(self):
        out = json_tensor.make_predict_response({"y": np.array(
            [0.1, 123456789.0, 1e-5, 9e6, np.nan, -np.inf, -0.0], np.float32)}, ROW)
        self.assertEqual(b'{\n    "predictions": [0.1, 123456792.0, 1e-05, 9e+06, '
                         b'NaN, -Infinity, -0.0\n    ]\n}', out)
        out = json_tensor.make_predict_response(
            {"y": np.array([1 / 3], np.float64)}, ROW)
        self.assertIn(b"0.33333333333333331", out)

    def test_row_errors(self):
        with self.assertRaises(ServingError) as cm:
            json_tensor.make_predict_response({"a": np.zeros(2), "b": np.zeros(3)}, ROW)
        self.assertIn("Tensor name: b has inconsistent batch size: 3 expecting: 2",
                      cm.exception.message)
        with self.assertRaises(ServingError) as cm:
            json_tensor.make_predict_response({"a": np.array(1.0)}, ROW)
        self.assertIn("Tensor name: a has no shape information", cm.exception.message)
        with self.assertRaises(ServingError) as cm:
            json_tensor.make_predict_response({"a": np.zeros(1, np.complex64)}, ROW)
        self.assertIn("Failed to write JSON value for tensor type: complex64",
                      cm.exception.message)
        self.assertEqual(b'{\n    "predictions": []\n}', json_tensor.make_predict_response(
            {"a": np.zeros((0, 2), np.complex64)}, ROW))

    def test_strings_keep_their_bytes(self):
        out = json_tensor.make_predict_response(
            {"s": np.array([b"a\"b", b"\xff"], object)}, COLUMNAR)
        self.assertEqual(b'{\n    "outputs": [\n        "a\\"b",\n        "\xff"\n    ]\n}',
                         out)

    def test_error_json(self):
        self.assertEqual(b'{\n    "error": "bad \\"x\\"\\n"\n}',
                         json_tensor.error_json('bad "x"\n'))


class ClassifyRegressTest(absltest.TestCase):

    def _fill(self, body):
        request = classification_pb2.ClassificationRequest()
        json_tensor.fill_classify_regress_request(body.encode(), request)
        return request

    def test_fill_input_with_context(self):
        request = self._fill(
            '{"signature_name": "c", "context": {"k": "v"}, '
            '"examples": [{"x": 1, "t": true}, {"x": [1.5, 2.0], "s": {"b64": "eA=="}}]}')
        self.assertEqual("c", request.model_spec.signature_name)
        ctx = request.input.example_list_with_context
        self.assertEqual([b"v"], ctx.context.features.feature["k"].bytes_list.value)
        first, second = ctx.examples
        self.assertEqual([1], first.features.feature["x"].int64_list.value)
        self.assertEqual([1], first.features.feature["t"].int64_list.value)
        self.assertEqual([1.5, 2.0], second.features.feature["x"].float_list.value)
        self.assertEqual([b"x"], second.features.feature["s"].bytes_list.value)

    def test_fill_errors(self):
        for body, fragment in [
                ('{"x": 1}', "When method is classify, key 'examples' is expected"),
                ('{"examples": 1}', "Expecting 'examples' value to be an list/array"),
                ('{"examples": []}', "'examples' value is an empty array"),
                ('{"examples": [1]}', "Example must be JSON object but got JSON Number"),
                ('{"examples": [{"x": [1, 2.5]}]}',
                 "Unexpected element type in feature: x expecting type: int64"),
                ('{"examples": [{"x": [2.5, 1]}]}',
                 "Unexpected element type in feature: x expecting type: float"),
                ('{"examples": [{"x": null}]}',
                 "Feature: x has element with unexpected JSON type: Null"),
                ('{"examples": [{"x": [[1]]}]}',
                 "Feature: x has element with unexpected JSON type: Array"),
                ('{"examples": [{"x": 18446744073709551615}]}',
                 "Feature: x has uint64_t element. Only int64_t is supported."),
                ('{"signature_name": 1, "examples": [{}]}',
                 "'signature_name' key must be a string value.")]:
            with self.subTest(body):
                with self.assertRaises(ServingError) as cm:
                    json_tensor.fill_classify_regress_request(
                        body.encode(), regression_pb2.RegressionRequest())
                self.assertIn(fragment, cm.exception.message)

    def test_results_layout(self):
        result = classification_pb2.ClassificationResult()
        c = result.classifications.add().classes.add()
        c.label, c.score = b"a", 0.1
        self.assertEqual(b'{\n    "results": [[["a", 0.1]]\n    ]\n}',
                         json_tensor.make_classification_response(result))
        result = regression_pb2.RegressionResult()
        result.regressions.add().value = 2.5
        result.regressions.add().value = 3.0
        self.assertEqual(b'{\n    "results": [2.5, 3.0]\n}',
                         json_tensor.make_regression_response(result))


if __name__ == "__main__":
    absltest.main()

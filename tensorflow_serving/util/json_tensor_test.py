"""Tests for json_tensor: request parsing and response formatting."""

import base64
import json

import grpc
import numpy as np
from absl.testing import absltest

from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.util import json_tensor
from tensorflow_serving.util.status import ServingError

ROW = json_tensor.JsonPredictRequestFormat.ROW
COLUMNAR = json_tensor.JsonPredictRequestFormat.COLUMNAR


def infos(**kw):
    return lambda signature_name: kw


class ParsePredictRequestTest(absltest.TestCase):

    def assertInvalid(self, body, input_infos, fragment):
        with self.assertRaises(ServingError) as cm:
            json_tensor.parse_predict_request(body, input_infos)
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(fragment, cm.exception.message)

    def test_row_single_input(self):
        sig, inputs, fmt = json_tensor.parse_predict_request(
            b'{"instances": [[1.0], [2.5]]}', infos(x=types_pb2.DT_FLOAT))
        self.assertEqual(sig, "")
        self.assertIs(fmt, ROW)
        self.assertEqual(inputs["x"].dtype, np.float32)
        np.testing.assert_array_equal(inputs["x"], [[1.0], [2.5]])

    def test_row_named_inputs_and_signature(self):
        sig, inputs, _ = json_tensor.parse_predict_request(
            json.dumps({"signature_name": "s", "instances": [
                {"a": 1, "b": "x"}, {"a": 2, "b": {"b64": base64.b64encode(b"\xff").decode()}}]}),
            infos(a=types_pb2.DT_INT64, b=types_pb2.DT_STRING))
        self.assertEqual(sig, "s")
        np.testing.assert_array_equal(inputs["a"], [1, 2])
        self.assertEqual(inputs["a"].dtype, np.int64)
        self.assertEqual(list(inputs["b"]), [b"x", b"\xff"])

    def test_columnar(self):
        _, inputs, fmt = json_tensor.parse_predict_request(
            '{"inputs": {"a": [[1, 2]], "b": true}}',
            infos(a=types_pb2.DT_INT32, b=types_pb2.DT_BOOL))
        self.assertIs(fmt, COLUMNAR)
        self.assertEqual(inputs["a"].shape, (1, 2))
        self.assertEqual(inputs["b"].shape, ())
        _, inputs, _ = json_tensor.parse_predict_request(
            '{"inputs": [1.5, 2]}', infos(x=types_pb2.DT_DOUBLE))
        np.testing.assert_array_equal(inputs["x"], [1.5, 2.0])

    def test_errors(self):
        f = infos(x=types_pb2.DT_FLOAT)
        self.assertInvalid(b"{bad", f, "JSON Parse error")
        self.assertInvalid(b"[1]", f, "Is not an object")
        self.assertInvalid(b'{"foo": 1}', f, "Missing 'inputs' or 'instances' key")
        self.assertInvalid(b'{"inputs": 1, "instances": [1]}', f, "only one of")
        self.assertInvalid(b'{"instances": [[1], [1, 2]]}', f, "same length")
        self.assertInvalid(b'{"instances": ["a"]}', f, "not of expected type: float")
        self.assertInvalid(b'{"instances": [{"y": 1}]}', f, "'y'")
        self.assertInvalid(b'{"instances": 3}', f, "list/array")
        self.assertInvalid(b'{"instances": []}', f, "No values")
        self.assertInvalid(b'{"instances": [1.5]}', infos(x=types_pb2.DT_INT32),
                           "not of expected type: int32")
        self.assertInvalid(b'{"instances": [300]}', infos(x=types_pb2.DT_UINT8),
                           "out of range")
        self.assertInvalid(b'{"instances": [1]}', infos(a=1, b=1), "2 inputs")
        self.assertInvalid(b'{"inputs": {"a": 1}}', infos(a=1, b=1), "missing input(s): b")


class ResponseTest(absltest.TestCase):

    def test_row_single_output(self):
        out = json_tensor.make_predict_response(
            {"y": np.array([[0.1], [3.0]], np.float32)}, ROW)
        self.assertEqual(json.loads(out), {"predictions": [[0.1], [3.0]]})

    def test_row_multi_output(self):
        out = json_tensor.make_predict_response(
            {"a": np.array([1, 2]), "b_bytes": np.array([b"x", b"y"], object)}, ROW)
        self.assertEqual(json.loads(out), {"predictions": [
            {"a": 1, "b_bytes": {"b64": "eA=="}}, {"a": 2, "b_bytes": {"b64": "eQ=="}}]})

    def test_row_inconsistent_batch(self):
        with self.assertRaises(ServingError) as cm:
            json_tensor.make_predict_response(
                {"a": np.zeros(2), "b": np.zeros(3)}, ROW)
        self.assertIn("inconsistent batch size", cm.exception.message)

    def test_columnar(self):
        self.assertEqual(json.loads(json_tensor.make_predict_response(
            {"y": np.array(2.5, np.float32)}, COLUMNAR)), {"outputs": 2.5})
        self.assertEqual(json.loads(json_tensor.make_predict_response(
            {"a": np.array([b"s"], object), "b": np.array([True])}, COLUMNAR)),
            {"outputs": {"a": ["s"], "b": [True]}})


class ClassifyRegressTest(absltest.TestCase):

    def test_fill_input_with_context(self):
        request = classification_pb2.ClassificationRequest()
        json_tensor.fill_input_from_json(
            '{"signature_name": "c", "context": {"k": "v"}, '
            '"examples": [{"x": 1}, {"x": [1.5, 2], "s": {"b64": "eA=="}}]}', request)
        self.assertEqual(request.model_spec.signature_name, "c")
        ctx = request.input.example_list_with_context
        self.assertEqual(ctx.context.features.feature["k"].bytes_list.value, [b"v"])
        self.assertEqual(ctx.examples[0].features.feature["x"].int64_list.value, [1])
        self.assertEqual(ctx.examples[1].features.feature["x"].float_list.value, [1.5, 2.0])
        self.assertEqual(ctx.examples[1].features.feature["s"].bytes_list.value, [b"x"])

    def test_fill_input_errors(self):
        for body, fragment in [('{"x": 1}', "Missing 'examples'"),
                               ('{"examples": [1]}', "element 0"),
                               ('{"examples": [{"x": [1, "a"]}]}', "Feature 'x'")]:
            with self.assertRaises(ServingError) as cm:
                json_tensor.fill_input_from_json(body, regression_pb2.RegressionRequest())
            self.assertIn(fragment, cm.exception.message)

    def test_results(self):
        result = classification_pb2.ClassificationResult()
        c = result.classifications.add().classes.add()
        c.label, c.score = "a", 0.1
        self.assertEqual(json.loads(json_tensor.make_classification_response(result)),
                         {"results": [[["a", 0.1]]]})
        result = regression_pb2.RegressionResult()
        result.regressions.add().value = 2.5
        self.assertEqual(json.loads(json_tensor.make_regression_response(result)),
                         {"results": [2.5]})


if __name__ == "__main__":
    absltest.main()

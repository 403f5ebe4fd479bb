"""Predict over a real half_plus_two bundle: results, model_spec, errors."""

import grpc
import numpy as np
import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.servables.tensorflow import predict_util
from tensorflow_serving.servables.tensorflow import test_util


def _request(signature_name="", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "hp2"
    request.model_spec.signature_name = signature_name
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return request


class PredictUtilTest(test_util.HalfPlusTwoTestCase):

    def test_default_signature(self):
        response = predict_util.predict(
            self.handle, _request(x=np.array([[1.0], [2.0]], np.float32)))
        self.assertEqual("hp2", response.model_spec.name)
        self.assertEqual(self.VERSION, response.model_spec.version.value)
        self.assertEqual("serving_default", response.model_spec.signature_name)
        y = response.outputs["y"]
        # Typed fields, as mnist_client reads them.
        self.assertEqual([3.5, 4.0], list(y.float_val))
        self.assertEqual(b"", y.tensor_content)
        self.assertEqual([2, 1], [d.size for d in y.tensor_shape.dim])

    def test_typed_field_request(self):
        request = predict_pb2.PredictRequest()
        x = request.inputs["x"]
        x.dtype = tf.float32.as_datatype_enum
        x.tensor_shape.dim.add().size = 3
        x.tensor_shape.dim.add().size = 1
        x.float_val.extend([0.0, 2.0, 4.0])
        response = predict_util.predict(self.handle, request)
        self.assertEqual([3.0, 4.0, 5.0], list(response.outputs["y"].float_val))

    def test_output_filter(self):
        request = _request("classify_x_to_classes",
                           inputs=np.array([test_util.example(x=1.0)
                                            .SerializeToString()]))
        request.output_filter.append("scores")
        response = predict_util.predict(self.handle, request)
        self.assertEqual(["scores"], list(response.outputs))
        self.assertEqual("classify_x_to_classes",
                         response.model_spec.signature_name)
        request.ClearField("output_filter")
        response = predict_util.predict(self.handle, request)
        self.assertCountEqual(["scores", "classes"], response.outputs)
        self.assertEqual([b"3.5"], list(response.outputs["classes"].string_val))

    def test_unknown_signature(self):
        self.assertServingError(
            grpc.StatusCode.FAILED_PRECONDITION,
            ['Serving signature key "nope" not found.'],
            predict_util.predict, self.handle,
            _request("nope", x=np.zeros((1, 1), np.float32)))

    def test_extra_input(self):
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["input size does not match signature: 2!=1 len({foo,x}) != "
             "len({x}). Sent extra: {foo}. Missing but required: {}."],
            predict_util.predict, self.handle,
            _request(x=np.zeros((1, 1), np.float32),
                     foo=np.zeros((1, 1), np.float32)))

    def test_wrong_alias_is_upstreams_missing_input(self):
        request = _request()
        request.inputs["images"].dtype = tf.float32.as_datatype_enum
        request.inputs["images"].tensor_content = b"bad"  # never decoded
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Signature input alias: x(feed name: x:0) not found in request and "
             "no default value provided. Inputs expected to be in the request "
             "{images}, or default input alias set: "],
            predict_util.predict, self.handle, request)

    def test_malformed_tensor(self):
        request = _request()
        request.inputs["x"].dtype = tf.float32.as_datatype_enum
        request.inputs["x"].tensor_shape.dim.add().size = 2
        request.inputs["x"].tensor_content = b"\0\0\0\0"
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["tensor parsing error: x"],
                                predict_util.predict, self.handle, request)

    def test_any_shape_the_graph_takes_runs(self):
        # The signature says [-1,1]; upstream feeds [1] and answers [3.5].
        response = predict_util.predict(
            self.handle, _request(x=np.array([1.0], np.float32)))
        y = response.outputs["y"]
        self.assertEqual([3.5], list(y.float_val))
        self.assertEqual([1], [d.size for d in y.tensor_shape.dim])

    def test_wrong_dtype_is_tensorflows_error(self):
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Expects arg[0] to be float but string is provided"],
            predict_util.predict, self.handle, _request(x=np.array([[b"a"]])))

    def test_method_name_is_checked_only_behind_the_flag(self):
        handle = test_util.with_method_name(self.handle, "serving_default",
                                            "custom/method")
        request = _request(x=np.array([[1.0]], np.float32))
        self.assertEqual([3.5], list(
            predict_util.predict(handle, request).outputs["y"].float_val))
        with test_util.signature_method_name_check():
            self.assertServingError(
                grpc.StatusCode.INTERNAL,
                ["Expected prediction signature method_name to be one of "
                 "{tensorflow/serving/predict, tensorflow/serving/classify, "
                 "tensorflow/serving/regress}. Was: custom/method"],
                predict_util.predict, handle, request)

    def test_bad_output_filter(self):
        request = _request(x=np.zeros((1, 1), np.float32))
        request.output_filter.append("z")
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["output tensor alias not found in signature: z Outputs expected "
             "to be in the set {y}."],
            predict_util.predict, self.handle, request)

    def test_run_predict_on_arrays(self):
        name, outputs = predict_util.run_predict(
            self.bundle, "", {"x": np.array([[4.0]], np.float32)})
        self.assertEqual("serving_default", name)
        np.testing.assert_allclose([[5.0]], outputs["y"])
        self.assertServingError(
            grpc.StatusCode.FAILED_PRECONDITION,
            ['Serving signature key "nope" not found.'],
            predict_util.run_predict, self.bundle, "nope", {})


if __name__ == "__main__":
    absltest.main()

"""Regress over half_plus_two: results, model_spec, errors."""

import grpc
import numpy as np
from absl.testing import absltest

from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import test_util


def _request(signature_name, *xs):
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "hp2"
    request.model_spec.signature_name = signature_name
    for x in xs:
        request.input.example_list.examples.add().CopyFrom(
            test_util.example(x=x))
    return request


class RegressorTest(test_util.HalfPlusTwoTestCase):

    def test_regress(self):
        response = regressor.regress(
            self.handle, _request("regress_x_to_y", 0.0, 2.0, -6.0))
        self.assertEqual([3.0, 4.0, 0.0],
                         [r.value for r in response.result.regressions])
        self.assertEqual("hp2", response.model_spec.name)
        self.assertEqual("regress_x_to_y", response.model_spec.signature_name)
        self.assertEqual(self.VERSION, response.model_spec.version.value)

    def test_context(self):
        request = _request("regress_x_to_y")
        ctx = request.input.example_list_with_context
        ctx.context.CopyFrom(test_util.example(x=4.0))
        ctx.examples.add()
        response = regressor.regress(self.handle, request)
        self.assertEqual([5.0], [r.value for r in response.result.regressions])

    def test_errors(self):
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["Input is empty."], regressor.regress,
                                self.handle, _request("regress_x_to_y"))
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["No regression outputs found in SignatureDef: "],
            regressor.regress, self.handle, _request("classify_x_to_y", 1.0))
        with test_util.signature_method_name_check():
            self.assertServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                ["Expected regression signature method_name to be "
                 "tensorflow/serving/regress. Was: tensorflow/serving/classify"],
                regressor.regress, self.handle, _request("classify_x_to_y", 1.0))
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["No signature was found with the name: nope"],
            regressor.regress, self.handle, _request("nope", 1.0))

    def test_method_name_is_checked_only_behind_the_flag(self):
        handle = test_util.with_method_name(self.handle, "regress_x_to_y",
                                            "tensorflow/serving/predict")
        response = regressor.regress(handle, _request("regress_x_to_y", 2.0))
        self.assertEqual([4.0], [r.value for r in response.result.regressions])
        with test_util.signature_method_name_check():
            self.assertServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                ["Was: tensorflow/serving/predict"],
                regressor.regress, handle, _request("regress_x_to_y", 2.0))

    def test_post_process_validates_output(self):
        result = regression_pb2.RegressionResult()
        sig = self.bundle.signature_defs["regress_x_to_y"]
        name = sig.outputs["outputs"].name
        post = regressor.post_process_regression_result
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["[batch_size] or [batch_size, 1] but got [1,2]"],
            post, sig, 1, {name: np.zeros((1, 2), np.float32)}, result)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Input batch size did not match output batch size: 2 vs. 1"],
            post, sig, 2, {name: np.zeros((1,), np.float32)}, result)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Expected output Tensor of DT_FLOAT.  Got: DT_INT32"],
            post, sig, 1, {name: np.zeros((1,), np.int32)}, result)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT, ["Could not find output tensor"],
            post, sig, 1, {}, result)


if __name__ == "__main__":
    absltest.main()

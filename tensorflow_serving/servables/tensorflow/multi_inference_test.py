"""MultiInference over half_plus_two: ordered results and upstream's checks."""

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.servables.tensorflow import multi_inference
from tensorflow_serving.servables.tensorflow import test_util

_CLASSIFY = "tensorflow/serving/classify"
_REGRESS = "tensorflow/serving/regress"


def _request(tasks, *xs):
    request = inference_pb2.MultiInferenceRequest()
    for model, signature, method in tasks:
        task = request.tasks.add()
        task.model_spec.name = model
        task.model_spec.signature_name = signature
        task.method_name = method
    for x in xs:
        request.input.example_list.examples.add().CopyFrom(
            test_util.example(x=x))
    return request


class MultiInferenceTest(test_util.HalfPlusTwoTestCase):

    def test_results_in_task_order(self):
        request = _request([("hp2", "regress_x_to_y", _REGRESS),
                            ("hp2", "classify_x_to_classes", _CLASSIFY),
                            ("hp2", "classify_x_to_y", _CLASSIFY)], 1.0, 2.0)
        response = multi_inference.run_multi_inference(self.handle, request)
        self.assertLen(response.results, 3)
        regress, classes, scores = response.results
        self.assertEqual([3.5, 4.0], [r.value for r in
                                      regress.regression_result.regressions])
        self.assertEqual(
            [[("3.5", 3.5)], [("4.0", 4.0)]],
            [[(c.label, c.score) for c in cl.classes]
             for cl in classes.classification_result.classifications])
        self.assertEqual(
            [3.5, 4.0], [cl.classes[0].score for cl in
                         scores.classification_result.classifications])
        for result, name in zip(response.results,
                                ["regress_x_to_y", "classify_x_to_classes",
                                 "classify_x_to_y"]):
            self.assertEqual("hp2", result.model_spec.name)
            self.assertEqual(name, result.model_spec.signature_name)
            self.assertEqual(self.VERSION, result.model_spec.version.value)

    def test_validation(self):
        cases = [
            ([("", "regress_x_to_y", _REGRESS)],
             "Found ModelSpec with an empty model name.",
             grpc.StatusCode.INVALID_ARGUMENT),
            ([("hp2", "regress_x_to_y", _REGRESS),
              ("other", "classify_x_to_y", _CLASSIFY)],
             "All ModelSpecs in a MultiInferenceRequest must access the same "
             "model name.", grpc.StatusCode.INVALID_ARGUMENT),
            ([("hp2", "regress_x_to_y", _REGRESS),
              ("hp2", "regress_x_to_y", _REGRESS)],
             "Duplicate evaluation of signature: regress_x_to_y",
             grpc.StatusCode.INVALID_ARGUMENT),
            ([("hp2", "nope", _REGRESS)],
             "Requested signature not found in model graph: nope",
             grpc.StatusCode.INVALID_ARGUMENT),
            ([("hp2", "regress_x_to_y", "tensorflow/serving/predict")],
             "Unsupported signature method_name: tensorflow/serving/predict",
             grpc.StatusCode.UNIMPLEMENTED),
            ([("hp2", "classify_x_to_y", _REGRESS)],
             "No regression outputs found in SignatureDef",
             grpc.StatusCode.INVALID_ARGUMENT),
        ]
        for tasks, message, code in cases:
            with self.subTest(message):
                self.assertServingError(
                    code, [message], multi_inference.run_multi_inference,
                    self.handle, _request(tasks, 1.0))

    def test_signatures_with_other_inputs_each_get_the_examples(self):
        # Upstream feeds the examples to every task's input tensor.
        handle = test_util.with_method_name(self.handle, "regress_x_to_y",
                                            _REGRESS, input_name="other:0")
        request = _request([("hp2", "regress_x_to_y", _REGRESS),
                            ("hp2", "classify_x_to_y", _CLASSIFY)], 2.0)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT, ["other:0"],
            multi_inference.run_multi_inference, handle, request)

    def test_empty_input(self):
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT, ["Input is empty."],
            multi_inference.run_multi_inference, self.handle,
            _request([("hp2", "regress_x_to_y", _REGRESS)]))


if __name__ == "__main__":
    absltest.main()

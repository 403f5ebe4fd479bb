"""Classify over half_plus_two: example lists, context merging, errors."""

import grpc
import numpy as np
from absl.testing import absltest

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import test_util
from tensorflow_serving.util import status


def _request(signature_name, *xs):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "hp2"
    request.model_spec.signature_name = signature_name
    for x in xs:
        request.input.example_list.examples.add().CopyFrom(
            test_util.example(x=x))
    return request


class ClassifierTest(test_util.HalfPlusTwoTestCase):

    def test_scores_only(self):
        response = classifier.classify(
            self.handle, _request("classify_x_to_y", 1.0, 3.0))
        self.assertEqual("hp2", response.model_spec.name)
        self.assertEqual("classify_x_to_y", response.model_spec.signature_name)
        self.assertEqual(self.VERSION, response.model_spec.version.value)
        got = [[(c.label, c.score) for c in cl.classes]
               for cl in response.result.classifications]
        self.assertEqual([[("", 3.5)], [("", 4.5)]], got)

    def test_classes_and_scores(self):
        response = classifier.classify(
            self.handle, _request("classify_x_to_classes", 2.0))
        (cl,) = response.result.classifications
        self.assertEqual("4.0", cl.classes[0].label)
        self.assertAlmostEqual(4.0, cl.classes[0].score)

    def test_context_merged_into_each_example(self):
        request = _request("classify_x_to_y")
        ctx = request.input.example_list_with_context
        ctx.context.CopyFrom(test_util.example(x=10.0))
        ctx.examples.add().CopyFrom(test_util.example(other=1.0))
        ctx.examples.add().CopyFrom(test_util.example(x=2.0))  # overrides
        response = classifier.classify(self.handle, request)
        scores = [cl.classes[0].score
                  for cl in response.result.classifications]
        self.assertEqual([8.0, 4.0], scores)

    def test_empty_input(self):
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["Input is empty."], classifier.classify,
                                self.handle, _request("classify_x_to_y"))

    def test_default_signature_lacks_classification_inputs(self):
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["No classification inputs found in SignatureDef: ", 'key: "x"'],
            classifier.classify, self.handle, _request("", 1.0))

    def test_method_name_is_checked_only_behind_the_flag(self):
        # A TF2 SavedModel's classify signature says "predict".
        handle = test_util.with_method_name(self.handle, "classify_x_to_y",
                                            "tensorflow/serving/predict")
        response = classifier.classify(handle, _request("classify_x_to_y", 1.0))
        self.assertEqual(3.5, response.result.classifications[0].classes[0].score)
        with test_util.signature_method_name_check():
            self.assertServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                ["Expected classification signature method_name to be "
                 "tensorflow/serving/classify. Was: tensorflow/serving/predict"],
                classifier.classify, handle, _request("classify_x_to_y", 1.0))

    def test_unknown_signature(self):
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["No signature was found with the name: nope"],
            classifier.classify, self.handle, _request("nope", 1.0))

    def test_example_missing_feature_fails_cleanly(self):
        request = _request("classify_x_to_y")
        request.input.example_list.examples.add().CopyFrom(
            test_util.example(other=1.0))
        with self.assertRaises(status.ServingError) as cm:
            classifier.classify(self.handle, request)
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, cm.exception.code)

    def test_post_process_validates_outputs(self):
        result = classification_pb2.ClassificationResult()
        sig = self.bundle.signature_defs["classify_x_to_classes"]
        classes, scores = sig.outputs["classes"].name, sig.outputs["scores"].name
        post = classifier.post_process_classification_result
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Expected scores Tensor of DT_FLOAT. Got: DT_DOUBLE"],
            post, sig, 1, {scores: np.zeros((1, 1), np.float64)}, result)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Expected classes output batch size of 2. Got: 1"],
            post, sig, 2, {classes: np.array([[b"a"]], object)}, result)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Tensors class and score should match in dim_size(1). Got 1 vs. 2"],
            post, sig, 1, {classes: np.array([[b"a"]], object),
                           scores: np.zeros((1, 2), np.float32)}, result)
        self.assertServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["Expected Tensor shape: [batch_size num_classes] but got [1]"],
            post, sig, 1, {scores: np.zeros((1,), np.float32)}, result)


if __name__ == "__main__":
    absltest.main()

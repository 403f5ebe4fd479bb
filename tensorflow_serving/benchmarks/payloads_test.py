"""Tests for payloads: the gRPC frame h2load posts and the REST body."""

import json

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.benchmarks import payloads


class GrpcFrameTest(absltest.TestCase):

    def test_header_is_flag_then_big_endian_length(self):
        self.assertEqual(payloads.grpc_frame(b"abc"), b"\x00\x00\x00\x00\x03abc")
        self.assertEqual(payloads.grpc_frame(b"x" * 258)[:5], b"\x00\x00\x00\x01\x02")
        self.assertEqual(payloads.grpc_frame(b"", compressed=True), b"\x01\x00\x00\x00\x00")

    def test_frames_split_back(self):
        body = payloads.grpc_frame(b"one") + payloads.grpc_frame(b"") + payloads.grpc_frame(
            b"three")
        self.assertEqual(payloads.parse_grpc_frames(body), [b"one", b"", b"three"])

    def test_truncated_frames_are_rejected(self):
        with self.assertRaisesRegex(ValueError, "says 5 bytes"):
            payloads.parse_grpc_frames(payloads.grpc_frame(b"12345")[:-1])
        with self.assertRaisesRegex(ValueError, "header"):
            payloads.parse_grpc_frames(b"\x00\x00")


class PredictBodyTest(absltest.TestCase):

    def test_grpc_body_holds_the_request(self):
        image = np.linspace(0, 1, 784, dtype=np.float32).reshape(1, 784)
        body = payloads.grpc_predict_body("mnist", "predict_images", "images", image)
        (message,) = payloads.parse_grpc_frames(body)
        request = predict_pb2.PredictRequest.FromString(message)
        self.assertEqual(request.model_spec.name, "mnist")
        self.assertEqual(request.model_spec.signature_name, "predict_images")
        tensor = request.inputs["images"]
        self.assertEqual(tensor.dtype, tf.float32.as_datatype_enum)
        self.assertEqual([d.size for d in tensor.tensor_shape.dim], [1, 784])
        np.testing.assert_array_equal(tf.make_ndarray(tensor), image)

    def test_rest_body(self):
        image = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
        body = json.loads(payloads.rest_predict_body("predict_images", image))
        self.assertEqual(body, {"signature_name": "predict_images",
                                "instances": [[0.0, 0.5, 1.0]]})
        self.assertEqual(payloads.rest_predict_path("mnist"), "/v1/models/mnist:predict")


class ExamplesRequestTest(absltest.TestCase):

    def test_one_example_per_row(self):
        rows = np.array([[0.25, 1.0], [2.0, -3.0]], dtype=np.float32)
        request = payloads.classify_request("mnist", "serving_default", "x", rows)
        self.assertEqual((request.model_spec.name, request.model_spec.signature_name),
                         ("mnist", "serving_default"))
        self.assertEqual([list(e.features.feature["x"].float_list.value)
                          for e in request.input.example_list.examples],
                         [[0.25, 1.0], [2.0, -3.0]])
        request = payloads.regress_request("hp2", "regress_x_to_y", "x", rows[:, :1])
        self.assertEqual([list(e.features.feature["x"].float_list.value)
                          for e in request.input.example_list.examples], [[0.25], [2.0]])
        request = payloads.multi_inference_request(
            "mnist", [("serving_default", "tensorflow/serving/classify")], "x", rows)
        self.assertEqual([(t.model_spec.name, t.model_spec.signature_name, t.method_name)
                          for t in request.tasks],
                         [("mnist", "serving_default", "tensorflow/serving/classify")])
        self.assertLen(request.input.example_list.examples, 2)
        self.assertEqual(payloads.GRPC_CLASSIFY_PATH,
                         "/tensorflow.serving.PredictionService/Classify")


if __name__ == "__main__":
    absltest.main()

"""Warmup replay: every log type, iteration count, and bad files."""

import os
import shutil
import tempfile

import grpc
import numpy as np
import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.servables.tensorflow import test_util
from tensorflow_serving.servables.tensorflow import warmup
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)


def _requests():
    predict = predict_pb2.PredictRequest()
    predict.inputs["x"].CopyFrom(
        tf.make_tensor_proto(np.array([[1.0]], np.float32)))
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.example_list.examples.add().CopyFrom(
        test_util.example(x=1.0))
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.signature_name = "regress_x_to_y"
    regress.input.CopyFrom(classify.input)
    multi = inference_pb2.MultiInferenceRequest()
    task = multi.tasks.add()
    task.model_spec.name = "hp2"
    task.model_spec.signature_name = "regress_x_to_y"
    task.method_name = "tensorflow/serving/regress"
    multi.input.CopyFrom(classify.input)
    return [predict, classify, regress, multi]


class WarmupTest(test_util.HalfPlusTwoTestCase):

    def setUp(self):
        super().setUp()
        self.runs = []
        bundle = self.bundle
        real_run = type(bundle).run
        bundle.run = (lambda *a, **k: self.runs.append("run")
                      or real_run(bundle, *a, **k))
        self.addCleanup(lambda: bundle.__dict__.pop("run"))
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def _write_records(self, records):
        path = warmup.warmup_path(self.dir)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tf.io.TFRecordWriter(path) as writer:
            for record in records:
                writer.write(record)

    def test_no_file_is_fine(self):
        self.assertEqual(0, warmup.run_saved_model_warmup(self.handle,
                                                          self.dir))
        self.assertEqual([], self.runs)

    def test_replays_every_log_type_each_iteration(self):
        hp2.write_warmup_requests(self.dir, _requests())
        self.assertEqual(4, warmup.run_saved_model_warmup(
            self.handle, self.dir, num_request_iterations=3))
        self.assertEqual(12, self.runs.count("run"))

    def test_not_a_tfrecord_file(self):
        path = warmup.warmup_path(self.dir)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(b"this is not a TFRecord file at all")
        self.assertServingError(grpc.StatusCode.DATA_LOSS,
                                ["TFRecord", path],
                                warmup.run_saved_model_warmup, self.handle,
                                self.dir)

    def test_record_not_a_prediction_log(self):
        self._write_records([b"\xff\xff\xff"])
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["Failed to parse warmup record #1"],
                                warmup.run_saved_model_warmup, self.handle,
                                self.dir)

    def test_failing_request_fails_warmup(self):
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = "nope"
        hp2.write_warmup_requests(self.dir, [request])
        self.assertServingError(
            grpc.StatusCode.FAILED_PRECONDITION,
            ["Warmup request #1", 'Serving signature key "nope" not found.'],
            warmup.run_saved_model_warmup, self.handle, self.dir)

    def test_unsupported_log_type(self):
        log = prediction_log_pb2.PredictionLog()
        log.session_run_log.SetInParent()
        self._write_records([log.SerializeToString()])
        self.assertServingError(grpc.StatusCode.UNIMPLEMENTED,
                                ["Unsupported log_type for warmup"],
                                warmup.run_saved_model_warmup, self.handle,
                                self.dir)

    def test_too_many_records(self):
        log = prediction_log_pb2.PredictionLog()
        log.predict_log.request.CopyFrom(_requests()[0])
        self._write_records([log.SerializeToString()] *
                            (warmup.MAX_NUM_RECORDS + 1))
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["exceeds the maximum (1000)"],
                                warmup.run_saved_model_warmup, self.handle,
                                self.dir)
        self.assertEqual(warmup.MAX_NUM_RECORDS, len(self.runs))


if __name__ == "__main__":
    absltest.main()

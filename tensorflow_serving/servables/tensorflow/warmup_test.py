"""Warmup replay: every log type, iteration count, errors and bad files.

The requests run on a stand-in for the version's native Bundle, which
records what warmup asked of it; the end-to-end tests (prometheus_test,
storage_test, config_reload_test) replay warmup files on the real server.
"""

import os
import shutil
import tempfile

import grpc
import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.servables.tensorflow import warmup
from tensorflow_serving.util import status


class _Native:
    """Records run() calls; answers each with `answer` (code, message, body)."""

    def __init__(self, answer=(0, "", b"")):
        self.calls = []
        self.answer = answer

    def run(self, method, request, version):
        self.calls.append((method, request, version))
        return self.answer


def _logs():
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "m"
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.signature_name = "classify_x_to_y"
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.signature_name = "regress_x_to_y"
    multi = inference_pb2.MultiInferenceRequest()
    multi.tasks.add().method_name = "tensorflow/serving/regress"
    logs = []
    for field, request in (("predict_log", predict), ("classify_log", classify),
                           ("regress_log", regress), ("multi_inference_log", multi)):
        log = prediction_log_pb2.PredictionLog()
        getattr(log, field).request.CopyFrom(request)
        logs.append(log)
    return logs


class WarmupTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def _write_records(self, records):
        path = warmup.warmup_path(self.dir)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tf.io.TFRecordWriter(path) as writer:
            for record in records:
                writer.write(record)

    def assertServingError(self, code, fragments, fn, *args):
        with self.assertRaises(status.ServingError) as cm:
            fn(*args)
        self.assertEqual(code, cm.exception.code, cm.exception.message)
        for fragment in fragments:
            self.assertIn(fragment, cm.exception.message)

    def test_no_file_is_fine(self):
        native = _Native()
        self.assertEqual(0, warmup.run_saved_model_warmup(native, 7, self.dir))
        self.assertEqual([], native.calls)

    def test_replays_every_log_type_each_iteration(self):
        logs = _logs()
        self._write_records([log.SerializeToString() for log in logs])
        native = _Native()
        self.assertEqual(4, warmup.run_saved_model_warmup(
            native, 7, self.dir, num_request_iterations=3))
        expected = []
        for log, method in zip(logs, ("Predict", "Classify", "Regress", "MultiInference")):
            request = getattr(log, log.WhichOneof("log_type")).request
            expected += [(method, request.SerializeToString(), 7)] * 3
        self.assertEqual(expected, native.calls)

    def test_not_a_tfrecord_file(self):
        path = warmup.warmup_path(self.dir)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(b"this is not a TFRecord file at all")
        self.assertServingError(grpc.StatusCode.DATA_LOSS, ["TFRecord", path],
                                warmup.run_saved_model_warmup, _Native(), 1, self.dir)

    def test_record_not_a_prediction_log(self):
        self._write_records([b"\xff\xff\xff"])
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["Failed to parse warmup record #1"],
                                warmup.run_saved_model_warmup, _Native(), 1, self.dir)

    def test_failing_request_fails_warmup_with_its_code(self):
        self._write_records([_logs()[0].SerializeToString()])
        native = _Native((grpc.StatusCode.FAILED_PRECONDITION.value[0],
                          'Serving signature key "nope" not found.', b""))
        self.assertServingError(
            grpc.StatusCode.FAILED_PRECONDITION,
            ["Warmup request #1", 'Serving signature key "nope" not found.'],
            warmup.run_saved_model_warmup, native, 1, self.dir)

    def test_unsupported_log_type(self):
        log = prediction_log_pb2.PredictionLog()
        log.session_run_log.SetInParent()
        self._write_records([log.SerializeToString()])
        self.assertServingError(grpc.StatusCode.UNIMPLEMENTED,
                                ["Unsupported log_type for warmup"],
                                warmup.run_saved_model_warmup, _Native(), 1, self.dir)

    def test_too_many_records(self):
        self._write_records([_logs()[0].SerializeToString()] *
                            (warmup.MAX_NUM_RECORDS + 1))
        native = _Native()
        self.assertServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                ["exceeds the maximum (1000)"],
                                warmup.run_saved_model_warmup, native, 1, self.dir)
        self.assertLen(native.calls, warmup.MAX_NUM_RECORDS)


if __name__ == "__main__":
    absltest.main()

"""Checks the exported half_plus_two model computes a*x + b on every signature."""

import os

import numpy as np
import tensorflow as tf

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)


def _example(x):
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))
    })).SerializeToString()


class SavedModelHalfPlusTwoTest(tf.test.TestCase):

    def test_signatures_compute_half_plus_b(self):
        export_dir = os.path.join(self.get_temp_dir(), "hp2", "1")
        hp2.export_half_plus_two(export_dir, b=3.0)
        v1 = tf.compat.v1
        with tf.Graph().as_default(), v1.Session() as sess:
            meta = v1.saved_model.loader.load(sess, ["serve"], export_dir)
            sigs = meta.signature_def
            self.assertCountEqual(
                ["serving_default", "regress_x_to_y", "classify_x_to_y",
                 "classify_x_to_classes"], sigs.keys())
            pred = sigs["serving_default"]
            y = sess.run(pred.outputs["y"].name,
                         {pred.inputs["x"].name: [[1.0], [4.0]]})
            self.assertAllClose([[3.5], [5.0]], y)
            cls = sigs["classify_x_to_classes"]
            self.assertEqual("tensorflow/serving/classify", cls.method_name)
            classes, scores = sess.run(
                [cls.outputs["classes"].name, cls.outputs["scores"].name],
                {cls.inputs["inputs"].name: [_example(2.0)]})
            self.assertAllEqual([[b"4.0"]], classes)
            self.assertAllClose([[4.0]], scores)
            reg = sigs["regress_x_to_y"]
            self.assertEqual("tensorflow/serving/regress", reg.method_name)
            out = sess.run(reg.outputs["outputs"].name,
                           {reg.inputs["inputs"].name: [_example(0.0)]})
            self.assertAllClose([[3.0]], out)

    def test_warmup_file_is_tfrecord_of_prediction_logs(self):
        export_dir = os.path.join(self.get_temp_dir(), "warm")
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "hp2"
        path = hp2.write_warmup_requests(export_dir, [request, request])
        self.assertEqual(
            os.path.join(export_dir, "assets.extra",
                         "tf_serving_warmup_requests"), path)
        logs = [prediction_log_pb2.PredictionLog.FromString(r)
                for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]
        self.assertLen(logs, 2)
        self.assertEqual("hp2", logs[1].predict_log.request.model_spec.name)
        with self.assertRaises(TypeError):
            hp2.write_warmup_requests(export_dir, ["not a request"])


if __name__ == "__main__":
    tf.test.main()

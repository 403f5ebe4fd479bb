r"""Exports the half_plus_two test model, y = a*x + b, as TF1 and TF2 SavedModels.

Tests across the repo use it as the smallest real servable; giving each version
a different `b` lets a test tell which version answered.

Signatures (same names and shapes as upstream's testdata):
  serving_default        predict:  "x" float [-1,1] -> "y" float [-1,1]
  regress_x_to_y         regress:  "inputs" serialized tf.Example (float "x")
                                   -> "outputs" float [-1,1]
  classify_x_to_y        classify: "inputs" -> "scores" float [-1,1]
  classify_x_to_classes  classify: "inputs" -> "classes" string [-1,1]
                                   (y formatted with one decimal), "scores"

With blocking=True every signature also waits on an empty queue, so a run
never finishes until TensorFlow cancels it (tests of run timeouts).

export_half_plus_two_tf2() writes the native TF2 variant (tf.saved_model.save
of a tf.Module), as upstream's testdata has it: every signature's method name
is "tensorflow/serving/predict", and serving_default takes "x" float [1].

CLI:  python saved_model_half_plus_two.py --output_dir=/tmp/hp2/1 [--b=3]
"""

import os

import tensorflow as tf

from tensorflow_serving.apis import prediction_log_pb2

WARMUP_FILENAME = "tf_serving_warmup_requests"


def _signature(inputs, outputs, method_name):
    v1 = tf.compat.v1
    return v1.saved_model.signature_def_utils.build_signature_def(
        inputs={k: v1.saved_model.utils.build_tensor_info(t)
                for k, t in inputs.items()},
        outputs={k: v1.saved_model.utils.build_tensor_info(t)
                 for k, t in outputs.items()},
        method_name=method_name)


def export_half_plus_two(export_dir: str, *, a: float = 0.5,
                         b: float = 2.0, blocking: bool = False) -> None:
    """Writes the model to `export_dir` (must not exist, or be empty)."""
    v1 = tf.compat.v1
    consts = v1.saved_model.signature_constants
    if os.path.isdir(export_dir) and not os.listdir(export_dir):
        os.rmdir(export_dir)  # SavedModelBuilder refuses existing dirs.
    builder = v1.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Graph().as_default(), v1.Session() as sess:
        var_a = v1.Variable(a, name="a", dtype=tf.float32)
        var_b = v1.Variable(b, name="b", dtype=tf.float32)
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = v1.parse_example(
            serialized, {"x": v1.FixedLenFeature([1], dtype=tf.float32)})
        # Feeding "x" directly bypasses the parser (TF1 can feed any tensor).
        x = tf.identity(parsed["x"], name="x")
        y = var_a * x + var_b
        if blocking:
            never_fed = tf.queue.FIFOQueue(1, [tf.float32], shapes=[[]])
            y = y + never_fed.dequeue()
        y = tf.identity(y, name="y")
        classes = tf.identity(tf.strings.as_string(y, precision=1),
                              name="classes")
        sess.run(v1.global_variables_initializer())
        signatures = {
            consts.DEFAULT_SERVING_SIGNATURE_DEF_KEY: _signature(
                {"x": x}, {"y": y}, consts.PREDICT_METHOD_NAME),
            "regress_x_to_y": _signature(
                {consts.REGRESS_INPUTS: serialized},
                {consts.REGRESS_OUTPUTS: y}, consts.REGRESS_METHOD_NAME),
            "classify_x_to_y": _signature(
                {consts.CLASSIFY_INPUTS: serialized},
                {consts.CLASSIFY_OUTPUT_SCORES: y},
                consts.CLASSIFY_METHOD_NAME),
            "classify_x_to_classes": _signature(
                {consts.CLASSIFY_INPUTS: serialized},
                {consts.CLASSIFY_OUTPUT_CLASSES: classes,
                 consts.CLASSIFY_OUTPUT_SCORES: y},
                consts.CLASSIFY_METHOD_NAME),
        }
        builder.add_meta_graph_and_variables(
            sess, [v1.saved_model.tag_constants.SERVING],
            signature_def_map=signatures)
    builder.save()


def write_warmup_requests(export_dir: str, requests) -> str:
    """Writes assets.extra/tf_serving_warmup_requests; returns its path.

    `requests` are PredictionLog protos, or Predict/Classification/Regression/
    MultiInference requests (wrapped into the matching PredictionLog).
    """
    directory = os.path.join(export_dir, "assets.extra")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILENAME)
    logs = [_as_prediction_log(r) for r in requests]
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


class _HalfPlusTwo(tf.Module):
    """The TF2 model: tf.functions with signatures, y = a*x + b."""

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a = tf.Variable(a, name="a")
        self.b = tf.Variable(b, name="b")

    def _y(self, x):
        return self.a * x + self.b

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32)])
    def predict(self, x):
        return {"y": self._y(x)}

    def _parse(self, serialized):
        return tf.io.parse_example(
            serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                                name=tf.saved_model.REGRESS_INPUTS)])
    def regress(self, serialized):
        return {tf.saved_model.REGRESS_OUTPUTS: self._y(self._parse(serialized))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                                name=tf.saved_model.CLASSIFY_INPUTS)])
    def classify(self, serialized):
        return {tf.saved_model.CLASSIFY_OUTPUT_SCORES: self._y(self._parse(serialized))}


def export_half_plus_two_tf2(export_dir: str, *, a: float = 0.5,
                             b: float = 2.0) -> None:
    """Writes the TF2 model (signatures serving_default, regress_x_to_y, classify_x_to_y)."""
    model = _HalfPlusTwo(a, b)
    tf.saved_model.save(model, export_dir, signatures={
        tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: model.predict,
        "regress_x_to_y": model.regress,
        "classify_x_to_y": model.classify,
    })


def _as_prediction_log(request):
    if isinstance(request, prediction_log_pb2.PredictionLog):
        return request
    field = {
        "PredictRequest": "predict_log",
        "ClassificationRequest": "classify_log",
        "RegressionRequest": "regress_log",
        "MultiInferenceRequest": "multi_inference_log",
    }.get(getattr(getattr(request, "DESCRIPTOR", None), "name", None))
    if field is None:
        raise TypeError(f"cannot log a {type(request).__name__} for warmup")
    log = prediction_log_pb2.PredictionLog()
    getattr(log, field).request.CopyFrom(request)
    return log


def main(argv):
    del argv
    from absl import flags  # pylint: disable=g-import-not-at-top
    export_half_plus_two(flags.FLAGS.output_dir, a=flags.FLAGS.a,
                         b=flags.FLAGS.b)
    print(f"SavedModel generated at: {flags.FLAGS.output_dir}")


if __name__ == "__main__":
    from absl import app, flags  # pylint: disable=g-import-not-at-top
    flags.DEFINE_string("output_dir", "/tmp/saved_model_half_plus_two/1",
                        "Version directory to write the SavedModel to.")
    flags.DEFINE_float("a", 0.5, "Slope.")
    flags.DEFINE_float("b", 2.0, "Offset (vary it per version).")
    app.run(main)

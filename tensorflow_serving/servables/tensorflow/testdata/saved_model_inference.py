"""Exports the inference test model: Classify and Regress signatures of every kind.

The end-to-end tests use it to check the ClassificationResult and
RegressionResult built from each kind of output, and the signatures and
outputs refused with upstream's messages. A TF1-graph SavedModel whose inputs are serialized
tf.Examples, parsed by the model itself: "x" float [2] and "k" int64 [1], both
with defaults (0), so an empty Example is fine. Its signatures:

  classify_both        classify: "inputs" -> "classes" (x as strings),
                       "scores" (x) [-1,2]; also serving_default
  classify_scores, classify_classes        one of the two
  classify_predict_method                  classify_both, method "predict"
  classify_same_tensor  classes and scores name one float tensor
  classify_scores_3d, classify_scalar      scores [-1,2,1], []
  classify_scores_int32, classify_scores_double, classify_classes_float
  classify_first_row   scores of the first example only
  classify_mismatch    classes [-1,2], scores [-1,4]
  classify_no_classes  scores [-1,0]
  classify_three_outputs, classify_two_inputs, classify_wrong_input
                       ("examples"), classify_wrong_outputs ("probabilities")
  classify_float_input "inputs" is a float tensor
  classify_other_input classify_scores on a second string placeholder
  regress_1d, regress_2d              "outputs" x[:,0] [-1], x[:,:1] [-1,1]
  regress_k            "outputs" k as float (the second feature)
  regress_wide, regress_scalar, regress_double, regress_first_row
  regress_two_outputs, regress_wrong_input ("x", with float defaults that
                       the error's SignatureDef text shows), regress_wrong_output
  regress_other_input  regress_1d on the second string placeholder
"""

import os

import tensorflow as tf


def export_inference(export_dir: str) -> None:
    """Writes the model to `export_dir` (must not exist, or be empty)."""
    v1 = tf.compat.v1
    consts = v1.saved_model.signature_constants
    info = v1.saved_model.utils.build_tensor_info
    if os.path.isdir(export_dir) and not os.listdir(export_dir):
        os.rmdir(export_dir)  # SavedModelBuilder refuses existing dirs.
    builder = v1.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Graph().as_default(), v1.Session() as sess:
        features = {"x": v1.FixedLenFeature([2], tf.float32, default_value=[0.0, 0.0]),
                    "k": v1.FixedLenFeature([1], tf.int64, default_value=[0])}
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = v1.parse_example(serialized, features)
        x, k = parsed["x"], parsed["k"]
        other = v1.placeholder(tf.string, shape=[None], name="other_example")
        other_x = v1.parse_example(other, features)["x"]
        float_input = v1.placeholder(tf.float32, shape=[None, 2], name="float_input")
        classes = tf.strings.as_string(x, precision=2)

        def sig(outputs, method=consts.CLASSIFY_METHOD_NAME, inputs=None):
            inputs = {"inputs": serialized} if inputs is None else inputs
            return v1.saved_model.signature_def_utils.build_signature_def(
                inputs={alias: info(t) for alias, t in inputs.items()},
                outputs={alias: info(t) for alias, t in outputs.items()},
                method_name=method)

        regress = consts.REGRESS_METHOD_NAME
        signatures = {
            "classify_both": sig({"classes": classes, "scores": x}),
            "classify_scores": sig({"scores": x}),
            "classify_classes": sig({"classes": classes}),
            "classify_predict_method": sig({"classes": classes, "scores": x},
                                           consts.PREDICT_METHOD_NAME),
            "classify_same_tensor": sig({"classes": x, "scores": x}),
            "classify_scores_3d": sig({"scores": tf.expand_dims(x, 2)}),
            "classify_scalar": sig({"scores": tf.reduce_sum(x)}),
            "classify_scores_int32": sig({"scores": tf.cast(x, tf.int32)}),
            "classify_scores_double": sig({"scores": tf.cast(x, tf.float64)}),
            "classify_classes_float": sig({"classes": x}),
            "classify_first_row": sig({"scores": x[:1]}),
            "classify_mismatch": sig({"classes": classes, "scores": tf.concat([x, x], 1)}),
            "classify_no_classes": sig({"scores": x[:, :0]}),
            "classify_three_outputs": sig({"classes": classes, "scores": x, "extra": x}),
            "classify_two_inputs": sig({"scores": x},
                                       inputs={"inputs": serialized, "more": other}),
            "classify_wrong_input": sig({"scores": x}, inputs={"examples": serialized}),
            "classify_wrong_outputs": sig({"probabilities": x}),
            "classify_float_input": sig({"scores": float_input * 2.0},
                                        inputs={"inputs": float_input}),
            "classify_other_input": sig({"scores": other_x}, inputs={"inputs": other}),
            "regress_1d": sig({"outputs": x[:, 0]}, regress),
            "regress_2d": sig({"outputs": x[:, :1]}, regress),
            "regress_k": sig({"outputs": tf.cast(k[:, 0], tf.float32)}, regress),
            "regress_wide": sig({"outputs": x}, regress),
            "regress_scalar": sig({"outputs": tf.reduce_sum(x)}, regress),
            "regress_double": sig({"outputs": tf.cast(x[:, 0], tf.float64)}, regress),
            "regress_first_row": sig({"outputs": x[:1, 0]}, regress),
            "regress_two_outputs": sig({"outputs": x[:, 0], "more": x[:, 1]}, regress),
            "regress_wrong_input": sig({"outputs": float_input[:, 0]}, regress,
                                       inputs={"x": float_input}),
            "regress_wrong_output": sig({"y": x[:, 0]}, regress),
            "regress_other_input": sig({"outputs": other_x[:, 0]}, regress,
                                       inputs={"inputs": other}),
        }
        # Values the text of a SignatureDef writes differently in C++ and in
        # Python's text_format (2 vs 2.0, 0.333333343 vs 0.33333334, ...).
        defaults = signatures["regress_wrong_input"].defaults["x"]
        defaults.dtype = tf.float32.as_datatype_enum
        defaults.tensor_shape.dim.add(size=4)
        defaults.tensor_shape.dim.add(size=2)
        defaults.float_val.extend([2.0, 0.1, 1 / 3, 1e20, 100000.0, -0.0, float("inf"), 1e-45])
        signatures[consts.DEFAULT_SERVING_SIGNATURE_DEF_KEY] = signatures["classify_both"]
        builder.add_meta_graph_and_variables(
            sess, [v1.saved_model.tag_constants.SERVING], signature_def_map=signatures)
    builder.save()

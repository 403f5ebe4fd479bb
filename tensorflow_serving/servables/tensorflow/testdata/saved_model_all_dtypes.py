"""Exports the all_dtypes test model: every tensor type through Predict.

The end-to-end tests use it to check that every dtype is decoded and
encoded as upstream does it. A TF1-graph
SavedModel with these Predict signatures:

  echo_<dtype>    "x" <dtype> (any shape) -> "y" = x, for float, double,
                  half, bfloat16, int8/16/32/64, uint8/16/32/64, bool,
                  string, complex64 and complex128
  with_defaults   "a" float [-1], "b" float scalar (default 10.0)
                  -> "sum" = a + b, "doubled" = 2a, "total" = sum(a + b) (scalar)
  batch_float     "x" float [-1,-1] -> "y" = 2x, "rows" = the row sums [-1]
  batch_string    "x" string [-1] -> "y" = x (batchable: dim 0 unknown)
  serving_default the same as echo_float
"""

import os

import tensorflow as tf

DTYPES = ("float", "double", "half", "bfloat16", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool", "string", "complex64",
          "complex128")


def export_all_dtypes(export_dir: str) -> None:
    """Writes the model to `export_dir` (must not exist, or be empty)."""
    v1 = tf.compat.v1
    consts = v1.saved_model.signature_constants
    info = v1.saved_model.utils.build_tensor_info
    if os.path.isdir(export_dir) and not os.listdir(export_dir):
        os.rmdir(export_dir)  # SavedModelBuilder refuses existing dirs.
    builder = v1.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Graph().as_default(), v1.Session() as sess:
        signatures = {}
        for name in DTYPES:
            x = v1.placeholder(tf.dtypes.as_dtype(name), shape=None, name=f"x_{name}")
            y = tf.identity(x, name=f"y_{name}")
            signatures[f"echo_{name}"] = v1.saved_model.signature_def_utils.build_signature_def(
                inputs={"x": info(x)}, outputs={"y": info(y)},
                method_name=consts.PREDICT_METHOD_NAME)
        signatures[consts.DEFAULT_SERVING_SIGNATURE_DEF_KEY] = signatures["echo_float"]
        a = v1.placeholder(tf.float32, shape=[None], name="a")
        default_b = tf.constant(10.0, name="default_b")
        b = v1.placeholder_with_default(default_b, shape=[], name="b")
        total = a + b
        signatures["with_defaults"] = v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"a": info(a), "b": info(b)},
            outputs={"sum": info(tf.identity(total, name="sum")),
                     "doubled": info(tf.identity(2.0 * a, name="doubled")),
                     "total": info(tf.reduce_sum(total, name="total"))},
            method_name=consts.PREDICT_METHOD_NAME,
            defaults={"b": default_b})
        x = v1.placeholder(tf.float32, shape=[None, None], name="batch_float_x")
        signatures["batch_float"] = v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"x": info(x)},
            outputs={"y": info(tf.identity(2.0 * x, name="batch_float_y")),
                     "rows": info(tf.reduce_sum(x, axis=1, name="batch_float_rows"))},
            method_name=consts.PREDICT_METHOD_NAME)
        x = v1.placeholder(tf.string, shape=[None], name="batch_string_x")
        signatures["batch_string"] = v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"x": info(x)}, outputs={"y": info(tf.identity(x, name="batch_string_y"))},
            method_name=consts.PREDICT_METHOD_NAME)
        builder.add_meta_graph_and_variables(
            sess, [v1.saved_model.tag_constants.SERVING], signature_def_map=signatures)
    builder.save()

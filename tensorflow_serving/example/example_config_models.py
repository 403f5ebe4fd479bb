r"""Writes the SavedModels that example_configs_test serves, at build time.

    example_config_models OUT_DIR

writes OUT_DIR/half_plus_two/1/ (upstream's test model) and OUT_DIR/mnist/1/
(the tutorial's predict_images signature, images [-1, 784] -> scores
[-1, 10], untrained: the configs are under test, not the model), so that the
test itself never imports TensorFlow and takes only the server's startup.
"""

import os
import shutil
import sys
import tempfile

import tensorflow as tf

from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two


def export_mnist_shaped(export_dir: str) -> None:
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as sess:
        images = v1.placeholder(tf.float32, [None, 784], name="x")
        weights = v1.Variable(v1.random_normal([784, 10], seed=1), name="w")
        scores = tf.nn.softmax(tf.matmul(images, weights), name="y")
        sess.run(v1.global_variables_initializer())
        builder = v1.saved_model.builder.SavedModelBuilder(export_dir)
        builder.add_meta_graph_and_variables(
            sess, [v1.saved_model.tag_constants.SERVING],
            signature_def_map={"predict_images": v1.saved_model.predict_signature_def(
                {"images": images}, {"scores": scores})})
        builder.save()


def main(argv):
    if len(argv) != 2:
        print("usage: example_config_models OUT_DIR", file=sys.stderr)
        return 2
    out = argv[1]
    # Bazel has made the outputs' directories already; SavedModelBuilder
    # wants a directory of its own.
    with tempfile.TemporaryDirectory() as staging:
        for name, export in (("half_plus_two", saved_model_half_plus_two.export_half_plus_two),
                             ("mnist", export_mnist_shaped)):
            export(os.path.join(staging, name))
            shutil.copytree(os.path.join(staging, name), os.path.join(out, name, "1"),
                            dirs_exist_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

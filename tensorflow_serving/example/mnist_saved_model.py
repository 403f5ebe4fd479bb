r"""Trains a softmax regression model on MNIST and exports it as a SavedModel.

This is the model of TensorFlow's "MNIST For ML Beginners" tutorial: one
fully connected layer and a softmax, trained with plain gradient descent.
The program exports it with the signatures tensorflow_model_server serves:

  predict_images   Predict API: `images` float [-1, 784] -> `scores` [-1, 10]
  serving_default  Classify API: serialized tf.Example `inputs` with the float
                   feature `x` [784] -> `classes` (the ten digits as strings,
                   most likely first) and their `scores`

Usage: mnist_saved_model.py [--training_iteration=x] [--model_version=y] \
    export_dir

The model goes to export_dir/<model_version>/, the layout the model server
watches: exporting version 2 next to a served version 1 makes the server
switch to it.
"""

import logging
import os
import shutil
import sys
import time

# Set before TensorFlow loads. Its C++ start-up lines (INFO) would bury the
# training's output. oneDNN's custom ops are off, as in the model server
# (upstream's is built without them) and in the tests that train this model:
# a softmax of 7,850 weights gains nothing from them, and they announce
# themselves on every start. Either variable set in the environment wins.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import tensorflow as tf

from tensorflow_serving.example import command_line
from tensorflow_serving.example import mnist_input_data

# The model is a TF1-style graph, as in upstream's example: tf.compat.v1 keeps
# that API available in TensorFlow 2.
tf1 = tf.compat.v1

flags.DEFINE_integer('training_iteration', 1000,
                     'number of training iterations.')
flags.DEFINE_integer('model_version', 1, 'version number of the model.')
flags.DEFINE_string('work_dir', '/tmp', 'Working directory.')
FLAGS = flags.FLAGS

USAGE = ('Usage: mnist_saved_model.py [--training_iteration=x] '
         '[--model_version=y] export_dir')
BATCH_SIZE = 50
LEARNING_RATE = 0.01


class _UsageError(Exception):
    """A problem the user can fix; reported as one line, without traceback."""


def _progress_interval(training_iteration):
    # Every 100 steps, but at most ~20 lines however long the training.
    return max(100, training_iteration // 20)


def _export_path(argv):
    """Validates the command line; returns export_dir/<model_version>."""
    if len(argv) != 2 or argv[-1].startswith('-'):
        raise _UsageError(USAGE)
    if FLAGS.training_iteration <= 0:
        raise _UsageError(
            'Please specify a positive value for training iteration.')
    if FLAGS.model_version <= 0:
        raise _UsageError('Please specify a positive value for version number.')
    export_path = os.path.join(command_line.user_path(argv[-1]),
                               str(FLAGS.model_version))
    # Checked before training, not after: a clash should cost no time.
    if os.path.lexists(export_path):
        raise _UsageError(
            f'Export directory {export_path} already exists: pass a new '
            f'--model_version or remove it.')
    return export_path


def _export(sess, export_path, serialized_tf_example, x, y, prediction_classes,
            values, init_tables):
    """Writes the SavedModel with its two signatures to export_path."""
    build_tensor_info = tf1.saved_model.utils.build_tensor_info
    signature_constants = tf1.saved_model.signature_constants

    classification_signature = (
        tf1.saved_model.signature_def_utils.build_signature_def(
            inputs={
                signature_constants.CLASSIFY_INPUTS:
                    build_tensor_info(serialized_tf_example)
            },
            outputs={
                signature_constants.CLASSIFY_OUTPUT_CLASSES:
                    build_tensor_info(prediction_classes),
                signature_constants.CLASSIFY_OUTPUT_SCORES:
                    build_tensor_info(values),
            },
            method_name=signature_constants.CLASSIFY_METHOD_NAME))

    prediction_signature = (
        tf1.saved_model.signature_def_utils.build_signature_def(
            inputs={'images': build_tensor_info(x)},
            outputs={'scores': build_tensor_info(y)},
            method_name=signature_constants.PREDICT_METHOD_NAME))

    # Build in a hidden sibling directory and rename it into place at the
    # end: a model server polling export_dir never sees a half-written
    # version (its name is not a number, so the server ignores it).
    export_base, version = os.path.split(export_path)
    staging = os.path.join(export_base, f'.{version}.incomplete-{os.getpid()}')
    if os.path.exists(staging):  # left over by a crashed run with our pid
        shutil.rmtree(staging)
    os.makedirs(staging)
    try:
        builder = tf1.saved_model.builder.SavedModelBuilder(staging)
        builder.add_meta_graph_and_variables(
            sess, [tf1.saved_model.tag_constants.SERVING],
            signature_def_map={
                'predict_images':
                    prediction_signature,
                signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY:
                    classification_signature,
            },
            # Runs when the model is loaded (after restoring the variables).
            main_op=init_tables,
            strip_default_attrs=True)
        builder.save()
        os.rename(staging, export_path)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)


def train_and_export(export_path):
    """Trains the model on MNIST, prints its accuracy and exports it."""
    print('Training model...')
    mnist = mnist_input_data.read_data_sets(
        command_line.user_path(FLAGS.work_dir), one_hot=True)

    with tf.Graph().as_default(), tf1.Session() as sess:
        # The model reads serialized tf.Example protos (what the Classify API
        # sends); `x` names the parsed pixels, so the Predict signature (and
        # the training loop below) can feed pixels to `x` directly.
        serialized_tf_example = tf1.placeholder(tf.string, shape=[None],
                                                name='tf_example')
        feature_configs = {
            'x': tf.io.FixedLenFeature(shape=[784], dtype=tf.float32),
        }
        tf_example = tf1.parse_example(serialized_tf_example, feature_configs)
        x = tf.identity(tf_example['x'], name='x')  # gives the tensor a name
        y_ = tf1.placeholder(tf.float32, shape=[None, 10])
        w = tf.Variable(tf.zeros([784, 10]))
        b = tf.Variable(tf.zeros([10]))
        sess.run(tf1.global_variables_initializer())
        logits = tf.matmul(x, w) + b
        y = tf.nn.softmax(logits, name='y')
        # The summed cross-entropy -sum(y_ * log(y)), computed from the
        # logits: the same value, but no NaN when a probability reaches 0.
        cross_entropy = tf.reduce_sum(
            tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
        train_step = tf1.train.GradientDescentOptimizer(
            LEARNING_RATE).minimize(cross_entropy)

        # For the Classify API: all ten digits, most likely first, as the
        # strings '0'..'9' (a lookup table maps class index -> digit name).
        values, indices = tf.nn.top_k(y, 10)
        table = tf1.lookup.StaticHashTable(
            tf1.lookup.KeyValueTensorInitializer(
                keys=tf.range(10, dtype=tf.int64),
                values=tf.constant([str(i) for i in range(10)])),
            default_value='UNKNOWN')
        prediction_classes = table.lookup(tf.cast(indices, tf.int64))
        # The op that fills the table when the server loads the model. Made
        # now: TF must not see the graph change after the session has run.
        init_tables = tf1.tables_initializer()

        every = _progress_interval(FLAGS.training_iteration)
        start = time.perf_counter()
        for step in range(1, FLAGS.training_iteration + 1):
            batch = mnist.train.next_batch(BATCH_SIZE)
            _, loss = sess.run([train_step, cross_entropy],
                               feed_dict={x: batch[0], y_: batch[1]})
            if step % every == 0 or step == FLAGS.training_iteration:
                print('step %d/%d: cross-entropy %.2f on a batch of %d' %
                      (step, FLAGS.training_iteration, loss, BATCH_SIZE))
        print('Trained %d steps in %.1f s' %
              (FLAGS.training_iteration, time.perf_counter() - start))

        correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        # Upstream's 'training accuracy' line measured the test set; here it
        # measures the training set, and the test set gets its own line.
        print('training accuracy %g' % sess.run(
            accuracy, feed_dict={x: mnist.train.images,
                                 y_: mnist.train.labels}))
        print('test accuracy %g' % sess.run(
            accuracy, feed_dict={x: mnist.test.images,
                                 y_: mnist.test.labels}))
        print('Done training!')

        print('Exporting trained model to', export_path)
        _export(sess, export_path, serialized_tf_example, x, y,
                prediction_classes, values, init_tables)
    print('Done exporting!')


def main(argv):
    # The example uses TF1 APIs on purpose (upstream's tutorial does); TF's
    # deprecation notices about them would only bury the program's output.
    tf.get_logger().setLevel(logging.ERROR)
    try:
        export_path = _export_path(argv)
        train_and_export(export_path)
    except _UsageError as e:
        print(e, file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:  # bad data, unwritable export dir
        print(f'Error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    app.run(main, flags_parser=lambda argv: command_line.parse_flags(
        argv, usage_args='[flags] export_dir'))

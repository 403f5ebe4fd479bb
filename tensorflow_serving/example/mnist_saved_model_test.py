"""Trains and exports the MNIST model with default flags, then checks it.

The training data is the copy Bazel bundles (@mnist_data); the accuracy is
measured on its held-out test digits, which training never sees.
"""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
import numpy
import tensorflow as tf

from tensorflow_serving.example import mnist_input_data
from tensorflow_serving.example import mnist_saved_model
from tensorflow_serving.test_util import test_util

FLAGS = flags.FLAGS
tf1 = tf.compat.v1

_PROGRAM = mnist_saved_model.__file__

def _specs(tensor_infos):
    """{alias: (dtype, shape)} of a signature's inputs or outputs."""
    return {alias: (tf.dtypes.as_dtype(info.dtype),
                    [dim.size for dim in info.tensor_shape.dim])
            for alias, info in tensor_infos.items()}


def _example(image):
    return tf.train.Example(features=tf.train.Features(feature={
        'x': tf.train.Feature(float_list=tf.train.FloatList(value=image)),
    })).SerializeToString()


class MnistSavedModelTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        FLAGS.mark_as_parsed()
        cls.tmp = tempfile.mkdtemp(dir=absltest.TEST_TMPDIR.value)
        cls.work_dir = os.path.join(cls.tmp, 'work')  # empty: bundled data
        os.mkdir(cls.work_dir)
        cls.export_base = os.path.join(cls.tmp, 'mnist')
        out = io.StringIO()
        with flagsaver.flagsaver(work_dir=cls.work_dir), \
                contextlib.redirect_stdout(out):
            cls.exit_code = mnist_saved_model.main(['mnist_saved_model.py',
                                                    cls.export_base])
        cls.output = out.getvalue()
        cls.export_dir = os.path.join(cls.export_base, '1')
        cls.test_set = mnist_input_data.read_data_sets(cls.work_dir).test

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)
        super().tearDownClass()

    def _load(self):
        graph = tf.Graph()
        sess = tf1.Session(graph=graph)
        self.addCleanup(sess.close)
        with graph.as_default():
            meta_graph = tf1.saved_model.loader.load(
                sess, [tf1.saved_model.tag_constants.SERVING], self.export_dir)
        return sess, meta_graph.signature_def

    def _run(self, sess, signature, feeds, output_keys):
        feed_dict = {signature.inputs[key].name: value
                     for key, value in feeds.items()}
        fetches = [signature.outputs[key].name for key in output_keys]
        return sess.run(fetches, feed_dict=feed_dict)

    def test_program_output(self):
        self.assertEqual(self.exit_code, 0)
        lines = self.output.splitlines()
        self.assertEqual(lines[0], 'Training model...')
        for expected in ('step 100/1000', 'step 1000/1000', 'Done training!',
                         'Exporting trained model to ' + self.export_dir,
                         'Done exporting!'):
            self.assertIn(expected, self.output)
        self.assertEqual(lines[-1], 'Done exporting!')
        test_accuracy = re.search(r'^test accuracy ([\d.]+)$', self.output,
                                  re.M)
        self.assertIsNotNone(test_accuracy, self.output)
        self.assertGreaterEqual(float(test_accuracy.group(1)), 0.85)
        self.assertRegex(self.output, r'(?m)^training accuracy [\d.]+$')

    def test_export_layout(self):
        self.assertEqual(os.listdir(self.export_base), ['1'])  # no leftovers
        self.assertTrue(os.path.isfile(os.path.join(self.export_dir,
                                                    'saved_model.pb')))
        self.assertTrue(os.path.isdir(os.path.join(self.export_dir,
                                                   'variables')))

    def test_exactly_two_signatures(self):
        _, signatures = self._load()
        self.assertCountEqual(signatures, ['predict_images', 'serving_default'])

        predict = signatures['predict_images']
        self.assertEqual(predict.method_name, 'tensorflow/serving/predict')
        self.assertEqual(_specs(predict.inputs),
                         {'images': (tf.float32, [-1, 784])})
        self.assertEqual(_specs(predict.outputs),
                         {'scores': (tf.float32, [-1, 10])})

        classify = signatures['serving_default']
        self.assertEqual(classify.method_name, 'tensorflow/serving/classify')
        self.assertEqual(_specs(classify.inputs),
                         {'inputs': (tf.string, [-1])})
        self.assertEqual(_specs(classify.outputs),
                         {'classes': (tf.string, [-1, 10]),
                          'scores': (tf.float32, [-1, 10])})

    def test_accuracy_on_held_out_test_digits(self):
        sess, signatures = self._load()
        (scores,) = self._run(sess, signatures['predict_images'],
                              {'images': self.test_set.images}, ['scores'])
        self.assertEqual(scores.shape, (self.test_set.num_examples, 10))
        numpy.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)
        accuracy = numpy.mean(scores.argmax(axis=1) == self.test_set.labels)
        self.assertGreaterEqual(accuracy, 0.85)

    def test_classify_returns_argmax_class_first(self):
        sess, signatures = self._load()
        images = self.test_set.images[:50]
        (scores,) = self._run(sess, signatures['predict_images'],
                              {'images': images}, ['scores'])
        classes, class_scores = self._run(
            sess, signatures['serving_default'],
            {'inputs': [_example(image) for image in images]},
            ['classes', 'scores'])
        self.assertEqual(classes.shape, (50, 10))
        for row in range(50):
            self.assertEqual(classes[row][0].decode(),
                             str(scores[row].argmax()))
            # All ten digits, by decreasing score.
            self.assertCountEqual([c.decode() for c in classes[row]],
                                  [str(d) for d in range(10)])
            self.assertTrue(numpy.all(numpy.diff(class_scores[row]) <= 0))
            numpy.testing.assert_allclose(
                class_scores[row],
                scores[row][[int(c) for c in classes[row]]], rtol=1e-5)

    def test_existing_version_dir_fails_with_one_line(self):
        base = self.create_tempdir().full_path
        os.mkdir(os.path.join(base, '1'))
        marker = os.path.join(base, '1', 'keep.txt')
        with open(marker, 'w') as f:
            f.write('not overwritten')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
                   TF_CPP_MIN_LOG_LEVEL='2')
        result = subprocess.run([sys.executable, _PROGRAM, base],
                                capture_output=True, text=True, env=env,
                                check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn('Training model...', result.stdout)
        lines = test_util.program_lines(result.stderr)
        self.assertLen(lines, 1, result.stderr)
        self.assertIn(os.path.join(base, '1') + ' already exists', lines[0])
        self.assertEqual(os.listdir(os.path.join(base, '1')), ['keep.txt'])

    def _main_error(self, argv, **flag_values):
        err = io.StringIO()
        with flagsaver.flagsaver(work_dir=self.work_dir, **flag_values), \
                contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()) as out:
            code = mnist_saved_model.main(argv)
        self.assertNotEqual(code, 0)
        self.assertNotIn('Training model...', out.getvalue())
        lines = err.getvalue().splitlines()
        self.assertLen(lines, 1, err.getvalue())
        return lines[0]

    def test_missing_export_dir_prints_usage(self):
        self.assertEqual(self._main_error(['mnist_saved_model.py']),
                         mnist_saved_model.USAGE)

    def test_extra_argument_prints_usage(self):
        base = self.create_tempdir().full_path
        self.assertEqual(
            self._main_error(['mnist_saved_model.py', base, 'extra']),
            mnist_saved_model.USAGE)

    def test_non_positive_flags(self):
        base = self.create_tempdir().full_path
        self.assertIn('positive value for training iteration',
                      self._main_error(['mnist_saved_model.py', base],
                                       training_iteration=0))
        self.assertIn('positive value for version number',
                      self._main_error(['mnist_saved_model.py', base],
                                       model_version=-1))
        self.assertEmpty(os.listdir(base))


if __name__ == '__main__':
    absltest.main()

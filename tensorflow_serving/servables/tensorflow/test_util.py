"""Test fixtures: a loaded half_plus_two bundle and tf.Example builders."""

import collections
import os
import tempfile

import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.core import servable_id
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow.testdata import (
    saved_model_half_plus_two as hp2)
from tensorflow_serving.util import status

# What request handlers need from a ServableHandle.
Handle = collections.namedtuple("Handle", ["id", "servable"])


def example(**features) -> tf.train.Example:
    """tf.Example with one float feature per keyword."""
    return tf.train.Example(features=tf.train.Features(feature={
        k: tf.train.Feature(float_list=tf.train.FloatList(
            value=v if isinstance(v, (list, tuple)) else [v]))
        for k, v in features.items()
    }))


class HalfPlusTwoTestCase(absltest.TestCase):
    """Exports y = 0.5*x + B once per class (version VERSION) and loads it."""

    B = 3.0
    VERSION = 7

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.export_dir = os.path.join(cls._tmp.name, str(cls.VERSION))
        hp2.export_half_plus_two(cls.export_dir, b=cls.B)
        cls.bundle = saved_model_bundle.SavedModelBundle(cls.export_dir)
        cls.handle = Handle(servable_id.ServableId("hp2", cls.VERSION),
                            cls.bundle)

    @classmethod
    def tearDownClass(cls):
        cls.bundle.close()
        cls._tmp.cleanup()
        super().tearDownClass()

    def assertServingError(self, code, fragments, fn, *args, **kwargs):
        with self.assertRaises(status.ServingError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(code, cm.exception.code, cm.exception.message)
        for fragment in fragments:
            self.assertIn(fragment, cm.exception.message)
        return cm.exception

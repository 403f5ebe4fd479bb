"""Test fixtures: a loaded half_plus_two bundle and tf.Example builders."""

import collections
import contextlib
import os
import tempfile

import tensorflow as tf
from absl.testing import absltest

from tensorflow_serving.core import servable_id
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow import util
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


class _EditedSignatures:
    """A bundle whose SignatureDefs differ from the real one's; runs go to it."""

    def __init__(self, bundle, signature_defs):
        self._bundle = bundle
        self.signature_defs = signature_defs
        self._signatures = {name: saved_model_bundle.Signature(name, sig)
                            for name, sig in signature_defs.items()}

    def signature(self, name):
        return self._signatures.get(name)

    def run(self, *args, **kwargs):
        return self._bundle.run(*args, **kwargs)


def with_method_name(handle, signature_name: str, method_name: str,
                     input_name: str | None = None) -> Handle:
    """`handle` with one signature's method name (and input tensor) replaced.

    A TF2 SavedModel's classify/regress signatures say "predict"; this gives
    a TF1 test model the same shape without exporting another model.
    """
    defs = dict(handle.servable.signature_defs)
    edited = type(defs[signature_name])()
    edited.CopyFrom(defs[signature_name])
    edited.method_name = method_name
    if input_name is not None:
        for info in edited.inputs.values():
            info.name = input_name
    defs[signature_name] = edited
    return Handle(handle.id, _EditedSignatures(handle.servable, defs))


@contextlib.contextmanager
def signature_method_name_check():
    """--enable_signature_method_name_check for the duration of a block."""
    util.set_signature_method_name_check_feature(True)
    try:
        yield
    finally:
        util.set_signature_method_name_check_feature(False)


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

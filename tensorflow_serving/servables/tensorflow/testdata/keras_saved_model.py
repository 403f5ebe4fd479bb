"""Exports a small Keras model as a SavedModel, as Keras users hand them to serving.

y = 2*x + 1 from one Dense unit with fixed weights, exported with Keras'
own `Model.export()`; the serving signature's input and output names are
whatever this Keras version gives them (tests read them from the model's
metadata rather than assuming them).
"""

import numpy as np
import tensorflow as tf


def export_keras_affine(export_dir: str) -> None:
    """Writes the model to `export_dir` (a version directory)."""
    inputs = tf.keras.Input(shape=(1,), name="x", dtype="float32")
    dense = tf.keras.layers.Dense(1, name="y")
    model = tf.keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[2.0]], np.float32), np.array([1.0], np.float32)])
    model.export(export_dir, verbose=False)

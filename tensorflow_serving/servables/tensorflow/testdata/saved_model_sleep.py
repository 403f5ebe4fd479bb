"""Exports a model that sleeps: for tests of timeouts and of draining.

Its serving_default signature takes "us" (int64 [1]) and returns "slept_us"
(the same value) after sleeping that many microseconds inside the graph,
without using the CPU (tf.data's SleepDataset), so a test decides how long a
request stays in flight whatever the machine's speed.
"""

import tensorflow as tf


class _Sleep(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([1], tf.int64, name="us")])
    def sleep(self, us):
        element = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
        slept = tf.raw_ops.SleepDataset(
            input_dataset=tf.data.experimental.to_variant(element),
            sleep_microseconds=us[0], output_types=[tf.int64],
            output_shapes=[[]])
        # take(1): the sleep precedes every read, and without it the read
        # that finds the end would sleep a second time.
        total = tf.data.experimental.from_variant(
            slept, element.element_spec).take(1).reduce(
                tf.constant(0, tf.int64), lambda acc, x: acc + x)
        return {"slept_us": us + total}


def export_sleep_model(export_dir: str) -> None:
    """Writes the model to `export_dir` (must not exist, or be empty)."""
    module = _Sleep()
    tf.saved_model.save(
        module, export_dir,
        signatures={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: module.sleep})

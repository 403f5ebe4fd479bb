"""Exports a TF2 model that computes for as long as it is asked to.

Its serving_default signature takes "iterations" (int64 [batch]) and returns
"count" (int64 [batch]): a tf.while_loop that spins max(iterations) times,
each iteration a little arithmetic, so a run keeps one CPU core busy until it
ends or TensorFlow cancels it. A test asks for far more iterations than any
deadline allows, and then watches the server's CPU time to see whether the
deadline ended the run or only the answer. Made the way most users make
models (tf.Module, tf.saved_model.save), so the loop is TF2's functional
While inside a PartitionedCall, and the graph is small enough to be run on
the request thread.
"""

import tensorflow as tf

# Iterations a test asks for when the run must outlast any deadline: hours
# of CPU on any machine.
FOREVER = 2**62


class _Busy(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="iterations")])
    def spin(self, iterations):
        limit = tf.reduce_max(iterations)

        def body(i, acc):
            # Arithmetic TensorFlow cannot fold away: the loop really runs.
            return i + 1, (acc * 6364136223846793005 + 1442695040888963407) % 2**31

        _, acc = tf.while_loop(lambda i, acc: i < limit, body,
                               (tf.constant(0, tf.int64), tf.constant(1, tf.int64)))
        return {"count": tf.zeros_like(iterations) + limit + 0 * acc}


def export_busy_model(export_dir: str) -> None:
    """Writes the model to `export_dir` (must not exist, or be empty)."""
    module = _Busy()
    tf.saved_model.save(
        module, export_dir,
        signatures={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: module.spin})

"""A model whose predict answer is about 4 MB of JSON, exported at benchmark time.

serving_default takes x float32 [batch, 1] and returns y float32
[batch, 1000, 1000], every element x: one row is a million floats, so the
REST answer for x = 0.5 is some 4 MB of JSON. The benchmark times that
predict to see what the JSON writer and the transport cost on a large answer.

Run as a script (in a child process, so TensorFlow's threads never live in the
benchmark's process): `large_output_model.py --export_dir=D/1`.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INPUT_ALIAS = "x"
OUTPUT_ALIAS = "y"
OUTPUT_SHAPE = (1000, 1000)


def export(export_dir: str) -> None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    class Broadcast(tf.Module):

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32,
                                                    name=INPUT_ALIAS)])
        def serve(self, x):
            rows = tf.reshape(x, [-1, 1, 1])
            return {OUTPUT_ALIAS: tf.tile(rows, [1, *OUTPUT_SHAPE])}

    module = Broadcast()
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--export_dir", required=True,
                        help="the version directory to write, e.g. base/1")
    args = parser.parse_args(argv)
    export(args.export_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

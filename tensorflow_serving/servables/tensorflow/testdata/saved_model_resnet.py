"""Exports a ResNet-50-shaped image classifier with random weights.

The mid-sized model of the memory tests and the rollover soak: ResNet-50's
layout (a 7x7 stem, bottleneck blocks of 3, 4, 6 and 3, global pooling and a
1000-way softmax) built from plain TensorFlow ops and saved as a TF2
SavedModel, as Keras exports one: the serving signature calls a function of
the graph's function library. `width` scales every layer's channels, so the
variables take about 100 MB at width 1.0 and about a quarter of that at 0.5.
The weights are random (a fixed seed), since what matters is the size.

Signature `serving_default`: input `images` float32 [N, 224, 224, 3],
output `probabilities` float32 [N, 1000].
"""

import argparse
import os

import numpy as np
import tensorflow as tf

IMAGE_SIZE = 224
NUM_CLASSES = 1000
_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (width, blocks, stride)
_EXPANSION = 4


class _ResNet(tf.Module):

    def __init__(self, width: float, seed: int):
        super().__init__(name="resnet")
        self._rng = np.random.default_rng(seed)
        self._layers = []
        stem = self._channels(64, width)
        self.stem = self._conv(7, 3, stem)
        channels = stem
        self.blocks = []
        for stage_width, blocks, stride in _STAGES:
            inner = self._channels(stage_width, width)
            outer = inner * _EXPANSION
            for index in range(blocks):
                block = {
                    "reduce": self._conv(1, channels, inner),
                    "conv": self._conv(3, inner, inner),
                    "expand": self._conv(1, inner, outer),
                    "stride": stride if index == 0 else 1,
                }
                if index == 0:
                    block["shortcut"] = self._conv(1, channels, outer)
                self.blocks.append(block)
                channels = outer
        self.logits_w = tf.Variable(self._normal((channels, NUM_CLASSES), channels),
                                    name="logits_w")
        self.logits_b = tf.Variable(np.zeros(NUM_CLASSES, np.float32), name="logits_b")

    @staticmethod
    def _channels(base: int, width: float) -> int:
        return max(8, int(round(base * width / 8)) * 8)

    def _normal(self, shape, fan_in):
        return (self._rng.standard_normal(shape, np.float32)
                * np.float32(np.sqrt(2.0 / fan_in)))

    def _conv(self, size, inputs, outputs):
        """A convolution and its inference-mode batch normalization."""
        return {
            "kernel": tf.Variable(self._normal((size, size, inputs, outputs),
                                               size * size * inputs)),
            "scale": tf.Variable(np.ones(outputs, np.float32)),
            "offset": tf.Variable(np.zeros(outputs, np.float32)),
            "mean": tf.Variable(np.zeros(outputs, np.float32)),
            "variance": tf.Variable(np.ones(outputs, np.float32)),
        }

    @staticmethod
    def _apply(layer, x, stride=1, relu=True):
        x = tf.nn.conv2d(x, layer["kernel"], stride, "SAME")
        x, _, _ = tf.compat.v1.nn.fused_batch_norm(
            x, layer["scale"], layer["offset"], layer["mean"], layer["variance"],
            is_training=False)
        return tf.nn.relu(x) if relu else x

    @tf.function(input_signature=[tf.TensorSpec(
        [None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name="images")])
    def serve(self, images):
        x = self._apply(self.stem, images, 2)
        x = tf.nn.max_pool2d(x, 3, 2, "SAME")
        for block in self.blocks:
            stride = block["stride"]
            y = self._apply(block["reduce"], x)
            y = self._apply(block["conv"], y, stride)
            y = self._apply(block["expand"], y, relu=False)
            shortcut = x
            if "shortcut" in block:
                shortcut = self._apply(block["shortcut"], x, stride, relu=False)
            x = tf.nn.relu(y + shortcut)
        x = tf.reduce_mean(x, axis=(1, 2))
        logits = tf.matmul(x, self.logits_w) + self.logits_b
        return {"probabilities": tf.nn.softmax(logits)}


def export_resnet(export_dir: str, width: float = 1.0, seed: int = 0) -> None:
    """Writes the model to `export_dir` (a version directory)."""
    model = _ResNet(width, seed)
    tf.saved_model.save(model, export_dir,
                        signatures={"serving_default": model.serve})


def predict_request(model_name: str, batch: int = 1):
    """A PredictRequest for `batch` gray images."""
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(
        np.full((batch, IMAGE_SIZE, IMAGE_SIZE, 3), 0.5, np.float32)))
    return request


def check_response(response, batch: int = 1) -> None:
    """Raises ValueError unless the response holds `batch` distributions."""
    probabilities = tf.make_ndarray(response.outputs["probabilities"])
    if (probabilities.shape != (batch, NUM_CLASSES) or
            not np.allclose(probabilities.sum(axis=1), 1.0, rtol=1e-3)):
        raise ValueError(f"not {batch} distributions over {NUM_CLASSES} classes: "
                         f"shape {probabilities.shape}")


def variables_bytes(export_dir: str) -> int:
    """The size of a version's variables on disk."""
    directory = os.path.join(export_dir, "variables")
    return sum(os.path.getsize(os.path.join(directory, name))
               for name in os.listdir(directory))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", help="the version directory to write")
    parser.add_argument("--width", type=float, default=1.0)
    args = parser.parse_args()
    export_resnet(args.export_dir, args.width)
    print(f"{args.export_dir}: {variables_bytes(args.export_dir) / 1e6:.1f} MB of variables")


if __name__ == "__main__":
    main()

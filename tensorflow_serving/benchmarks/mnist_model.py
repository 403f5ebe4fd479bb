"""The tutorial's MNIST model and one real digit, as the benchmark serves them.

The model is exported by the tutorial's own program (mnist_saved_model, a data
dependency of the benchmark), so the benchmark measures what users serve.
"""

import os
import subprocess

import numpy as np

from tensorflow_serving.example import mnist_loop
from tensorflow_serving.model_servers import server_launcher

SIGNATURE = "predict_images"
INPUT_ALIAS = "images"
OUTPUT_ALIAS = "scores"


def export_model(export_base: str, version: int = 1, training_iteration: int = 100,
                 log_path: str | None = None) -> str:
    """Runs mnist_saved_model; returns export_base/<version>.

    Raises:
      RuntimeError: mnist_saved_model failed (its output is in the message).
    """
    argv = mnist_loop.export_command(export_base, version, training_iteration)
    result = subprocess.run(argv, env=server_launcher.child_env(), capture_output=True,
                            text=True, check=False)
    if log_path:
        with open(log_path, "w", encoding="utf-8") as f:
            f.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"mnist_saved_model failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")
    return os.path.join(export_base, str(version))


def load_digit(index: int = 0) -> tuple[np.ndarray, int | None]:
    """One MNIST test digit as float32 [1, 784] in [0, 1] (as the tutorial feeds it).

    Returns (image, label or None).
    """
    from tensorflow_serving.example import mnist_input_data  # pylint: disable=g-import-not-at-top
    images_path = mnist_input_data.find_bundled(mnist_input_data.TEST_IMAGES)
    labels_path = mnist_input_data.find_bundled(mnist_input_data.TEST_LABELS)
    if images_path is None:
        raise FileNotFoundError(
            "no bundled MNIST test images (@mnist_data); run with `tools/bazel run`")
    images = mnist_input_data.extract_images(images_path)
    image = images[index].reshape(1, -1).astype(np.float32) / 255.0
    label = None
    if labels_path:
        label = int(mnist_input_data.extract_labels(labels_path)[index])
    return image, label

"""The tutorial's MNIST model and one real digit, as the benchmark serves them.

The model is exported by the tutorial's own program (mnist_saved_model, a data
dependency of the benchmark), so the benchmark measures what users serve.
"""

import os
import subprocess
import sys

import numpy as np

EXPORTER = "tensorflow_serving/example/mnist_saved_model"
SERVER = "tensorflow_serving/model_servers/tensorflow_model_server"
PYTHON_PLANE_SERVER = "tensorflow_serving/model_servers/tensorflow_model_server_python_plane"
SIGNATURE = "predict_images"
INPUT_ALIAS = "images"
OUTPUT_ALIAS = "scores"


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _runfiles_roots() -> list[str]:
    roots = [os.environ.get("RUNFILES_DIR"), os.environ.get("TEST_SRCDIR")]
    if sys.argv and sys.argv[0]:
        roots.append(os.path.abspath(sys.argv[0]) + ".runfiles")
    # Bazel's stub runs this file from <runfiles>/<workspace>/tensorflow_serving/
    # ...; abspath, not realpath: the runfiles tree is made of symlinks.
    roots.append(os.path.dirname(repo_root()))
    return [r for r in roots if r and os.path.isdir(r)]


def program_command(relative: str) -> list[str]:
    """How to run a py_binary of this repo: from runfiles under Bazel, else the .py."""
    for root in _runfiles_roots():
        workspaces = [os.environ.get("TEST_WORKSPACE")] + sorted(os.listdir(root))
        for workspace in filter(None, workspaces):
            path = os.path.join(root, workspace, relative)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return [path]
    script = os.path.join(repo_root(), relative + ".py")
    if not os.path.isfile(script):
        raise FileNotFoundError(f"{relative} is neither in the runfiles nor at {script}")
    return [sys.executable, script]


def child_env(extra=None) -> dict:
    """Environment for child programs: the repo importable, TF's logs quiet."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    for path in [repo_root()] + [p for p in sys.path if p]:
        if path not in paths:
            paths.append(path)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if extra:
        env.update(extra)
    return env


def export_model(export_base: str, version: int = 1, training_iteration: int = 100,
                 log_path: str | None = None) -> str:
    """Runs mnist_saved_model; returns export_base/<version>."""
    argv = program_command(EXPORTER) + [f"--training_iteration={training_iteration}",
                                        f"--model_version={version}", export_base]
    result = subprocess.run(argv, env=child_env(), capture_output=True, text=True,
                            check=False)
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

"""Train -> serve -> query steps for the MNIST loop tests.

Each step runs the real program (exporter, model server, client) as a child
process, like a learner following the tutorial; everything lives under the
test's temporary directory and the server is stopped even if the test fails.
"""

import os
import subprocess

from absl import logging
import numpy

# The model server's kernels (see tensorflow_model_server.py), so that this
# process's arithmetic is the server's: set before TensorFlow is imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tensorflow_serving.example import mnist_input_data
from tensorflow_serving.example import mnist_loop
from tensorflow_serving.model_servers import server_launcher

MODEL_NAME = mnist_loop.MODEL_NAME
PREDICT_SIGNATURE = 'predict_images'
_EXPORT_TIMEOUT_SECONDS = 300
_CLIENT_TIMEOUT_SECONDS = 300


def data_dir(testcase):
    """An empty --work_dir under TEST_TMPDIR: the programs then read Bazel's
    bundled digits, never whatever MNIST files /tmp may hold."""
    return testcase.create_tempdir().full_path


def export_model(testcase, base_path, version=1, training_iteration=1000,
                 work_dir=None):
    """Runs mnist_saved_model; returns base_path/<version>."""
    result = subprocess.run(
        mnist_loop.export_command(base_path, version, training_iteration,
                                  work_dir or data_dir(testcase)),
        env=server_launcher.child_env(), capture_output=True, text=True,
        timeout=_EXPORT_TIMEOUT_SECONDS, check=False)
    testcase.assertEqual(result.returncode, 0,
                         'mnist_saved_model failed:\n%s\n%s'
                         % (result.stdout, result.stderr))
    export_path = os.path.join(base_path, str(version))
    testcase.assertTrue(
        os.path.isfile(os.path.join(export_path, 'saved_model.pb')),
        result.stdout)
    return export_path


def start_server(testcase, base_path, file_system_poll_wait_seconds=None):
    """The model server (:model_server_under_test) serving base_path as
    'mnist', with at least one version AVAILABLE; stopped at cleanup."""
    args = ['--model_name=' + MODEL_NAME, '--model_base_path=' + base_path]
    if file_system_poll_wait_seconds is not None:
        args.append('--file_system_poll_wait_seconds=%d'
                    % file_system_poll_wait_seconds)
    logging.info('Model server: %s', ' '.join(server_launcher.server_command()))
    server = server_launcher.ServerRunner(
        args, log_dir=testcase.create_tempdir().full_path)
    testcase.addCleanup(server.cleanup)
    server.start(models=[MODEL_NAME])
    return server


def run_client(testcase, server_address, num_tests, concurrency=1, rest=False):
    """Runs mnist_client to the end; returns the CompletedProcess (text)."""
    return subprocess.run(
        mnist_loop.client_command(server_address, num_tests, concurrency,
                                  rest, data_dir(testcase)),
        env=server_launcher.child_env(), capture_output=True, text=True,
        timeout=_CLIENT_TIMEOUT_SECONDS, check=False)


def client_errors(testcase, result, num_tests):
    """Number of wrong answers from the client's `Inference error rate` line,
    after checking the run went through without a failed request."""
    testcase.assertEqual(result.returncode, 0,
                         'mnist_client failed:\n%s\n%s'
                         % (result.stdout[-3000:], result.stderr[-3000:]))
    testcase.assertIn(', 0 failed', result.stdout)
    rate = mnist_loop.parse_error_rate(result.stdout)
    testcase.assertIsNotNone(
        rate, 'no error rate as last line:\n' + result.stdout[-3000:])
    errors = rate * num_tests / 100.0
    testcase.assertAlmostEqual(errors, round(errors), delta=1e-6)
    return int(round(errors))


def in_process_errors(export_path, num_tests, work_dir):
    """Wrong answers of the exported model on the client's first `num_tests`
    test images, computed with TensorFlow in this process.

    One image per run, as the client sends them, so the arithmetic is the
    same as the server's and the argmax ties break the same way.
    """
    test = mnist_input_data.read_data_sets(work_dir).test
    images, labels = test.images[:num_tests], test.labels[:num_tests]
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(
            sess, [tf.compat.v1.saved_model.tag_constants.SERVING],
            export_path)
        signature = meta_graph.signature_def[PREDICT_SIGNATURE]
        images_tensor = signature.inputs['images'].name
        scores_tensor = signature.outputs['scores'].name
        predictions = [
            int(numpy.argmax(sess.run(scores_tensor,
                                      {images_tensor: image[None, :]})))
            for image in images]
    return int(numpy.sum(numpy.array(predictions) != labels))


def model_states(server):
    """{version: ModelVersionStatus.State} from GetModelStatus."""
    response = server.model_status(MODEL_NAME)
    return {s.version: s.state for s in response.model_version_status}

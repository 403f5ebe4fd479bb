"""A new model version under load: the server switches without failing a request.

Serves version 1, keeps mnist_client busy, exports version 2 into the same
base directory (as the tutorial suggests) and checks that the server loads
version 2, unloads version 1, and that no request failed meanwhile.
"""

import os
import re
import subprocess
import time

from absl import logging
from absl.testing import absltest
import numpy
import tensorflow as tf

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.example import mnist_loop
from tensorflow_serving.example import mnist_test_util

_State = get_model_status_pb2.ModelVersionStatus.State
# Enough requests to outlast exporting and loading version 2: about 30 s of
# work for the client at concurrency 2 on a slow machine, and the test checks
# that it really was still running when version 1 went away.
NUM_REQUESTS = 10000
CONCURRENCY = 2
TRAINING_ITERATION = 300  # the accuracy does not matter here
_TIMEOUT_SECONDS = 180


def _wait_for(predicate, what, timeout=_TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for ' + what)
        time.sleep(0.1)


class MnistRolloverTest(absltest.TestCase):

    def _start_client(self, port, log_path):
        with open(log_path, 'wb') as log:
            client = subprocess.Popen(
                mnist_loop.client_command(
                    'localhost:%d' % port, NUM_REQUESTS, CONCURRENCY,
                    work_dir=mnist_test_util.data_dir(self)),
                env=mnist_loop.child_env(), stdout=log,
                stderr=subprocess.STDOUT)

        def stop():
            if client.poll() is None:
                client.kill()
            client.wait()
        self.addCleanup(stop)
        return client

    def test_version_2_replaces_version_1_without_failed_requests(self):
        base_path = self.create_tempdir('mnist_model').full_path
        mnist_test_util.export_model(self, base_path, version=1,
                                     training_iteration=TRAINING_ITERATION)
        server = mnist_test_util.start_server(
            self, base_path, file_system_poll_wait_seconds=1)
        self.assertEqual(mnist_test_util.model_states(server),
                         {1: _State.AVAILABLE})

        log_path = os.path.join(self.create_tempdir().full_path, 'client.log')
        client = self._start_client(server.grpc_port, log_path)

        def client_output():
            with open(log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')

        # Export while requests flow: after the client's first 100 answers.
        _wait_for(lambda: ' 100/%d' % NUM_REQUESTS in client_output()
                  or client.poll() is not None, 'the client to get going')
        self.assertIsNone(client.poll(), client_output())
        mnist_test_util.export_model(self, base_path, version=2,
                                     training_iteration=TRAINING_ITERATION)

        def rolled_over():
            states = mnist_test_util.model_states(server)
            return (states.get(2) == _State.AVAILABLE and
                    states.get(1, _State.END) == _State.END)
        _wait_for(rolled_over, 'version 2 AVAILABLE and version 1 END')
        progress = re.findall(r' (\d+)/%d\n' % NUM_REQUESTS, client_output())
        logging.info('Switched to version 2 after about %s of %d requests',
                     progress[-1] if progress else 0, NUM_REQUESTS)
        self.assertIsNone(
            client.poll(),
            'the client ended before the switch; raise NUM_REQUESTS:\n'
            + client_output()[-2000:])

        self.assertEqual(client.wait(_TIMEOUT_SECONDS), 0,
                         client_output()[-3000:])
        output = client_output()
        self.assertIn('%d requests in' % NUM_REQUESTS, output)
        self.assertIn(', 0 failed', output)
        self.assertNotIn('Request failed', output)
        self.assertIsNotNone(mnist_loop.parse_error_rate(output), output)

        states = mnist_test_util.model_states(server)
        self.assertEqual(states.get(2), _State.AVAILABLE)
        self.assertEqual(states.get(1, _State.END), _State.END)
        # New requests are answered by version 2.
        request = predict_pb2.PredictRequest()
        request.model_spec.name = mnist_test_util.MODEL_NAME
        request.model_spec.signature_name = mnist_test_util.PREDICT_SIGNATURE
        request.inputs['images'].CopyFrom(
            tf.make_tensor_proto(numpy.zeros([1, 784], numpy.float32)))
        response = server.prediction_stub.Predict(request, timeout=10)
        self.assertEqual(response.model_spec.version.value, 2)


if __name__ == '__main__':
    absltest.main()

"""A new model version under load: the server switches without failing a request.

Serves version 1 and keeps two clients busy: mnist_client, and a steady
client that calls Predict until the test stops it, so requests are in flight
for the whole switch however fast the machine is. Version 2 is exported
beforehand and renamed into the base directory (as a deployment would make it
appear); the test checks that the server loads version 2, unloads version 1,
and that no request failed meanwhile.
"""

import os
import re

from absl import logging
from absl.testing import absltest
import numpy
import tensorflow as tf

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.example import mnist_loop
from tensorflow_serving.example import mnist_test_util
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import steady_client
from tensorflow_serving.test_util import test_util

_State = get_model_status_pb2.ModelVersionStatus.State
NUM_REQUESTS = 10000
CONCURRENCY = 2
TRAINING_ITERATION = 300  # the accuracy does not matter here
_TIMEOUT_SECONDS = 180


def _predict_request():
    """The tutorial's Predict request, on a blank image."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = mnist_test_util.MODEL_NAME
    request.model_spec.signature_name = mnist_test_util.PREDICT_SIGNATURE
    request.inputs['images'].CopyFrom(
        tf.make_tensor_proto(numpy.zeros([1, 784], numpy.float32)))
    return request


class MnistRolloverTest(absltest.TestCase):

    def test_version_2_replaces_version_1_without_failed_requests(self):
        base_path = self.create_tempdir('mnist_model').full_path
        staging = self.create_tempdir('staging').full_path
        mnist_test_util.export_model(self, base_path, version=1,
                                     training_iteration=TRAINING_ITERATION)
        mnist_test_util.export_model(self, staging, version=2,
                                     training_iteration=TRAINING_ITERATION)
        server = mnist_test_util.start_server(
            self, base_path, file_system_poll_wait_seconds=1)
        self.assertEqual(mnist_test_util.model_states(server),
                         {1: _State.AVAILABLE})

        client = server_launcher.Process(
            mnist_loop.client_command(
                'localhost:%d' % server.grpc_port, NUM_REQUESTS, CONCURRENCY,
                work_dir=mnist_test_util.data_dir(self)),
            log_dir=self.create_tempdir().full_path)
        self.addCleanup(client.cleanup)
        steady = steady_client.SteadyClient(
            server, mnist_test_util.MODEL_NAME, grpc_request=_predict_request(),
            rest_body={'signature_name': mnist_test_util.PREDICT_SIGNATURE,
                       'instances': [[0.0] * 784]})
        with steady:
            # Switch while requests flow: after the client's first 100 answers.
            client.wait_for_output(' 100/%d' % NUM_REQUESTS, _TIMEOUT_SECONDS)
            os.rename(os.path.join(staging, '2'), os.path.join(base_path, '2'))

            def rolled_over():
                states = mnist_test_util.model_states(server)
                return (states.get(2) == _State.AVAILABLE and
                        states.get(1, _State.END) == _State.END)
            test_util.wait_for(rolled_over, 'version 2 AVAILABLE and version 1 END',
                               _TIMEOUT_SECONDS, interval=0.1)
            test_util.wait_for(lambda: 2 in steady.versions, 'an answer of version 2',
                               _TIMEOUT_SECONDS)
            self.assertTrue(steady.running(), 'the steady client stopped early')
        progress = re.findall(r' (\d+)/%d\n' % NUM_REQUESTS, client.output())
        logging.info('Switched to version 2 after about %s of %d requests',
                     progress[-1] if progress else 0, NUM_REQUESTS)
        steady.check(self)
        self.assertEqual(steady.versions, {1, 2})

        self.assertEqual(client.wait(_TIMEOUT_SECONDS), 0,
                         client.output()[-3000:])
        output = client.output()
        self.assertIn('%d requests in' % NUM_REQUESTS, output)
        self.assertIn(', 0 failed', output)
        self.assertNotIn('Request failed', output)
        self.assertIsNotNone(mnist_loop.parse_error_rate(output), output)

        states = mnist_test_util.model_states(server)
        self.assertEqual(states.get(2), _State.AVAILABLE)
        self.assertEqual(states.get(1, _State.END), _State.END)
        # New requests are answered by version 2.
        response = server.prediction_stub.Predict(_predict_request(), timeout=10)
        self.assertEqual(response.model_spec.version.value, 2)


if __name__ == '__main__':
    absltest.main()

"""Tests mnist_client against small fake servers (gRPC and REST).

The fakes recognise each test image and answer with its true label, except
for the digits listed in `wrong_digits`, so the expected error rate is known
exactly. The data is a small synthetic MNIST written to the work dir.
"""

import concurrent.futures
import contextlib
import gzip
import http.server
import io
import json
import os
import re
import struct
import subprocess
import sys
import threading

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
import grpc
import numpy
import tensorflow as tf

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.example import mnist_client
from tensorflow_serving.example import mnist_input_data
from tensorflow_serving.example import mnist_plots
from tensorflow_serving.example import png_panels
from tensorflow_serving.test_util import test_util
from tensorflow_serving.util import net_util

FLAGS = flags.FLAGS

_NUM_TEST_IMAGES = 40



def _write_dataset(work_dir):
    """Writes a tiny MNIST (labels 0-9) to work_dir: as in MNIST, random
    pixels in the middle 20x20 of a black 28x28 square."""
    rng = numpy.random.default_rng(11)
    for prefix, count in (('train', 24), ('t10k', _NUM_TEST_IMAGES)):
        images = numpy.zeros((count, 28, 28), dtype=numpy.uint8)
        images[:, 4:24, 4:24] = rng.integers(0, 256, size=(count, 20, 20),
                                             dtype=numpy.uint8)
        labels = (numpy.arange(count) % 10).astype(numpy.uint8)
        with gzip.open(os.path.join(work_dir, f'{prefix}-images-idx3-ubyte.gz'),
                       'wb') as f:
            f.write(struct.pack('>IIII', 2051, count, 28, 28)
                    + images.tobytes())
        with gzip.open(os.path.join(work_dir, f'{prefix}-labels-idx1-ubyte.gz'),
                       'wb') as f:
            f.write(struct.pack('>II', 2049, count) + labels.tobytes())



class _FakeModel:
    """Answers with the true label, except for the `wrong_digits`."""

    def __init__(self, test_set, wrong_digits=(), fail_calls=()):
        self.labels = {image.astype(numpy.float32).tobytes(): int(label)
                       for image, label in zip(test_set.images,
                                               test_set.labels)}
        self.wrong_digits = set(wrong_digits)
        self.fail_calls = set(fail_calls)  # 1-based numbers of calls to fail
        self.calls = 0
        self.lock = threading.Lock()

    def call_number(self):
        with self.lock:
            self.calls += 1
            return self.calls

    def scores(self, pixels):
        label = self.labels[numpy.asarray(pixels, numpy.float32).tobytes()]
        answer = (label + 1) % 10 if label in self.wrong_digits else label
        scores = numpy.full(10, 0.01, numpy.float32)
        scores[answer] = 0.91
        return scores

    def classes(self, pixels):
        scores = self.scores(pixels)
        # Deliberately not sorted by score: the client must find the best.
        return [(str(digit), float(scores[digit])) for digit in range(10)]


def _fill_scores(tensor, scores):
    """The scores as the server writes a [1, 10] float output: in float_val."""
    tensor.dtype = tf.float32.as_datatype_enum
    tensor.tensor_shape.dim.add(size=1)
    tensor.tensor_shape.dim.add(size=len(scores))
    tensor.float_val.extend(scores)


class _GrpcServicer(prediction_service_pb2_grpc.PredictionServiceServicer):

    def __init__(self, model):
        self.model = model

    def _check(self, request, context, signature):
        number = self.model.call_number()
        if request.model_spec.name != 'mnist':
            context.abort(grpc.StatusCode.NOT_FOUND,
                          'Servable not found for request: Latest(%s)'
                          % request.model_spec.name)
        if request.model_spec.signature_name != signature:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          'unexpected signature %r'
                          % request.model_spec.signature_name)
        if number in self.model.fail_calls:
            context.abort(grpc.StatusCode.INTERNAL, 'injected failure')

    def Predict(self, request, context):
        self._check(request, context, 'predict_images')
        tensor = request.inputs['images']
        assert [d.size for d in tensor.tensor_shape.dim] == [1, 784]
        pixels = numpy.frombuffer(tensor.tensor_content, numpy.float32)
        response = predict_pb2.PredictResponse()
        _fill_scores(response.outputs['scores'], self.model.scores(pixels))
        return response

    def Classify(self, request, context):
        self._check(request, context, 'serving_default')
        (example,) = request.input.example_list.examples
        pixels = example.features.feature['x'].float_list.value
        response = classification_pb2.ClassificationResponse()
        result = response.result.classifications.add()
        for label, score in self.model.classes(pixels):
            result.classes.add(label=label, score=score)
        return response


def _rest_handler(model):

    class Handler(http.server.BaseHTTPRequestHandler):

        def log_message(self, *args):  # keep the test output quiet
            pass

        def _reply(self, code, body):
            payload = json.dumps(body).encode()
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):
            length = int(self.headers['Content-Length'])
            body = json.loads(self.rfile.read(length))
            number = model.call_number()
            match = re.fullmatch(r'/v1/models/([^/:]+):(predict|classify)',
                                 self.path)
            if not match or match.group(1) != 'mnist':
                self._reply(404, {'error': 'Servable not found for request: '
                                           'Latest(%s)' % match.group(1)})
            elif number in model.fail_calls:
                self._reply(500, {'error': 'injected failure'})
            elif match.group(2) == 'predict':
                assert body['signature_name'] == 'predict_images'
                (pixels,) = body['instances']
                self._reply(200, {'predictions': [
                    model.scores(pixels).tolist()]})
            else:
                assert body['signature_name'] == 'serving_default'
                (example,) = body['examples']
                self._reply(200, {'results': [
                    [list(pair) for pair in model.classes(example['x'])]]})

    return Handler


class MnistClientTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        FLAGS.mark_as_parsed()

    def setUp(self):
        super().setUp()
        self.work_dir = self.create_tempdir().full_path
        _write_dataset(self.work_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            self.test_set = mnist_input_data.read_data_sets(self.work_dir).test

    def _grpc_server(self, model):
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _GrpcServicer(model), server)
        port = server.add_insecure_port('localhost:0')
        server.start()
        self.addCleanup(server.stop, None)
        return 'localhost:%d' % port

    def _rest_server(self, model):
        server = http.server.ThreadingHTTPServer(('localhost', 0),
                                                 _rest_handler(model))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return 'localhost:%d' % server.server_address[1]

    def _run_main(self, **flag_values):
        """Runs the client's main in-process; returns (code, stdout, stderr)."""
        flag_values.setdefault('work_dir', self.work_dir)
        out, err = io.StringIO(), io.StringIO()
        with flagsaver.flagsaver(**flag_values), \
                contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            code = mnist_client.main(['mnist_client.py'])
        return code, out.getvalue(), err.getvalue()

    def _expected_error_rate(self, num_tests, wrong_digits):
        labels = [self.test_set.labels[i % _NUM_TEST_IMAGES]
                  for i in range(num_tests)]
        return sum(label in wrong_digits for label in labels) / num_tests

    def _assert_result(self, stdout, num_tests, error_rate, failed=0):
        lines = stdout.rstrip('\n').splitlines()
        # A percentage as a person writes it: 8.2%, not 8.200000000000001%.
        self.assertRegex(lines[-1], r'^Inference error rate: \d+(\.\d\d?)?%$')
        self.assertEqual(lines[-1], 'Inference error rate: %.4g%%'
                         % (error_rate * 100))
        self.assertEqual(lines[-2], '')
        self.assertRegex(
            lines[-3], r'^%d requests in [\d.]+ s \([\d.]+ requests/s\), '
                       r'latency p50 [\d.]+ ms, p99 [\d.]+ ms, %d failed$'
            % (num_tests, failed))
        self.assertIn(' %d/%d' % (num_tests, num_tests), stdout)

    def test_grpc_predict(self):
        model = _FakeModel(self.test_set, wrong_digits={3, 7})
        code, out, err = self._run_main(server=self._grpc_server(model),
                                        num_tests=30, concurrency=4)
        self.assertEqual(code, 0, err)
        self._assert_result(out, 30, self._expected_error_rate(30, {3, 7}))
        self.assertEqual(model.calls, 30)
        # One dot per response, then the count.
        self.assertIn('.' * 30 + ' 30/30', out.splitlines())

    def _request_log(self, count, model):
        """A request log of the first `count` test images, Predict and
        Classify in turn, with `model`'s answers and version 1."""
        path = os.path.join(self.work_dir, 'requests.tfrecord')
        with tf.io.TFRecordWriter(path) as writer:
            for i in range(count):
                image = self.test_set.images[i]
                log = prediction_log_pb2.PredictionLog()
                if i % 2:
                    request = log.classify_log.request
                    request.CopyFrom(mnist_client._grpc_classify_request('mnist', image))
                    result = log.classify_log.response.result.classifications.add()
                    for label, score in model.classes(image):
                        result.classes.add(label=label, score=score)
                else:
                    request = log.predict_log.request
                    request.CopyFrom(mnist_client._grpc_predict_request('mnist', image))
                    _fill_scores(log.predict_log.response.outputs['scores'],
                                 model.scores(image))
                request.model_spec.version.value = 1
                writer.write(log.SerializeToString())
        return path

    def test_replay_log_counts_answers_that_agree_with_the_logged_ones(self):
        # Logged from a model that was right; the version serving now gets
        # the 3s and the 8s wrong (test images 3 and 8 of the 10).
        path = self._request_log(10, _FakeModel(self.test_set))
        model = _FakeModel(self.test_set, wrong_digits={3, 8})
        code, out, err = self._run_main(server=self._grpc_server(model), replay_log=path)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), 'Replayed 10 logged requests: 8 answers agree with '
                         'the logged ones (80%), 0 failed')
        self.assertEqual(model.calls, 10)

    def test_replay_log_that_is_not_a_log_is_one_line_error(self):
        path = os.path.join(self.work_dir, 'not_a_log')
        with open(path, 'wb') as f:
            f.write(b'not a TFRecord file at all')
        code, out, err = self._run_main(server='localhost:1', replay_log=path)
        self.assertEqual(code, 1)
        self.assertEqual(out, '')
        self.assertRegex(err, r'^Cannot read the request log .*not_a_log: .+\n$')

    def test_grpc_classify(self):
        model = _FakeModel(self.test_set, wrong_digits={0})
        code, out, err = self._run_main(server=self._grpc_server(model),
                                        num_tests=20, signature='classify')
        self.assertEqual(code, 0, err)
        self._assert_result(out, 20, self._expected_error_rate(20, {0}))

    def test_rest_predict(self):
        model = _FakeModel(self.test_set, wrong_digits={5})
        code, out, err = self._run_main(server=self._rest_server(model),
                                        rest=True, num_tests=20, concurrency=3)
        self.assertEqual(code, 0, err)
        self._assert_result(out, 20, self._expected_error_rate(20, {5}))
        self.assertEqual(model.calls, 20)

    def test_rest_classify(self):
        model = _FakeModel(self.test_set, wrong_digits={1, 2})
        code, out, err = self._run_main(server=self._rest_server(model),
                                        rest=True, signature='classify',
                                        num_tests=15)
        self.assertEqual(code, 0, err)
        self._assert_result(out, 15, self._expected_error_rate(15, {1, 2}))

    def test_more_tests_than_images_wraps_around(self):
        model = _FakeModel(self.test_set)
        code, out, _ = self._run_main(server=self._grpc_server(model),
                                      num_tests=_NUM_TEST_IMAGES + 5,
                                      concurrency=2)
        self.assertEqual(code, 0)
        self._assert_result(out, _NUM_TEST_IMAGES + 5, 0.0)

    def test_failed_request_counts_as_error_and_fails_the_run(self):
        for rest in (False, True):
            model = _FakeModel(self.test_set, fail_calls={4})
            server = (self._rest_server(model) if rest
                      else self._grpc_server(model))
            code, out, _ = self._run_main(server=server, rest=rest,
                                          num_tests=10)
            self.assertEqual(code, 1, rest)
            self._assert_result(out, 10, 0.1, failed=1)
            self.assertIn('Request failed:', out)
            self.assertIn('injected failure', out)

    def test_many_failures_are_summarised(self):
        model = _FakeModel(self.test_set, fail_calls=range(2, 17))
        code, out, _ = self._run_main(server=self._grpc_server(model),
                                      num_tests=20)
        self.assertEqual(code, 1)
        self._assert_result(out, 20, 15 / 20, failed=15)
        self.assertEqual(out.count('Request failed: INTERNAL: injected'), 10)
        lines = out.splitlines()
        note = lines.index('(further failures are shown as E)')
        self.assertEqual(lines[note - 1],
                         'Request failed: INTERNAL: injected failure')
        self.assertEqual(lines[note + 1], 'EEEEE.... 20/20')

    def test_unknown_model_is_one_line_error(self):
        for rest in (False, True):
            model = _FakeModel(self.test_set)
            server = (self._rest_server(model) if rest
                      else self._grpc_server(model))
            code, out, err = self._run_main(server=server, rest=rest,
                                            model_name='mnist2')
            self.assertEqual(code, 1)
            self.assertNotIn('Inference error rate', out)
            self.assertLen(err.splitlines(), 1, err)
            self.assertIn('Servable not found for request: Latest(mnist2)',
                          err)
            self.assertEqual(model.calls, 1)  # stopped after the first

    def test_unreachable_rest_server_is_one_line_error(self):
        port = net_util.pick_unused_port()
        code, out, err = self._run_main(server='localhost:%d' % port,
                                        rest=True)
        self.assertEqual(code, 1)
        self.assertLen(err.splitlines(), 1, err)
        self.assertIn('The first request to localhost:', err)
        self.assertNotIn('Inference error rate', out)

    def test_unreachable_grpc_server_exits_with_one_line(self):
        # Through the real command line: flags parsing and the exit code too.
        port = net_util.pick_unused_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
                   TF_CPP_MIN_LOG_LEVEL='2')
        result = subprocess.run(
            [sys.executable, mnist_client.__file__, '--num_tests=5',
             '--server=localhost:%d' % port, '--work_dir=' + self.work_dir],
            capture_output=True, text=True, env=env, timeout=120, check=False)
        self.assertNotEqual(result.returncode, 0)
        lines = test_util.program_lines(result.stderr)
        self.assertLen(lines, 1, result.stderr)
        self.assertIn('The first request to localhost:%d failed: UNAVAILABLE'
                      % port, lines[0])
        self.assertNotIn('Traceback', result.stderr)

    def test_argument_validation(self):
        cases = [
            (dict(server='localhost:8500', num_tests=10001),
             'num_tests should not be greater than 10k'),
            (dict(server='localhost:8500', num_tests=0),
             'num_tests should be positive'),
            (dict(server='localhost:8500', concurrency=0),
             'concurrency should be positive'),
            (dict(server=''), 'please specify server host:port'),
            (dict(server='localhost'), "--server should be host:port"),
            (dict(server='localhost:http'), "--server should be host:port"),
        ]
        for flag_values, message in cases:
            code, out, err = self._run_main(**flag_values)
            self.assertEqual(code, 1, flag_values)
            self.assertEqual(err.splitlines(), [err.strip()], flag_values)
            self.assertIn(message, err)
            self.assertEqual(out, '', flag_values)  # nothing was attempted

    def test_missing_data_is_one_line_error(self):
        with open(os.path.join(self.work_dir, 't10k-images-idx3-ubyte.gz'),
                  'wb') as f:
            f.write(b'garbage')
        port = net_util.pick_unused_port()
        code, _, err = self._run_main(server='localhost:%d' % port)
        self.assertEqual(code, 1)
        self.assertLen(err.splitlines(), 1, err)
        self.assertIn('t10k-images-idx3-ubyte.gz', err)

    def test_plot_dir_draws_the_wrong_digits_and_the_latencies(self):
        model = _FakeModel(self.test_set, wrong_digits={3, 7})
        plot_dir = os.path.join(self.create_tempdir().full_path, 'plots')
        code, out, err = self._run_main(server=self._grpc_server(model),
                                        num_tests=30, concurrency=4,
                                        plot_dir=plot_dir)
        self.assertEqual(code, 0, err)
        wrong = round(self._expected_error_rate(30, {3, 7}) * 30)
        self.assertEqual(wrong, 6)
        digits = os.path.join(plot_dir, 'wrong_digits.png')
        latency = os.path.join(plot_dir, 'latency_histogram.png')
        lines = out.splitlines()
        self.assertEqual(lines[-4:-2], [
            'Wrote %s (6 wrong digits)' % digits,
            'Wrote %s (latency histogram of 30 requests)' % latency])
        self.assertEqual(png_panels.count_panels(digits, 'black'), wrong)
        self.assertEqual(
            png_panels.count_panels(latency, mnist_plots.PLOT_BACKGROUND), 1)

    def test_unusable_plot_dir_fails_before_any_request(self):
        model = _FakeModel(self.test_set)
        blocker = os.path.join(self.create_tempdir().full_path, 'file')
        with open(blocker, 'w'):
            pass
        code, out, err = self._run_main(server=self._grpc_server(model),
                                        plot_dir=os.path.join(blocker, 'plots'))
        self.assertEqual(code, 1)
        self.assertLen(err.splitlines(), 1, err)
        self.assertIn(blocker, err)
        self.assertEqual(model.calls, 0)
        self.assertEqual(out, '')

    def test_error_rate_format(self):
        self.assertEqual(mnist_client.format_percent(82, 1000), '8.2%')
        self.assertEqual(mnist_client.format_percent(1, 3), '33.33%')
        self.assertEqual(mnist_client.format_percent(0, 7), '0%')
        self.assertEqual(mnist_client.format_percent(10, 10), '100%')
        self.assertEqual(mnist_client.format_percent(1, 10000), '0.01%')

    def test_percentile(self):
        values = list(range(1, 101))
        self.assertEqual(mnist_client._percentile(values, 50), 50)
        self.assertEqual(mnist_client._percentile(values, 99), 99)
        self.assertEqual(mnist_client._percentile([7], 99), 7)


if __name__ == '__main__':
    absltest.main()

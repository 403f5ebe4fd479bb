"""A client that talks to tensorflow_model_server loaded with the mnist model.

The client reads the test images of the MNIST data set, sends them to the
model server, compares the predicted digits with the true labels and prints
the inference error rate.

Typical usage example:

    mnist_client.py --num_tests=100 --server=localhost:8500

Beyond upstream's client:
  --rest              use the REST API (--server then names the REST port,
                      e.g. localhost:8501) instead of gRPC
  --signature=classify
                      use the model's `serving_default` classification
                      signature (Classify API, tf.Example inputs) instead of
                      `predict_images` (Predict API, a tensor of pixels)
  --model_name        the model to query (default 'mnist')
  --plot_dir          write two pictures there: the digits the model got
                      wrong (wrong_digits.png) and a histogram of the
                      request latencies (latency_histogram.png)
  --replay_log=FILE   instead of the test images, send the Predict and
                      Classify requests of a request log (a model's
                      logging_config file) over gRPC to the version serving
                      now, and print how many answers agree with the logged
                      ones (the same top class for each output)
and a summary line (throughput, latency, failures) before the error rate.
"""

import concurrent.futures
import http.client
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

# Set before TensorFlow loads: its C++ start-up lines (INFO) would bury the
# client's output, and oneDNN's custom ops (which announce themselves) do
# nothing for a program that only builds request protos.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import grpc
import numpy
import tensorflow as tf

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.example import command_line
from tensorflow_serving.example import mnist_input_data

flags.DEFINE_integer('concurrency', 1,
                     'maximum number of concurrent inference requests')
flags.DEFINE_integer('num_tests', 100, 'Number of test images')
flags.DEFINE_string('server', '', 'PredictionService host:port')
flags.DEFINE_string('work_dir', '/tmp', 'Working directory. ')
flags.DEFINE_string('model_name', 'mnist', 'Name of the model to query.')
flags.DEFINE_bool('rest', False,
                  'Use the REST API (--server is then the REST host:port).')
flags.DEFINE_enum('signature', 'predict', ['predict', 'classify'],
                  "predict: Predict API on the 'predict_images' signature; "
                  "classify: Classify API on the 'serving_default' signature.")
flags.DEFINE_string('plot_dir', '',
                    'Write wrong_digits.png (the digits predicted wrong, with '
                    'their true and predicted labels) and latency_histogram.png '
                    'into this directory (created if needed).')
flags.DEFINE_string('replay_log', '',
                    'Replay the Predict and Classify requests of this request '
                    'log (TFRecord of PredictionLog) over gRPC and report how '
                    'many answers agree with the logged ones.')
FLAGS = flags.FLAGS

MAX_NUM_TESTS = 10000
TIMEOUT_SECONDS = 5.0  # deadline of each request, as upstream
PREDICT_SIGNATURE = 'predict_images'
CLASSIFY_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
_DOTS_PER_LINE = 100
_MAX_FAILURES_SHOWN = 10


class ClientError(Exception):
    """A problem reported as one line (bad flags, unreachable server...)."""


class _RequestError(Exception):
    """One failed REST request, or a response the client cannot read."""

    def __init__(self, message, http_status=None):
        super().__init__(message)
        self.http_status = http_status  # None: no HTTP answer at all


class _ResultCounter:
    """Counts the results, and limits how many requests are in flight.

    Responses arrive on other threads (gRPC's or the REST thread pool's), so
    every update goes through one condition variable, which also lets the
    main thread wait: in throttle() for a free slot, in get_error_rate() for
    the last response.
    """

    def __init__(self, num_tests, concurrency):
        self._num_tests = num_tests
        self._concurrency = concurrency
        self._error = 0
        self._failed = 0
        self._done = 0
        self._active = 0
        self._latencies = []
        self._wrong = []  # (image, true label, predicted label), in order
        self._mid_line = False  # progress output ends without a newline
        self._condition = threading.Condition()

    def record(self, latency, correct, failure=None, wrong=None):
        """Records one finished request and prints its progress mark.

        wrong: (image, true label, predicted label) of a wrong answer.
        """
        with self._condition:
            self._done += 1
            self._active -= 1
            self._latencies.append(latency)
            if wrong is not None:
                self._wrong.append(wrong)
            # Progress: a dot per answer, the first failures in full and
            # later ones as 'E', a count at the end of each line.
            if failure is None:
                self._write('.')
            else:
                self._failed += 1
                if self._failed <= _MAX_FAILURES_SHOWN:
                    self._write_line('Request failed: %s' % failure)
                else:
                    if self._failed == _MAX_FAILURES_SHOWN + 1:
                        self._write_line('(further failures are shown as E)')
                    self._write('E')
            if not correct:
                self._error += 1
            if (self._done % _DOTS_PER_LINE == 0
                    or self._done == self._num_tests):
                self._write(' %d/%d\n' % (self._done, self._num_tests))
            sys.stdout.flush()
            self._condition.notify_all()

    def _write(self, text):
        sys.stdout.write(text)
        if text:
            self._mid_line = not text.endswith('\n')

    def _write_line(self, line):
        self._write(('\n' if self._mid_line else '') + line + '\n')

    def throttle(self):
        """Waits until fewer than `concurrency` requests are in flight."""
        with self._condition:
            while self._active >= self._concurrency:
                self._condition.wait()
            self._active += 1

    def get_error_rate(self):
        """Waits for all responses; returns the fraction of wrong answers."""
        with self._condition:
            while self._done != self._num_tests:
                self._condition.wait()
            return self._error / float(self._num_tests)

    @property
    def failed(self):
        with self._condition:
            return self._failed

    @property
    def errors(self):
        """Wrong answers, failed requests included."""
        with self._condition:
            return self._error

    def wrong(self):
        """(image, true label, predicted label) of each wrong prediction."""
        with self._condition:
            return list(self._wrong)

    def latencies(self):
        with self._condition:
            return sorted(self._latencies)


def format_percent(count, total):
    """count/total as a percentage: 82 of 1000 is '8.2%', never 8.200000000000001%."""
    return '%.4g%%' % (100.0 * count / total)


def _percentile(sorted_values, percent):
    """Nearest-rank percentile of a sorted, non-empty list."""
    rank = max(1, int(numpy.ceil(percent / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def _describe(exception):
    """One printable line (at most 300 characters) for a failed request."""
    if isinstance(exception, grpc.RpcError):
        text = '%s: %s' % (exception.code().name, exception.details() or '')
    else:
        text = str(exception)
    text = ' '.join(text.split())
    text = ''.join(c if c.isprintable() else '?' for c in text)
    return text if len(text) <= 300 else text[:297] + '...'


# --- The four kinds of request: (gRPC | REST) x (predict | classify). ---
# Each `*_request` / `*_body` turns one image into a request; each
# `*_prediction` reads the predicted digit from the response.

def _grpc_predict_request(model_name, image):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = PREDICT_SIGNATURE
    request.inputs['images'].CopyFrom(
        tf.make_tensor_proto(image, shape=[1, image.size]))
    return request


def _grpc_predict_prediction(response):
    return int(numpy.argmax(response.outputs['scores'].float_val))


def _grpc_classify_request(model_name, image):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = CLASSIFY_SIGNATURE
    example = request.input.example_list.examples.add()
    example.features.feature['x'].float_list.value.extend(image)
    return request


def _grpc_classify_prediction(response):
    # One Classifications per example: (label, score) for each of the ten
    # digits. The model lists the most likely first; max() does not rely on it.
    classes = response.result.classifications[0].classes
    return int(max(classes, key=lambda c: c.score).label)


def _rest_predict_body(image):
    return {'signature_name': PREDICT_SIGNATURE, 'instances': [image.tolist()]}


def _rest_predict_prediction(response):
    return int(numpy.argmax(response['predictions'][0]))


def _rest_classify_body(image):
    return {'signature_name': CLASSIFY_SIGNATURE,
            'examples': [{'x': image.tolist()}]}


def _rest_classify_prediction(response):
    # "results": one list of [label, score] pairs per example.
    label, _ = max(response['results'][0], key=lambda pair: pair[1])
    return int(label)


def _post_json(url, body):
    """POSTs `body` as JSON; returns the decoded JSON response."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode('utf-8'),
        headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as e:
        # The model server explains errors as {"error": "..."}.
        detail = e.read().decode('utf-8', 'replace')
        try:
            detail = json.loads(detail)['error']
        except (ValueError, KeyError, TypeError):
            pass
        raise _RequestError('HTTP %d: %s' % (e.code, detail),
                            http_status=e.code) from None
    except urllib.error.URLError as e:
        raise _RequestError('cannot reach %s: %s' % (url, e.reason)) from None
    except http.client.HTTPException:
        raise _RequestError('%s did not answer in HTTP' % url) from None
    except (OSError, ValueError) as e:  # timeouts, resets, bad JSON
        raise _RequestError('%s: %s' % (url, e)) from None


class _Sender:
    """Sends one image with the chosen API; .close() releases connections."""

    def __init__(self, hostport, model_name, rest, signature, concurrency):
        classify = signature == 'classify'
        if rest:
            self._url = 'http://%s/v1/models/%s:%s' % (
                hostport, model_name, 'classify' if classify else 'predict')
            self._body = _rest_classify_body if classify else _rest_predict_body
            self.prediction = (_rest_classify_prediction if classify
                               else _rest_predict_prediction)
            # One thread per request in flight, so REST runs as concurrently
            # as gRPC's asynchronous futures.
            self._pool = concurrent.futures.ThreadPoolExecutor(concurrency)
            self._channel = None
        else:
            self._channel = grpc.insecure_channel(hostport)
            stub = prediction_service_pb2_grpc.PredictionServiceStub(
                self._channel)
            self._model_name = model_name
            self._rpc = stub.Classify if classify else stub.Predict
            self._request = (_grpc_classify_request if classify
                             else _grpc_predict_request)
            self.prediction = (_grpc_classify_prediction if classify
                               else _grpc_predict_prediction)
            self._pool = None

    def send(self, image):
        """Starts one request; returns a future of its response."""
        if self._pool:
            return self._pool.submit(_post_json, self._url, self._body(image))
        request = self._request(self._model_name, image)
        return self._rpc.future(request, TIMEOUT_SECONDS)

    def close(self):
        if self._pool:
            self._pool.shutdown(wait=True)
        if self._channel:
            self._channel.close()


def _create_rpc_callback(image, label, result_counter, prediction, start):
    """Creates the callback run when one request completes.

    Args:
      image: The example sent (784 pixels), kept if the answer is wrong.
      label: The correct label for the predicted example.
      result_counter: Counter for the prediction result.
      prediction: Reads the predicted digit from a response.
      start: time.perf_counter() when the request was sent.
    Returns:
      The callback function.
    """
    def _callback(result_future):
        latency = time.perf_counter() - start
        correct, failure, wrong = False, None, None
        exception = result_future.exception()
        if exception is not None:
            failure = _describe(exception)  # counted as a wrong answer
        else:
            try:
                predicted = prediction(result_future.result())
                correct = predicted == label
                if not correct:
                    wrong = (image, int(label), predicted)
            except (KeyError, IndexError, TypeError, ValueError) as e:
                failure = 'unexpected response: %r' % (e,)
        result_counter.record(latency, correct, failure, wrong)
    return _callback


def _explain_first_failure(hostport, model_name, exception):
    """The error for a first request that failed: usually a setup problem."""
    port = hostport.rpartition(':')[2]
    not_running = ('is tensorflow_model_server running there, with %s=%s?'
                   % ('--rest_api_port' if isinstance(exception, _RequestError)
                      else '--port', port))
    no_model = 'is a model named %r loaded? see --model_name' % model_name
    hint = None
    if isinstance(exception, grpc.RpcError):
        hint = {grpc.StatusCode.UNAVAILABLE: not_running,
                grpc.StatusCode.NOT_FOUND: no_model}.get(exception.code())
    elif isinstance(exception, _RequestError):
        hint = {None: not_running, 404: no_model}.get(exception.http_status)
    return 'The first request to %s failed: %s%s' % (
        hostport, _describe(exception), ' (%s)' % hint if hint else '')


def do_inference(hostport, work_dir, concurrency, num_tests,
                 model_name='mnist', rest=False, signature='predict'):
    """Tests PredictionService with concurrent requests.

    Args:
      hostport: Host:port address of the PredictionService (gRPC or REST).
      work_dir: The full path of working directory for test data set.
      concurrency: Maximum number of concurrent requests.
      num_tests: Number of test images to use.
      model_name: Name of the model to query.
      rest: Use the REST API instead of gRPC.
      signature: 'predict' or 'classify'.

    Returns:
      (error rate, result counter, elapsed seconds).

    Raises:
      IOError: An error occurred processing test data set.
      ClientError: The first request failed, so the others would too.
    """
    test_data_set = mnist_input_data.read_data_sets(work_dir).test
    sender = _Sender(hostport, model_name, rest, signature, concurrency)
    result_counter = _ResultCounter(num_tests, concurrency)
    start = time.perf_counter()
    try:
        for i in range(num_tests):
            image, label = test_data_set.next_batch(1)
            result_counter.throttle()
            sent = time.perf_counter()
            result_future = sender.send(image[0])
            if i == 0:
                # Wait for the first answer before sending the rest: a wrong
                # address or model name then gives one clear error instead of
                # num_tests failures.
                exception = result_future.exception()
                if exception is not None:
                    raise ClientError(_explain_first_failure(
                        hostport, model_name, exception))
            result_future.add_done_callback(
                _create_rpc_callback(image[0], label[0], result_counter,
                                     sender.prediction, sent))
        error_rate = result_counter.get_error_rate()
    finally:
        sender.close()
    return error_rate, result_counter, time.perf_counter() - start


def _top_classes(tensor_map):
    """{output: the index of its highest value along the last axis}."""
    return {key: numpy.argmax(tf.make_ndarray(tensor), axis=-1).tolist()
            for key, tensor in tensor_map.items()}


def _top_labels(result):
    """The label of each example's highest-scoring class."""
    return [max(c.classes, key=lambda k: k.score).label if c.classes else None
            for c in result.classifications]


def _logged_calls(path):
    """(method, request, check) of each Predict and Classify log in the file;
    check(response) says whether a new answer agrees with the logged one."""
    calls = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        kind = log.WhichOneof('log_type')
        if kind == 'predict_log':
            logged = _top_classes(log.predict_log.response.outputs)
            calls.append(('Predict', log.predict_log.request,
                          lambda r, logged=logged: _top_classes(
                              {k: r.outputs[k] for k in logged if k in r.outputs})
                          == logged))
        elif kind == 'classify_log':
            logged = _top_labels(log.classify_log.response.result)
            calls.append(('Classify', log.classify_log.request,
                          lambda r, logged=logged: _top_labels(r.result) == logged))
    return calls


def replay(hostport, path):
    """Sends the logged requests to the version serving now (their version
    and label cleared); returns (replayed, agreeing, failed)."""
    try:
        calls = _logged_calls(path)
    except tf.errors.OpError as e:
        raise ClientError('Cannot read the request log %s: %s'
                          % (path, e.message.splitlines()[0])) from None
    if not calls:
        raise ClientError('%s holds no Predict or Classify log to replay' % path)
    channel = grpc.insecure_channel(hostport)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    agreeing = failed = 0
    try:
        for method, request, check in calls:
            request.model_spec.ClearField('version')
            request.model_spec.ClearField('version_label')
            try:
                response = getattr(stub, method)(request, timeout=TIMEOUT_SECONDS)
            except grpc.RpcError as e:
                if failed == 0:
                    print('First failure: %s' % _describe(e), file=sys.stderr)
                failed += 1
                continue
            agreeing += bool(check(response))
    finally:
        channel.close()
    return len(calls), agreeing, failed


def _check_flags(argv):
    if len(argv) > 1:
        raise ClientError('Unexpected arguments: %s' % ' '.join(argv[1:]))
    if FLAGS.replay_log and FLAGS.rest:
        raise ClientError('--replay_log replays over gRPC: leave out --rest')
    if FLAGS.num_tests > MAX_NUM_TESTS:
        raise ClientError('num_tests should not be greater than 10k')
    if FLAGS.num_tests <= 0:
        raise ClientError('num_tests should be positive')
    if FLAGS.concurrency <= 0:
        raise ClientError('concurrency should be positive')
    if not FLAGS.server:
        raise ClientError('please specify server host:port')
    host, _, port = FLAGS.server.rpartition(':')
    if not host or not port.isdigit():
        raise ClientError('--server should be host:port, not %r'
                          % FLAGS.server)


def main(argv):
    try:
        _check_flags(argv)
        # Under `bazel run`, a relative --work_dir means the user's directory.
        work_dir = os.path.join(os.environ.get('BUILD_WORKING_DIRECTORY', ''),
                                FLAGS.work_dir)
        if FLAGS.replay_log:
            replayed, agreeing, failed = replay(
                FLAGS.server, command_line.user_path(FLAGS.replay_log))
            print('Replayed %d logged requests: %d answers agree with the logged '
                  'ones (%s), %d failed' % (replayed, agreeing,
                                            format_percent(agreeing, replayed), failed))
            return 1 if failed else 0
        plot_dir = command_line.user_path(FLAGS.plot_dir) if FLAGS.plot_dir else ''
        if plot_dir:  # an unusable directory fails now, not after the run
            os.makedirs(plot_dir, exist_ok=True)
        _, counter, elapsed = do_inference(
            FLAGS.server, work_dir, FLAGS.concurrency, FLAGS.num_tests,
            FLAGS.model_name, FLAGS.rest, FLAGS.signature)
    except ClientError as e:
        print(e, file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:  # the MNIST data cannot be read
        print('Error: %s' % e, file=sys.stderr)
        return 1
    latencies = counter.latencies()
    print('%d requests in %.2f s (%.1f requests/s), latency p50 %.1f ms, '
          'p99 %.1f ms, %d failed' % (
              FLAGS.num_tests, elapsed, FLAGS.num_tests / elapsed,
              _percentile(latencies, 50) * 1000,
              _percentile(latencies, 99) * 1000, counter.failed))
    plots_failed = False
    if plot_dir:
        try:
            _write_plots(plot_dir, counter, FLAGS.num_tests)
        except OSError as e:
            print('Error: cannot write the plots: %s' % e, file=sys.stderr)
            plots_failed = True
    print('\nInference error rate: %s'
          % format_percent(counter.errors, FLAGS.num_tests))
    return 1 if counter.failed or plots_failed else 0


def _write_plots(plot_dir, counter, num_tests):
    """Draws the pictures of --plot_dir and prints where they are."""
    # matplotlib costs half a second to import: only when asked for.
    from tensorflow_serving.example import mnist_plots  # pylint: disable=g-import-not-at-top
    for path, what in mnist_plots.write_plots(plot_dir, counter.wrong(),
                                              num_tests, counter.latencies()):
        print('Wrote %s (%s)' % (path, what))


if __name__ == '__main__':
    app.run(main, flags_parser=command_line.parse_flags)

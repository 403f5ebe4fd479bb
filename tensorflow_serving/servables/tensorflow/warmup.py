"""Model warmup: replays assets.extra/tf_serving_warmup_requests before serving.

Upstream's saved_model_warmup: the file is a TFRecord of PredictionLog protos;
each record's request goes through the same handler a client request would
(so lazily built callables, batching sessions and TF kernels are ready), the
configured number of times, before the version becomes available. Any failure
fails the load, naming the file. The file is read through TensorFlow's file
systems, and each replay is recorded in upstream's model_warmup_latency and
model_warmup_records_read (labelled with the version's path and the status).
"""

import os
import time

from absl import logging
import grpc
import tensorflow as tf

from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import multi_inference
from tensorflow_serving.servables.tensorflow import predict_util
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import run_options
from tensorflow_serving.util import status

ASSETS_EXTRA_DIRECTORY = "assets.extra"
REQUESTS_FILE_NAME = "tf_serving_warmup_requests"
MAX_NUM_RECORDS = 1000

_warmup_latency = monitoring.Sampler(
    "/tensorflow/serving/model_warmup_latency",
    "Wall time (microseconds) of replaying a model's warmup requests.",
    ("model_path", "status"), monitoring.exponential_buckets(10, 1.8, 33))
_warmup_records_read = monitoring.Counter(
    "/tensorflow/serving/model_warmup_records_read",
    "Warmup records read.", ("model_path", "status"))
_RUNTIME_APIS = {"predict_log": ("Predict", "request"),
                 "classify_log": ("Classify", "request"),
                 "regress_log": ("Regress", "request")}


def warmup_path(export_dir: str) -> str:
    return os.path.join(export_dir, ASSETS_EXTRA_DIRECTORY, REQUESTS_FILE_NAME)


def run_warmup_request(handle, log: prediction_log_pb2.PredictionLog) -> None:
    kind = log.WhichOneof("log_type")
    api = _RUNTIME_APIS.get(kind)
    if api is not None:
        # As a client's request: runtime_latency is recorded under its model.
        model_name = getattr(log, kind).request.model_spec.name
        with run_options.scope(None, model_name, api[0]):
            _run_warmup_request(handle, log, kind)
    else:
        _run_warmup_request(handle, log, kind)


def _run_warmup_request(handle, log, kind) -> None:
    if kind == "predict_log":
        predict_util.predict(handle, log.predict_log.request)
    elif kind == "classify_log":
        classifier.classify(handle, log.classify_log.request)
    elif kind == "regress_log":
        regressor.regress(handle, log.regress_log.request)
    elif kind == "multi_inference_log":
        multi_inference.run_multi_inference(handle,
                                            log.multi_inference_log.request)
    else:
        raise status.unimplemented(f"Unsupported log_type for warmup: {kind}")


def _records(path):
    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            yield record
    except tf.errors.DataLossError as e:
        raise status.ServingError(
            grpc.StatusCode.DATA_LOSS,
            f"{e.message}. Please verify your warmup data is in TFRecord "
            f"format: {path}") from e
    except tf.errors.OpError as e:
        raise status.ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Failed to read warmup data at {path}: {e.message}") from e


def run_saved_model_warmup(handle, export_dir: str,
                           num_request_iterations: int = 1) -> int:
    """Replays the warmup file if there is one; returns the records read."""
    path = warmup_path(export_dir)
    if not tf.io.gfile.exists(path):
        logging.info("No warmup data file found at %s", path)
        return 0
    start = time.monotonic()
    records_read = [0]
    outcome = "OK"
    try:
        return _replay(handle, path, num_request_iterations, records_read)
    except status.ServingError as e:
        outcome = f"{e.code.name}: {e.message}"
        raise
    finally:
        _warmup_latency.add((export_dir, outcome), (time.monotonic() - start) * 1e6)
        _warmup_records_read.increment_by((export_dir, outcome), records_read[0])


def _replay(handle, path, num_request_iterations, records_read) -> int:
    num_request_iterations = max(1, num_request_iterations)
    logging.info("Starting to read warmup data for model at %s with "
                 "num_request_iterations: %d", path, num_request_iterations)
    start = time.monotonic()
    count = 0
    for record in _records(path):
        count += 1
        if count > MAX_NUM_RECORDS:
            raise status.invalid_argument(
                f"Number of warmup records exceeds the maximum "
                f"({MAX_NUM_RECORDS}) at {path}")
        try:
            log = prediction_log_pb2.PredictionLog.FromString(record)
        except Exception as e:  # pylint: disable=broad-except
            raise status.invalid_argument(
                f"Failed to parse warmup record #{count} from {path}: "
                f"{e}") from e
        for _ in range(num_request_iterations):
            try:
                run_warmup_request(handle, log)
            except status.ServingError as e:
                raise status.ServingError(
                    e.code, f"Warmup request #{count} from {path} failed: "
                    f"{e.message}") from e
        records_read[0] = count
    logging.info(
        "Finished reading warmup data for model at %s. Number of warmup "
        "records read: %d. Elapsed time (microseconds): %d.", path, count,
        int((time.monotonic() - start) * 1e6))
    return count

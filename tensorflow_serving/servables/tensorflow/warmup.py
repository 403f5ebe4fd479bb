"""Model warmup: replays assets.extra/tf_serving_warmup_requests before serving.

Upstream's saved_model_warmup: the file is a TFRecord of PredictionLog protos;
each record's request runs on the native data plane as a client's request
would (batching included, so TF kernels and batch threads are ready), the
configured number of times, before the version becomes available. Any
failure fails the load, naming the file. The file is read through
TensorFlow's file systems, and each replay is recorded in upstream's
model_warmup_latency and model_warmup_records_read (labelled with the
version's path and the status).
"""

import os
import time

from absl import logging
import grpc
import tensorflow as tf

from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.util import monitoring
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
# PredictionLog's log types and the method that replays each.
_METHODS = {"predict_log": "Predict", "classify_log": "Classify",
            "regress_log": "Regress", "multi_inference_log": "MultiInference"}


def warmup_path(export_dir: str) -> str:
    return os.path.join(export_dir, ASSETS_EXTRA_DIRECTORY, REQUESTS_FILE_NAME)


def run_warmup_request(native, version: int,
                       log: prediction_log_pb2.PredictionLog) -> None:
    """Runs `log`'s request on `native` (the version's native Bundle).

    Raises:
      ServingError: the request's error, or UNIMPLEMENTED for a log type
        that has no request to replay.
    """
    kind = log.WhichOneof("log_type")
    method = _METHODS.get(kind)
    if method is None:
        raise status.unimplemented(f"Unsupported log_type for warmup: {kind}")
    request = getattr(log, kind).request.SerializeToString()
    code, message, _ = native.run(method, request, version)
    if code:
        raise status.ServingError(
            next(c for c in grpc.StatusCode if c.value[0] == code), message)


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


def run_saved_model_warmup(native, version: int, export_dir: str,
                           num_request_iterations: int = 1) -> int:
    """Replays the warmup file if there is one on `native` (the version's
    native Bundle); returns the records read."""
    path = warmup_path(export_dir)
    if not tf.io.gfile.exists(path):
        logging.info("No warmup data file found at %s", path)
        return 0
    start = time.monotonic()
    records_read = [0]
    outcome = "OK"
    try:
        return _replay(native, version, path, num_request_iterations, records_read)
    except status.ServingError as e:
        outcome = f"{e.code.name}: {e.message}"
        raise
    finally:
        _warmup_latency.add((export_dir, outcome), (time.monotonic() - start) * 1e6)
        _warmup_records_read.increment_by((export_dir, outcome), records_read[0])


def _replay(native, version, path, num_request_iterations, records_read) -> int:
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
                run_warmup_request(native, version, log)
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

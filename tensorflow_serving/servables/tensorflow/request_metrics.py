"""Upstream's per-request metrics (servables/tensorflow/util.cc).

request_count counts every Predict/Classify/Regress over gRPC and every REST
request by model and final status; request_latency is the wall time of the
successful ones at the edge (gRPC or REST); runtime_latency the wall time of
the TensorFlow run inside them; the example counts come from MultiInference.
"""

import grpc

from tensorflow_serving.util import monitoring

_LATENCY_BUCKETS = monitoring.exponential_buckets(10, 1.8, 33)  # microseconds

request_count = monitoring.Counter(
    "/tensorflow/serving/request_count", "Requests, by model and final status.",
    ("model_name", "status"))
request_latency = monitoring.Sampler(
    "/tensorflow/serving/request_latency",
    "Wall time (microseconds) of successful requests.",
    ("model_name", "API", "entrypoint"), _LATENCY_BUCKETS)
runtime_latency = monitoring.Sampler(
    "/tensorflow/serving/runtime_latency",
    "Wall time (microseconds) of the TensorFlow run of successful requests.",
    ("model_name", "API", "runtime"), _LATENCY_BUCKETS)
example_counts = monitoring.Sampler(
    "/tensorflow/serving/request_example_counts",
    "tensorflow.Examples per request.", ("model",),
    monitoring.exponential_buckets(1, 2, 15))
example_count_total = monitoring.Counter(
    "/tensorflow/serving/request_example_count_total",
    "tensorflow.Examples received.", ("model",))


def record_request_count(model_name: str, code: grpc.StatusCode) -> None:
    request_count.increment_by((model_name, code.name))


def record_request_latency(model_name: str, api: str, entrypoint: str,
                           micros: float) -> None:
    request_latency.add((model_name, api, entrypoint), micros)


def record_runtime_latency(model_name: str, api: str, runtime: str,
                           micros: float) -> None:
    runtime_latency.add((model_name, api, runtime), micros)


def record_request_example_count(model_name: str, count: int) -> None:
    example_counts.add((model_name,), count)
    example_count_total.increment_by((model_name,), count)

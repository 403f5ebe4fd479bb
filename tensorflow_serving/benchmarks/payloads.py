"""Request bodies the benchmark posts with h2load, built once per run.

h2load knows nothing of gRPC: it posts a file as the request body. A unary
gRPC request body is one length-prefixed message (gRPC over HTTP/2 spec:
1 byte compressed flag, 4 bytes big-endian length, the serialized proto), so
the file holds exactly that frame.
"""

import json
import struct

import numpy as np

_GRPC_SERVICE = "/tensorflow.serving.PredictionService/"
GRPC_PREDICT_PATH = _GRPC_SERVICE + "Predict"
GRPC_CLASSIFY_PATH = _GRPC_SERVICE + "Classify"
GRPC_REGRESS_PATH = _GRPC_SERVICE + "Regress"
GRPC_MULTI_INFERENCE_PATH = _GRPC_SERVICE + "MultiInference"
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")
REST_HEADERS = ("content-type: application/json",)

_FRAME_HEADER = struct.Struct(">BI")


def grpc_frame(message: bytes, compressed: bool = False) -> bytes:
    """One gRPC length-prefixed message."""
    if len(message) > 0xFFFFFFFF:
        raise ValueError(f"gRPC message too large: {len(message)} bytes")
    return _FRAME_HEADER.pack(1 if compressed else 0, len(message)) + message


def parse_grpc_frames(data: bytes) -> list[bytes]:
    """Splits a gRPC body into its messages (uncompressed only); for checks."""
    messages = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _FRAME_HEADER.size:
            raise ValueError(f"truncated gRPC frame header at byte {offset}")
        flag, length = _FRAME_HEADER.unpack_from(data, offset)
        if flag != 0:
            raise ValueError(f"compressed gRPC frame at byte {offset}")
        offset += _FRAME_HEADER.size
        if len(data) - offset < length:
            raise ValueError(f"gRPC frame at byte {offset} says {length} bytes, "
                             f"{len(data) - offset} left")
        messages.append(data[offset:offset + length])
        offset += length
    return messages


def predict_request(model_name: str, signature_name: str, input_alias: str,
                    images: np.ndarray):
    """A PredictRequest as mnist_client builds it (tf.make_tensor_proto)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    images = np.asarray(images, dtype=np.float32)
    request.inputs[input_alias].CopyFrom(
        tf.make_tensor_proto(images, shape=list(images.shape)))
    return request


def _examples(input_message, feature: str, rows: np.ndarray) -> None:
    """One tf.Example per row, its values a float feature (as mnist_client sends
    the digits to the classify signature)."""
    for row in np.asarray(rows, dtype=np.float32):
        example = input_message.example_list.examples.add()
        example.features.feature[feature].float_list.value.extend(row.ravel().tolist())


def classify_request(model_name: str, signature_name: str, feature: str, rows: np.ndarray):
    """A ClassificationRequest with one tf.Example per row."""
    from tensorflow_serving.apis import classification_pb2  # pylint: disable=g-import-not-at-top
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    _examples(request.input, feature, rows)
    return request


def regress_request(model_name: str, signature_name: str, feature: str, rows: np.ndarray):
    """A RegressionRequest with one tf.Example per row."""
    from tensorflow_serving.apis import regression_pb2  # pylint: disable=g-import-not-at-top
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    _examples(request.input, feature, rows)
    return request


def multi_inference_request(model_name: str, tasks, feature: str, rows: np.ndarray):
    """A MultiInferenceRequest: tasks are (signature name, method name) pairs."""
    from tensorflow_serving.apis import inference_pb2  # pylint: disable=g-import-not-at-top
    request = inference_pb2.MultiInferenceRequest()
    for signature_name, method_name in tasks:
        task = request.tasks.add()
        task.model_spec.name = model_name
        task.model_spec.signature_name = signature_name
        task.method_name = method_name
    _examples(request.input, feature, rows)
    return request


def grpc_predict_body(model_name: str, signature_name: str, input_alias: str,
                      images: np.ndarray) -> bytes:
    return grpc_frame(predict_request(model_name, signature_name, input_alias,
                                      images).SerializeToString())


def rest_predict_body(signature_name: str, images: np.ndarray) -> bytes:
    """The row-format body of POST /v1/models/<name>:predict."""
    instances = np.asarray(images, dtype=np.float32).tolist()
    return json.dumps({"signature_name": signature_name,
                       "instances": instances}).encode("utf-8")


def rest_predict_path(model_name: str) -> str:
    return f"/v1/models/{model_name}:predict"

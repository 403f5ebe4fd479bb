"""Request bodies the benchmark posts with h2load, built once per run.

h2load knows nothing of gRPC: it posts a file as the request body. A unary
gRPC request body is one length-prefixed message (gRPC over HTTP/2 spec:
1 byte compressed flag, 4 bytes big-endian length, the serialized proto), so
the file holds exactly that frame.
"""

import json
import struct

import numpy as np

GRPC_PREDICT_PATH = "/tensorflow.serving.PredictionService/Predict"
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

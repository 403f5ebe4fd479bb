"""The .proto files protoc generates C++ for: the closure of PredictionService and
GetModelStatus, and that of the Open Inference Protocol's
inference.GRPCInferenceService in tritonclient (descriptor_set.py).

descriptor_set.py checks this list against pip's packages and fails the build
with the difference if a new tensorflow-serving-api changes it.
"""

PROTO_FILES = [
    "tensorflow/core/example/example.proto",
    "tensorflow/core/example/feature.proto",
    "tensorflow/core/framework/attr_value.proto",
    "tensorflow/core/framework/full_type.proto",
    "tensorflow/core/framework/function.proto",
    "tensorflow/core/framework/graph.proto",
    "tensorflow/core/framework/graph_debug_info.proto",
    "tensorflow/core/framework/node_def.proto",
    "tensorflow/core/framework/op_def.proto",
    "tensorflow/core/framework/resource_handle.proto",
    "tensorflow/core/framework/tensor.proto",
    "tensorflow/core/framework/tensor_shape.proto",
    "tensorflow/core/framework/types.proto",
    "tensorflow/core/framework/variable.proto",
    "tensorflow/core/framework/versions.proto",
    "tensorflow/core/protobuf/error_codes.proto",
    "tensorflow/core/protobuf/meta_graph.proto",
    "tensorflow/core/protobuf/saved_object_graph.proto",
    "tensorflow/core/protobuf/saver.proto",
    "tensorflow/core/protobuf/struct.proto",
    "tensorflow/core/protobuf/trackable_object_graph.proto",
    "tensorflow_serving/apis/classification.proto",
    "tensorflow_serving/apis/get_model_metadata.proto",
    "tensorflow_serving/apis/get_model_status.proto",
    "tensorflow_serving/apis/inference.proto",
    "tensorflow_serving/apis/input.proto",
    "tensorflow_serving/apis/model.proto",
    "tensorflow_serving/apis/predict.proto",
    "tensorflow_serving/apis/prediction_service.proto",
    "tensorflow_serving/apis/regression.proto",
    "tensorflow_serving/apis/status.proto",
    "xla/tsl/protobuf/error_codes.proto",
]

PREDICTION_SERVICE_GRPC_FILE = "tensorflow_serving/apis/prediction_service.proto"

# Triton's superset of the protocol's service (KServe's grpc_predict_v2.proto
# declares the same package, service and messages, fewer of them), and its
# ModelConfig, which perf_analyzer reads.
INFERENCE_PROTO_FILES = [
    "grpc_service.proto",
    "model_config.proto",
]

INFERENCE_GRPC_FILE = "grpc_service.proto"

def cc_outputs(proto_files = PROTO_FILES, grpc_file = PREDICTION_SERVICE_GRPC_FILE):
    """protoc's outputs for `proto_files`.

    Args:
      proto_files: the .proto files of one descriptor set.
      grpc_file: the one of them that declares the gRPC service.

    Returns:
      A list of paths: .pb.h and .pb.cc per file, .grpc.pb.h and .grpc.pb.cc
      for the service.
    """
    outs = []
    for proto in proto_files:
        stem = proto[:-len(".proto")]
        outs += [stem + ".pb.h", stem + ".pb.cc"]
    stem = grpc_file[:-len(".proto")]
    return outs + [stem + ".grpc.pb.h", stem + ".grpc.pb.cc"]

"""The .proto files protoc generates C++ for: the closure of PredictionService and
GetModelStatus (descriptor_set.py).

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

_GRPC_FILE = "tensorflow_serving/apis/prediction_service"

def cc_outputs():
    """protoc's outputs for PROTO_FILES.

    Returns:
      A list of paths: .pb.h and .pb.cc per file, .grpc.pb.h and .grpc.pb.cc
      for the prediction service.
    """
    outs = []
    for proto in PROTO_FILES:
        stem = proto[:-len(".proto")]
        outs += [stem + ".pb.h", stem + ".pb.cc"]
    return outs + [_GRPC_FILE + ".grpc.pb.h", _GRPC_FILE + ".grpc.pb.cc"]

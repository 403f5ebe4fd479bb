// A message as the bytes of a gRPC answer: serialized once, into a slice gRPC
// then owns, with map entries in key order, so that the same answer is always
// the same bytes (PredictionService and GRPCInferenceService alike).

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_BYTE_BUFFER_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_BYTE_BUFFER_H_

#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>

namespace tensorflow {
namespace serving {

grpc::ByteBuffer SerializeDeterministically(const google::protobuf::MessageLite& message);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_BYTE_BUFFER_H_

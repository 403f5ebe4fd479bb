#include "tensorflow_serving/model_servers/grpc_byte_buffer.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <grpc/slice.h>
#include <grpcpp/support/slice.h>

namespace tensorflow {
namespace serving {

grpc::ByteBuffer SerializeDeterministically(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  grpc_slice slice = grpc_slice_malloc(size);
  google::protobuf::io::ArrayOutputStream array(GRPC_SLICE_START_PTR(slice),
                                                static_cast<int>(size));
  {
    google::protobuf::io::CodedOutputStream coded(&array);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  grpc::Slice owned(slice, grpc::Slice::STEAL_REF);
  return grpc::ByteBuffer(&owned, 1);
}

}  // namespace serving
}  // namespace tensorflow

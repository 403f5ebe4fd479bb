// TF_Tensor <-> TensorProto for the native Predict path.
//
// Decoding uses TensorFlow's own Tensor::FromProto (through the C API's
// TF_TensorFromProto), so a request tensor means exactly what it means to
// upstream's server: a short *_val list is filled with its last value, a long
// one is truncated, an empty one gives zeros. Encoding follows
// Tensor::AsProtoField (typed *_val fields, upstream's default) and
// Tensor::AsProtoTensorContent (--enable_serialization_as_tensor_content).
// The encoders work on a plain view of the tensor so they are testable
// without TensorFlow.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_TENSOR_UTIL_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_TENSOR_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"

namespace tensorflow {
namespace serving {

// A dense tensor's bytes, as TF_TensorData lays them out (TF_TString
// elements for DT_STRING).
struct TensorView {
  DataType dtype = DT_INVALID;
  std::vector<int64_t> dims;
  const char* data = nullptr;
  size_t byte_size = 0;
  int64_t num_elements = 0;
};

TensorView ViewOf(const TfCApi& api, const TF_Tensor* tensor);

// Views of a run's output tensors, with whatever keeps their bytes alive (the
// tensors themselves, or a whole batch's outputs for one request's rows).
struct OwnedTensorViews {
  std::vector<TensorView> views;
  std::shared_ptr<const void> owner;

  static OwnedTensorViews Of(const TfCApi& api, std::vector<TfTensor> tensors);
};

// Rows [begin, end) of a view with a dim 0.
TensorView Rows(const TensorView& view, int64_t begin, int64_t end);

// Whether the encoders below handle `dtype` (not resource, variant and the
// newer 4- and 8-bit types).
bool CanEncode(DataType dtype);

// Tensor::AsProtoField / Tensor::AsProtoTensorContent. `proto` is cleared
// first. Returns false, leaving `proto` cleared, if !CanEncode(view.dtype).
bool AsProtoField(const TensorView& view, TensorProto* proto);
bool AsProtoTensorContent(const TensorView& view, TensorProto* proto);

// Tensor::FromProto of the serialized TensorProto `bytes`. Returns false if
// TensorFlow cannot parse it (upstream's "tensor parsing error").
bool FromProtoBytes(const TfCApi& api, const std::string& bytes, TfTensor* out);

// Tensor::FromProto for the common case it only copies: a numeric tensor whose
// value field or tensor_content holds exactly its elements, of the field's
// own element type. Returns false (and leaves `out`) when that is not the
// case; FromProtoBytes then decodes. `proto` must have passed CheckDecodable.
bool FromProtoDense(const TfCApi& api, const TensorProto& proto, TfTensor* out);

// What the server refuses before TensorFlow decodes a request tensor: dtypes
// a request may not carry and shapes deeper than 64 dimensions are
// unparseable, and a short value list
// may not be filled beyond --max_tensor_fill_bytes (a few bytes can declare
// gigabytes). kFillTooLarge sets `detail` to the reason.
enum class DecodeCheck { kOk, kUnparseable, kFillTooLarge };
DecodeCheck CheckDecodable(const TensorProto& proto, int64_t max_fill_bytes,
                           std::string* detail);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_TENSOR_UTIL_H_

#include "tensorflow_serving/servables/tensorflow/tensor_util.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "tensorflow/core/platform/ctstring.h"

namespace tensorflow {
namespace serving {

namespace {

template <typename T>
const T* Elements(const TensorView& view) {
  return reinterpret_cast<const T*>(view.data);
}

// Copies `view`'s elements of C type T into a repeated field of type F.
template <typename T, typename F>
void Fill(const TensorView& view, google::protobuf::RepeatedField<F>* field) {
  const T* values = Elements<T>(view);
  field->Reserve(static_cast<int>(view.num_elements));
  for (int64_t i = 0; i < view.num_elements; ++i) field->AddAlreadyReserved(values[i]);
}

// Complex numbers go in as (real, imaginary) pairs.
template <typename T>
void FillComplex(const TensorView& view, google::protobuf::RepeatedField<T>* field) {
  const T* parts = Elements<T>(view);
  field->Reserve(static_cast<int>(2 * view.num_elements));
  for (int64_t i = 0; i < 2 * view.num_elements; ++i) field->AddAlreadyReserved(parts[i]);
}

void SetShape(const TensorView& view, TensorProto* proto) {
  // Always present, even for a scalar, as TensorShape::AsProto leaves it.
  TensorShapeProto* shape = proto->mutable_tensor_shape();
  for (int64_t d : view.dims) shape->add_dim()->set_size(d);
}

void PutVarint32(uint32_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

TensorView ViewOf(const TfCApi& api, const TF_Tensor* tensor) {
  TensorView view;
  view.dtype = static_cast<DataType>(api.TensorType(tensor));
  const int rank = api.NumDims(tensor);
  view.dims.reserve(rank);
  for (int i = 0; i < rank; ++i) view.dims.push_back(api.Dim(tensor, i));
  view.data = static_cast<const char*>(api.TensorData(tensor));
  view.byte_size = api.TensorByteSize(tensor);
  view.num_elements = api.TensorElementCount(tensor);
  return view;
}

OwnedTensorViews OwnedTensorViews::Of(const TfCApi& api, std::vector<TfTensor> tensors) {
  OwnedTensorViews result;
  for (const TfTensor& t : tensors) {
    result.views.push_back(t.get() == nullptr ? TensorView() : ViewOf(api, t.get()));
  }
  result.owner = std::make_shared<std::vector<TfTensor>>(std::move(tensors));
  return result;
}

TensorView Rows(const TensorView& view, int64_t begin, int64_t end) {
  TensorView rows = view;
  const int64_t count = view.dims.empty() ? 0 : view.dims[0];
  const size_t row_bytes = count > 0 ? view.byte_size / count : 0;
  const int64_t row_elements = count > 0 ? view.num_elements / count : 0;
  rows.dims[0] = end - begin;
  rows.data = view.data + begin * row_bytes;
  rows.byte_size = (end - begin) * row_bytes;
  rows.num_elements = (end - begin) * row_elements;
  return rows;
}

bool CanEncode(DataType dtype) {
  switch (dtype) {
    case DT_FLOAT:
    case DT_DOUBLE:
    case DT_INT32:
    case DT_UINT8:
    case DT_INT16:
    case DT_INT8:
    case DT_STRING:
    case DT_COMPLEX64:
    case DT_INT64:
    case DT_BOOL:
    case DT_QINT8:
    case DT_QUINT8:
    case DT_QINT32:
    case DT_BFLOAT16:
    case DT_QINT16:
    case DT_QUINT16:
    case DT_UINT16:
    case DT_COMPLEX128:
    case DT_HALF:
    case DT_UINT32:
    case DT_UINT64:
      return true;
    default:
      return false;
  }
}

bool AsProtoField(const TensorView& view, TensorProto* proto) {
  proto->Clear();
  if (!CanEncode(view.dtype)) return false;
  SetShape(view, proto);
  proto->set_dtype(view.dtype);
  switch (view.dtype) {
    case DT_FLOAT:
      Fill<float>(view, proto->mutable_float_val());
      break;
    case DT_DOUBLE:
      Fill<double>(view, proto->mutable_double_val());
      break;
    case DT_INT32:
    case DT_QINT32:
      Fill<int32_t>(view, proto->mutable_int_val());
      break;
    case DT_UINT8:
    case DT_QUINT8:
      Fill<uint8_t>(view, proto->mutable_int_val());
      break;
    case DT_INT16:
    case DT_QINT16:
      Fill<int16_t>(view, proto->mutable_int_val());
      break;
    case DT_UINT16:
    case DT_QUINT16:
      Fill<uint16_t>(view, proto->mutable_int_val());
      break;
    case DT_INT8:
    case DT_QINT8:
      Fill<int8_t>(view, proto->mutable_int_val());
      break;
    case DT_INT64:
      Fill<int64_t>(view, proto->mutable_int64_val());
      break;
    case DT_UINT32:
      Fill<uint32_t>(view, proto->mutable_uint32_val());
      break;
    case DT_UINT64:
      Fill<uint64_t>(view, proto->mutable_uint64_val());
      break;
    case DT_BOOL:
      Fill<bool>(view, proto->mutable_bool_val());
      break;
    case DT_HALF:
    case DT_BFLOAT16:
      // The 16-bit patterns, as int32 values.
      Fill<uint16_t>(view, proto->mutable_half_val());
      break;
    case DT_COMPLEX64:
      FillComplex<float>(view, proto->mutable_scomplex_val());
      break;
    case DT_COMPLEX128:
      FillComplex<double>(view, proto->mutable_dcomplex_val());
      break;
    case DT_STRING: {
      const TF_TString* strings = Elements<TF_TString>(view);
      auto* field = proto->mutable_string_val();
      field->Reserve(static_cast<int>(view.num_elements));
      for (int64_t i = 0; i < view.num_elements; ++i) {
        field->Add()->assign(TF_TString_GetDataPointer(&strings[i]),
                             TF_TString_GetSize(&strings[i]));
      }
      break;
    }
    default:
      return false;
  }
  return true;
}

bool AsProtoTensorContent(const TensorView& view, TensorProto* proto) {
  proto->Clear();
  if (!CanEncode(view.dtype)) return false;
  proto->set_dtype(view.dtype);
  SetShape(view, proto);
  std::string* content = proto->mutable_tensor_content();
  if (view.dtype == DT_STRING) {
    // TensorFlow's EncodeStringList: every length as a varint, then the bytes.
    const TF_TString* strings = Elements<TF_TString>(view);
    size_t total = 0;
    for (int64_t i = 0; i < view.num_elements; ++i) {
      const size_t size = TF_TString_GetSize(&strings[i]);
      PutVarint32(static_cast<uint32_t>(size), content);
      total += size;
    }
    content->reserve(content->size() + total);
    for (int64_t i = 0; i < view.num_elements; ++i) {
      content->append(TF_TString_GetDataPointer(&strings[i]),
                      TF_TString_GetSize(&strings[i]));
    }
  } else {
    if (view.byte_size > 0) content->assign(view.data, view.byte_size);
  }
  return true;
}

bool FromProtoBytes(const TfCApi& api, const std::string& bytes, TfTensor* out) {
  // TF_TensorFromProto replaces the contents of an existing tensor: start
  // from an empty one.
  const int64_t empty[1] = {0};
  TfTensor tensor(&api, api.AllocateTensor(TF_FLOAT, empty, 1, 0));
  if (tensor.get() == nullptr) return false;
  TF_Buffer buffer{bytes.data(), bytes.size(), nullptr};
  TfStatus status(api);
  api.TensorFromProto(&buffer, tensor.get(), status.get());
  if (!status.ok()) return false;
  *out = std::move(tensor);
  return true;
}

namespace {

// Dims of a request tensor, on the stack for the usual few.
using Dims = absl::InlinedVector<int64_t, 8>;

// A tensor of `proto`'s dtype and `dims` holding a copy of `bytes` bytes at
// `data`.
bool CopyBytes(const TfCApi& api, const TensorProto& proto, const Dims& dims,
               const void* data, size_t bytes, TfTensor* out) {
  TfTensor tensor(&api, api.AllocateTensor(static_cast<TF_DataType>(proto.dtype()),
                                           dims.data(), static_cast<int>(dims.size()),
                                           bytes));
  if (tensor.get() == nullptr) return false;
  if (bytes > 0) std::memcpy(api.TensorData(tensor.get()), data, bytes);
  *out = std::move(tensor);
  return true;
}

template <typename T>
bool CopyField(const TfCApi& api, const TensorProto& proto, const Dims& dims, int64_t count,
               const google::protobuf::RepeatedField<T>& field, TfTensor* out) {
  if (field.size() != count) return false;
  return CopyBytes(api, proto, dims, field.data(), static_cast<size_t>(count) * sizeof(T),
                   out);
}

}  // namespace

bool FromProtoDense(const TfCApi& api, const TensorProto& proto, TfTensor* out) {
  int64_t count = 1;
  Dims dims;
  for (const auto& dim : proto.tensor_shape().dim()) {
    count *= dim.size();
    dims.push_back(dim.size());
  }
  if (!proto.tensor_content().empty()) {
    switch (proto.dtype()) {
      case DT_BOOL:  // TensorFlow checks each byte
      case DT_STRING:
        return false;
      default:
        break;
    }
    const size_t element = api.DataTypeSize(static_cast<TF_DataType>(proto.dtype()));
    const std::string& content = proto.tensor_content();
    if (element == 0 || content.size() != static_cast<size_t>(count) * element) return false;
    return CopyBytes(api, proto, dims, content.data(), content.size(), out);
  }
  switch (proto.dtype()) {
    case DT_FLOAT:
      return CopyField(api, proto, dims, count, proto.float_val(), out);
    case DT_DOUBLE:
      return CopyField(api, proto, dims, count, proto.double_val(), out);
    case DT_INT32:
      return CopyField(api, proto, dims, count, proto.int_val(), out);
    case DT_INT64:
      return CopyField(api, proto, dims, count, proto.int64_val(), out);
    case DT_UINT32:
      return CopyField(api, proto, dims, count, proto.uint32_val(), out);
    case DT_UINT64:
      return CopyField(api, proto, dims, count, proto.uint64_val(), out);
    default:
      return false;
  }
}

namespace {

// The bytes each element of a decoded tensor of `dtype` counts for in the
// fill limit (8 for strings: one pointer each), or 0 for a DataType a
// request may not carry.
int ItemSize(DataType dtype) {
  switch (dtype) {
    case DT_INT8:
    case DT_UINT8:
    case DT_BOOL:
      return 1;
    case DT_HALF:
    case DT_BFLOAT16:
    case DT_INT16:
    case DT_UINT16:
      return 2;
    case DT_FLOAT:
    case DT_INT32:
    case DT_UINT32:
      return 4;
    case DT_DOUBLE:
    case DT_INT64:
    case DT_UINT64:
    case DT_STRING:
    case DT_COMPLEX64:
      return 8;
    case DT_COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

// Values in the typed field a DataType is read from (complex: pairs).
int64_t NumSentValues(const TensorProto& proto) {
  switch (proto.dtype()) {
    case DT_FLOAT:
      return proto.float_val_size();
    case DT_DOUBLE:
      return proto.double_val_size();
    case DT_HALF:
    case DT_BFLOAT16:
      return proto.half_val_size();
    case DT_INT8:
    case DT_INT16:
    case DT_INT32:
    case DT_UINT8:
    case DT_UINT16:
      return proto.int_val_size();
    case DT_INT64:
      return proto.int64_val_size();
    case DT_UINT32:
      return proto.uint32_val_size();
    case DT_UINT64:
      return proto.uint64_val_size();
    case DT_BOOL:
      return proto.bool_val_size();
    case DT_STRING:
      return proto.string_val_size();
    case DT_COMPLEX64:
      return proto.scomplex_val_size() / 2;
    case DT_COMPLEX128:
      return proto.dcomplex_val_size() / 2;
    default:
      return 0;
  }
}

std::string ToString(unsigned __int128 value) {
  if (value == 0) return "0";
  std::string digits;
  while (value > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  return digits;
}

constexpr int kMaxDims = 64;  // numpy's limit, below TensorFlow's 254

}  // namespace

DecodeCheck CheckDecodable(const TensorProto& proto, int64_t max_fill_bytes,
                           std::string* detail) {
  const int item_size = ItemSize(proto.dtype());
  if (item_size == 0) return DecodeCheck::kUnparseable;
  const TensorShapeProto& shape = proto.tensor_shape();
  if (shape.dim_size() > kMaxDims) return DecodeCheck::kUnparseable;
  unsigned __int128 count = 1;
  std::string dims;
  for (const auto& dim : shape.dim()) {
    if (dim.size() < 0) return DecodeCheck::kUnparseable;
    count *= static_cast<uint64_t>(dim.size());
    if (count > static_cast<unsigned __int128>(INT64_MAX)) return DecodeCheck::kUnparseable;
    dims += (dims.empty() ? "" : ",") + std::to_string(dim.size());
  }
  if (count == 0 || !proto.tensor_content().empty()) return DecodeCheck::kOk;
  const int64_t sent = NumSentValues(proto);
  const unsigned __int128 bytes = count * static_cast<unsigned>(item_size);
  if (count > static_cast<unsigned __int128>(sent) && max_fill_bytes >= 0 &&
      bytes > static_cast<unsigned __int128>(max_fill_bytes)) {
    *detail = "its " + std::to_string(sent) + " value(s) would fill shape [" + dims + "] (" +
              ToString(bytes) + " bytes), more than --max_tensor_fill_bytes=" +
              std::to_string(max_fill_bytes);
    return DecodeCheck::kFillTooLarge;
  }
  return DecodeCheck::kOk;
}

}  // namespace serving
}  // namespace tensorflow

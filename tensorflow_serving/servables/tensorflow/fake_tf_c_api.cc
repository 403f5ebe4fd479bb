#include "tensorflow_serving/servables/tensorflow/fake_tf_c_api.h"

#include <cstdlib>
#include <cstring>

#include "tensorflow/core/platform/ctstring.h"

// The C API's opaque types, defined here for the fake only.
struct TF_Tensor {
  TF_DataType dtype;
  std::vector<int64_t> dims;
  char* data;
  size_t size;
};

namespace tensorflow {
namespace serving {
namespace {

size_t DataTypeSize(TF_DataType dtype) {
  switch (dtype) {
    case TF_FLOAT:
    case TF_INT32:
      return 4;
    case TF_DOUBLE:
    case TF_INT64:
      return 8;
    case TF_INT8:
    case TF_UINT8:
    case TF_BOOL:
      return 1;
    case TF_HALF:
    case TF_BFLOAT16:
      return 2;
    default:
      return 0;
  }
}

TF_Tensor* AllocateTensor(TF_DataType dtype, const int64_t* dims, int num_dims, size_t len) {
  auto* tensor = new TF_Tensor{dtype, std::vector<int64_t>(dims, dims + num_dims),
                               static_cast<char*>(std::malloc(len > 0 ? len : 1)), len};
  return tensor;
}

int64_t ElementCount(const TF_Tensor* tensor) {
  int64_t count = 1;
  for (int64_t d : tensor->dims) count *= d;
  return count;
}

void DeleteTensor(TF_Tensor* tensor) {
  if (tensor->dtype == TF_STRING) {
    auto* strings = reinterpret_cast<TF_TString*>(tensor->data);
    for (int64_t i = 0; i < ElementCount(tensor); ++i) TF_TString_Dealloc(&strings[i]);
  }
  std::free(tensor->data);
  delete tensor;
}

TfCApi* MakeApi() {
  auto* api = new TfCApi();
  api->AllocateTensor = AllocateTensor;
  api->DeleteTensor = DeleteTensor;
  api->TensorType = [](const TF_Tensor* t) { return t->dtype; };
  api->NumDims = [](const TF_Tensor* t) { return static_cast<int>(t->dims.size()); };
  api->Dim = [](const TF_Tensor* t, int i) { return t->dims[i]; };
  api->TensorByteSize = [](const TF_Tensor* t) { return t->size; };
  api->TensorData = [](const TF_Tensor* t) { return static_cast<void*>(t->data); };
  api->TensorElementCount = ElementCount;
  api->DataTypeSize = DataTypeSize;
  return api;
}

}  // namespace

const TfCApi& FakeTfCApi() {
  static const TfCApi* api = MakeApi();
  return *api;
}

TfTensor FakeTensor(TF_DataType dtype, const std::vector<int64_t>& dims,
                    const std::vector<float>& values) {
  const TfCApi& api = FakeTfCApi();
  const size_t element = DataTypeSize(dtype);
  TF_Tensor* tensor = AllocateTensor(dtype, dims.data(), static_cast<int>(dims.size()),
                                     values.size() * element);
  for (size_t i = 0; i < values.size(); ++i) {
    char* at = tensor->data + i * element;
    if (dtype == TF_FLOAT) {
      const float v = values[i];
      std::memcpy(at, &v, sizeof(v));
    } else if (dtype == TF_INT32) {
      const int32_t v = static_cast<int32_t>(values[i]);
      std::memcpy(at, &v, sizeof(v));
    } else if (dtype == TF_INT64) {
      const int64_t v = static_cast<int64_t>(values[i]);
      std::memcpy(at, &v, sizeof(v));
    } else if (dtype == TF_DOUBLE) {
      const double v = values[i];
      std::memcpy(at, &v, sizeof(v));
    } else {
      std::abort();  // not needed by the tests
    }
  }
  return TfTensor(&api, tensor);
}

TfTensor FakeStringTensor(const std::vector<int64_t>& dims,
                          const std::vector<std::string>& strings) {
  const TfCApi& api = FakeTfCApi();
  TF_Tensor* tensor = AllocateTensor(TF_STRING, dims.data(), static_cast<int>(dims.size()),
                                     strings.size() * sizeof(TF_TString));
  auto* out = reinterpret_cast<TF_TString*>(tensor->data);
  for (size_t i = 0; i < strings.size(); ++i) {
    TF_TString_Init(&out[i]);
    TF_TString_Copy(&out[i], strings[i].data(), strings[i].size());
  }
  return TfTensor(&api, tensor);
}

}  // namespace serving
}  // namespace tensorflow

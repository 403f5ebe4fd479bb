// The TensorFlow C API functions the native data plane calls, resolved at
// run time from the TensorFlow library the process has already loaded.
//
// The model server's Python side imports TensorFlow (which loads the wheel's
// libtensorflow_cc.so.2 privately, RTLD_LOCAL) and creates every Session; the
// native plane then calls the same library through these pointers. Linking
// the library instead would bind TensorFlow's own protobuf symbols to
// Debian's libprotobuf (or the other way round) and crash at startup. Only
// serialized bytes and C API handles ever cross this boundary, never C++
// protobuf objects.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_TF_C_API_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_TF_C_API_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tensorflow/c/c_api.h"

namespace tensorflow {
namespace serving {

struct TfCApi {
  decltype(&::TF_Version) Version;
  decltype(&::TF_NewStatus) NewStatus;
  decltype(&::TF_DeleteStatus) DeleteStatus;
  decltype(&::TF_GetCode) GetCode;
  decltype(&::TF_Message) Message;
  decltype(&::TF_AllocateTensor) AllocateTensor;
  decltype(&::TF_DeleteTensor) DeleteTensor;
  decltype(&::TF_TensorType) TensorType;
  decltype(&::TF_NumDims) NumDims;
  decltype(&::TF_Dim) Dim;
  decltype(&::TF_TensorByteSize) TensorByteSize;
  decltype(&::TF_TensorData) TensorData;
  decltype(&::TF_TensorElementCount) TensorElementCount;
  decltype(&::TF_DataTypeSize) DataTypeSize;
  decltype(&::TF_TensorFromProto) TensorFromProto;
  decltype(&::TF_SessionRun) SessionRun;

  // Resolves every function from the already loaded library at `path`
  // (RTLD_NOLOAD: it never loads a second copy). With `load_if_absent`, loads
  // it privately instead (RTLD_DEEPBIND), for programs without Python.
  static absl::Status Load(const std::string& path, bool load_if_absent,
                           std::unique_ptr<TfCApi>* api);
};

// Owns a TF_Status; converts it to absl::Status with TensorFlow's code and
// message (both use the canonical gRPC codes). Bytes of a message that are
// not valid UTF-8 (TensorFlow quotes request bytes, e.g. a tf.Example it
// could not parse) are escaped, so that a REST answer stays valid JSON.
class TfStatus {
 public:
  explicit TfStatus(const TfCApi& api) : api_(api), status_(api.NewStatus()) {}
  ~TfStatus() { api_.DeleteStatus(status_); }
  TfStatus(const TfStatus&) = delete;
  TfStatus& operator=(const TfStatus&) = delete;

  TF_Status* get() { return status_; }
  bool ok() const { return api_.GetCode(status_) == TF_OK; }
  absl::Status ToStatus() const;

 private:
  const TfCApi& api_;
  TF_Status* status_;
};

// `message` unchanged if it is valid UTF-8, else with every byte that is not
// part of a valid UTF-8 sequence written as \xNN (Python's "backslashreplace").
std::string Utf8OrEscaped(const std::string& message);

// Owns a TF_Tensor.
class TfTensor {
 public:
  TfTensor() = default;
  TfTensor(const TfCApi* api, TF_Tensor* tensor) : api_(api), tensor_(tensor) {}
  ~TfTensor() { reset(); }
  TfTensor(TfTensor&& other) noexcept : api_(other.api_), tensor_(other.release()) {}
  TfTensor& operator=(TfTensor&& other) noexcept {
    if (this != &other) {
      reset();
      api_ = other.api_;
      tensor_ = other.release();
    }
    return *this;
  }

  TF_Tensor* get() const { return tensor_; }
  TF_Tensor* release() {
    TF_Tensor* t = tensor_;
    tensor_ = nullptr;
    return t;
  }
  void reset() {
    if (tensor_ != nullptr) api_->DeleteTensor(tensor_);
    tensor_ = nullptr;
  }

 private:
  const TfCApi* api_ = nullptr;
  TF_Tensor* tensor_ = nullptr;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_TF_C_API_H_

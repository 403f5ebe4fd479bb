#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace tensorflow {
namespace serving {

namespace {

template <typename F>
bool Resolve(void* library, const char* name, F* function, std::string* missing) {
  *function = reinterpret_cast<F>(dlsym(library, name));
  if (*function == nullptr) absl::StrAppend(missing, missing->empty() ? "" : ", ", name);
  return *function != nullptr;
}

}  // namespace

absl::Status TfCApi::Load(const std::string& path, bool load_if_absent,
                          std::unique_ptr<TfCApi>* api) {
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (library == nullptr && load_if_absent) {
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  }
  if (library == nullptr) {
    const char* error = dlerror();
    return absl::FailedPreconditionError(absl::StrCat(
        "TensorFlow library ", path, " is not loaded",
        error != nullptr ? absl::StrCat(": ", error) : ""));
  }
  auto result = std::make_unique<TfCApi>();
  std::string missing;
  // The library stays loaded for the life of the process (no dlclose).
  Resolve(library, "TF_Version", &result->Version, &missing);
  Resolve(library, "TF_NewStatus", &result->NewStatus, &missing);
  Resolve(library, "TF_DeleteStatus", &result->DeleteStatus, &missing);
  Resolve(library, "TF_GetCode", &result->GetCode, &missing);
  Resolve(library, "TF_Message", &result->Message, &missing);
  Resolve(library, "TF_AllocateTensor", &result->AllocateTensor, &missing);
  Resolve(library, "TF_DeleteTensor", &result->DeleteTensor, &missing);
  Resolve(library, "TF_TensorType", &result->TensorType, &missing);
  Resolve(library, "TF_NumDims", &result->NumDims, &missing);
  Resolve(library, "TF_Dim", &result->Dim, &missing);
  Resolve(library, "TF_TensorByteSize", &result->TensorByteSize, &missing);
  Resolve(library, "TF_TensorData", &result->TensorData, &missing);
  Resolve(library, "TF_TensorElementCount", &result->TensorElementCount, &missing);
  Resolve(library, "TF_DataTypeSize", &result->DataTypeSize, &missing);
  Resolve(library, "TF_TensorFromProto", &result->TensorFromProto, &missing);
  Resolve(library, "TF_SessionRun", &result->SessionRun, &missing);
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("TensorFlow library ", path, " lacks ", missing));
  }
  *api = std::move(result);
  return absl::OkStatus();
}

absl::Status TfStatus::ToStatus() const {
  const TF_Code code = api_.GetCode(status_);
  if (code == TF_OK) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(code), api_.Message(status_));
}

}  // namespace serving
}  // namespace tensorflow

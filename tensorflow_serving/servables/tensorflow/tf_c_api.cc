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

namespace {

// The length of the valid UTF-8 sequence at s[0..n), or 0 if there is none
// (overlong forms, surrogates and code points above U+10FFFF are invalid, as
// Python's decoder has them).
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  auto continuation = [&](size_t i, unsigned char low, unsigned char high) {
    return i < n && s[i] >= low && s[i] <= high;
  };
  if (c >= 0xC2 && c <= 0xDF) return continuation(1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char low = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = c == 0xED ? 0x9F : 0xBF;
    return continuation(1, low, high) && continuation(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char low = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char high = c == 0xF4 ? 0x8F : 0xBF;
    return continuation(1, low, high) && continuation(2, 0x80, 0xBF) &&
                   continuation(3, 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;
}

}  // namespace

std::string Utf8OrEscaped(const std::string& message) {
  const auto* s = reinterpret_cast<const unsigned char*>(message.data());
  const size_t n = message.size();
  size_t i = 0;
  while (i < n) {
    const size_t length = Utf8SequenceLength(s + i, n - i);
    if (length == 0) break;
    i += length;
  }
  if (i == n) return message;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string escaped(message, 0, i);
  while (i < n) {
    const size_t length = Utf8SequenceLength(s + i, n - i);
    if (length > 0) {
      escaped.append(message, i, length);
      i += length;
    } else {
      escaped += "\\x";
      escaped += kHex[s[i] >> 4];
      escaped += kHex[s[i] & 0xF];
      ++i;
    }
  }
  return escaped;
}

absl::Status TfStatus::ToStatus() const {
  const TF_Code code = api_.GetCode(status_);
  if (code == TF_OK) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(code), Utf8OrEscaped(api_.Message(status_)));
}

}  // namespace serving
}  // namespace tensorflow

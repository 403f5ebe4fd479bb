#include "tensorflow_serving/servables/tensorflow/get_model_metadata_impl.h"

#include "absl/strings/str_cat.h"
#include "tensorflow_serving/servables/tensorflow/util.h"

namespace tensorflow {
namespace serving {

namespace {

// Any.Pack's type URL of a SignatureDefMap.
constexpr char kSignatureDefMapTypeUrl[] =
    "type.googleapis.com/tensorflow.serving.SignatureDefMap";

}  // namespace

absl::Status ValidateGetModelMetadataRequest(const GetModelMetadataRequest& request) {
  if (!request.has_model_spec()) return absl::InvalidArgumentError("Missing ModelSpec");
  if (request.metadata_field().empty()) {
    return absl::InvalidArgumentError(
        "GetModelMetadataRequest must specify at least one metadata_field");
  }
  for (const std::string& field : request.metadata_field()) {
    if (field != kSignatureDefMetadataField) {
      return absl::InvalidArgumentError(
          absl::StrCat("Metadata field ", field, " is not supported"));
    }
  }
  return absl::OkStatus();
}

absl::Status GetModelMetadata(const SavedModelBundle& bundle, int64_t version,
                              const GetModelMetadataRequest& request,
                              GetModelMetadataResponse* response) {
  MakeModelSpec(request.model_spec().name(), /*signature_name=*/nullptr, version,
                response->mutable_model_spec());
  // The map was serialized (entries by key) when the version loaded.
  google::protobuf::Any& any = (*response->mutable_metadata())[kSignatureDefMetadataField];
  any.set_type_url(kSignatureDefMapTypeUrl);
  any.set_value(bundle.serialized_signature_def_map());
  return absl::OkStatus();
}

}  // namespace serving
}  // namespace tensorflow

// GetModelMetadata on a SavedModelBundle (upstream's
// get_model_metadata_impl.cc): the model's SignatureDefMap packed in an Any under
// "signature_def", the only metadata field there is.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_GET_MODEL_METADATA_IMPL_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_GET_MODEL_METADATA_IMPL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"

namespace tensorflow {
namespace serving {

inline constexpr char kSignatureDefMetadataField[] = "signature_def";

// Upstream's checks, in its order, made before the servable is looked up:
// INVALID_ARGUMENT without a model_spec, without a metadata_field, or with a
// field other than signature_def.
absl::Status ValidateGetModelMetadataRequest(const GetModelMetadataRequest& request);

// The response for `bundle`, version `version` of the model the (validated)
// request names. Synchronous: nothing runs.
absl::Status GetModelMetadata(const SavedModelBundle& bundle, int64_t version,
                              const GetModelMetadataRequest& request,
                              GetModelMetadataResponse* response);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_GET_MODEL_METADATA_IMPL_H_

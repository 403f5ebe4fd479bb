// The Open Inference Protocol ("KServe v2") on a SavedModelBundle.
//
// ModelInfer is the Predict core (RunPredict) behind a translation: the
// request's tensors become a PredictRequest's TensorProtos (the v2 bytes as
// tensor_content, or the typed contents as the matching *_val field), its
// `signature_name` parameter the ModelSpec's signature and its requested
// outputs the output filter; the PredictResponse's outputs, written as
// tensor_content, become the v2 outputs' raw bytes. So every rule of
// Predict (signature lookup, input aliases and defaults, the dtype and shape
// checks TensorFlow makes, output filtering, batching, deadlines, metrics)
// holds for v2 unchanged; what is checked here is only what v2 adds: that a
// tensor's data matches its datatype and shape exactly.
//
// The mapping: a model is a servable name; a version is its number as a
// string, and any other non-empty version string is a version label; a
// signature's inputs and outputs are the v2 tensors under their keys, with
// each dtype's v2 datatype (DT_STRING is BYTES; a dtype without one is an
// error naming it) and -1 for each unknown dimension; the platform is
// tensorflow_savedmodel.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_OPEN_INFERENCE_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_OPEN_INFERENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpc_service.pb.h"
#include "model_config.pb.h"
#include "tensorflow_serving/apis/model.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"

namespace tensorflow {
namespace serving {

inline constexpr char kOpenInferencePlatform[] = "tensorflow_savedmodel";
// The request parameter that names the signature (default: serving_default).
inline constexpr char kSignatureNameParameter[] = "signature_name";

// The v2 datatype of `dtype` ("FP32", ...), or nullptr if it has none.
const char* OpenInferenceDatatype(DataType dtype);
// The dtype of a v2 datatype, or DT_INVALID for anything else.
DataType DataTypeOfOpenInferenceDatatype(absl::string_view datatype);
// Bytes per element of a fixed-size v2 datatype's raw data; 0 for BYTES.
int OpenInferenceElementSize(DataType dtype);

// The ModelSpec of a v2 model name and version string: digits are a
// version number, anything else non-empty a version label, "" the latest.
absl::Status MakeOpenInferenceModelSpec(const std::string& name, const std::string& version,
                                        ModelSpec* spec);

// The PredictRequest of a v2 request (whose model_name and model_version
// the caller has resolved into `spec`). The raw contents are moved out of
// `request`. `output_names` gets the outputs to answer, in the order they
// were requested; empty when all are (the signature's, by key).
absl::Status ToPredictRequest(const ModelSpec& spec, inference::ModelInferRequest* request,
                              PredictRequest* predict, std::vector<std::string>* output_names);

// The v2 response of a PredictResponse whose outputs are tensor_content
// (PredictOptions::tensor_content): raw_output_contents in the order of
// `output_names`, or of the output keys when it is empty. UNIMPLEMENTED for
// an output of a dtype with no v2 datatype.
absl::Status FromPredictResponse(const std::vector<std::string>& output_names,
                                 PredictResponse* predict,
                                 inference::ModelInferResponse* response);

// ModelInfer on `bundle` (the version `version` of the model): `options`
// must write tensor_content and, like `bundle`, `request` and `response`,
// outlive `done`, which is called once, possibly on a batch thread.
void RunModelInfer(const PredictOptions& options, const SavedModelBundle& bundle,
                   int64_t version, const ModelSpec& spec,
                   inference::ModelInferRequest* request,
                   SavedModelBundle::Clock::time_point deadline,
                   inference::ModelInferResponse* response, RunDone done);

// ModelMetadata of `signature`: its tensors, and the versions (ascending)
// of `name` that are AVAILABLE.
absl::Status ModelMetadataOfSignature(const std::string& name,
                                      const std::vector<int64_t>& versions,
                                      const SignatureDef& signature,
                                      inference::ModelMetadataResponse* response);

// Triton's ModelConfig of `signature` (its model_configuration extension,
// which perf_analyzer reads): with `max_batch_size` > 0 (a signature whose
// every input batches along an unknown dim 0) the dims leave that dim out.
absl::Status ModelConfigOfSignature(const std::string& name, const SignatureDef& signature,
                                    int64_t max_batch_size, inference::ModelConfig* config);

// The two above for the default signature (serving_default) of `bundle`,
// FAILED_PRECONDITION as Predict's when it has none. A signature that
// batches along dim 0 reports the batching options' max_batch_size, or
// INT32_MAX (no limit of the server's own) without batching; one that does
// not, 0.
absl::Status GetModelInferMetadata(const SavedModelBundle& bundle, const std::string& name,
                                   const std::vector<int64_t>& versions,
                                   inference::ModelMetadataResponse* response);
absl::Status GetModelInferConfig(const SavedModelBundle& bundle, const std::string& name,
                                 inference::ModelConfig* config);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_OPEN_INFERENCE_H_

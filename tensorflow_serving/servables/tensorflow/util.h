// What the request cores share (upstream's servables/tensorflow/util.h): the
// method name check flag, tf.Example inputs as a string tensor, response
// ModelSpecs, the request metrics, and the answer to a request on a
// signature the server cannot run.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_UTIL_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_UTIL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/apis/model.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"

namespace tensorflow {
namespace serving {

// TensorFlow's signature constants.
inline constexpr char kDefaultServingSignatureDefKey[] = "serving_default";
inline constexpr char kPredictMethodName[] = "tensorflow/serving/predict";
inline constexpr char kClassifyMethodName[] = "tensorflow/serving/classify";
inline constexpr char kRegressMethodName[] = "tensorflow/serving/regress";
inline constexpr char kClassifyInputs[] = "inputs";
inline constexpr char kClassifyOutputClasses[] = "classes";
inline constexpr char kClassifyOutputScores[] = "scores";
inline constexpr char kRegressInputs[] = "inputs";
inline constexpr char kRegressOutputs[] = "outputs";

// The signature a request names: `name`, or the default one for "".
const std::string& SignatureNameOrDefault(const std::string& name);

// --enable_signature_method_name_check, process-wide as upstream's.
void SetSignatureMethodNameCheckFeature(bool enabled);
bool GetSignatureMethodNameCheckFeature();

// How every request core (RunPredict, RunClassify, ...) ends: once, with the
// answer's status, possibly on a batch thread.
using RunDone = std::function<void(absl::Status)>;

// The answer to a request on a signature the server cannot run: one with
// sparse or composite tensors (which upstream's Predict cannot feed or fetch
// either), or an output of a dtype no TensorProto field is written for here
// (DT_VARIANT, DT_RESOURCE). UNIMPLEMENTED, naming the signature and why.
absl::Status Unsupported(const std::string& why);

// The signature a Classify or Regress request runs, by its resolved name:
// INVALID_ARGUMENT "No signature was found with the name: ..." without one,
// as upstream's GetSignatureDef, and Unsupported() for one the server cannot
// run.
absl::Status FindRunnableSignature(const SavedModelBundle& bundle, const std::string& name,
                                   const SavedModelBundle::Signature** signature);

// The Input's tf.Examples as a 1-D DT_STRING tensor of serialized Examples,
// with example_list_with_context's context serialized in front of each one
// (parsing the concatenation merges the two, the example's own features
// winning), as upstream's InputToSerializedExampleTensor. Each message is
// serialized deterministically (map entries by key). INVALID_ARGUMENT
// "Input is empty." without examples.
absl::Status InputToSerializedExampleTensor(const TfCApi& api, const Input& input,
                                            TfTensor* examples, int64_t* num_examples);

// Graph tensors by name, as upstream's PerformOneShotTensorComputation feeds
// and fetches them: each name once, in the order first added.
struct NamedTensors {
  std::vector<std::string> names;
  std::vector<TF_Output> tensors;
  // Where a batch may queue the run: the aliases of the tensors in their
  // signature.
  std::vector<std::string> aliases;

  void Add(const std::string& name, TF_Output tensor, const std::string& alias);
};

// What PerformOneShotTensorComputation hands back: the number of examples,
// the fetched tensors in the order of `fetches`, and the microseconds the run
// took (queueing for a batch included: upstream's runtime_latency).
using OneShotDone =
    std::function<void(absl::Status, int64_t num_examples, OwnedTensorViews outputs,
                       double run_micros)>;

// Upstream's PerformOneShotTensorComputation, asynchronous: the examples of
// `input` (InputToSerializedExampleTensor) fed to every tensor of `feeds`,
// `fetches` fetched, through SavedModelBundle::Run, which batches the run when
// `batch_signature` (the one signature the feeds and fetches belong to) is
// not nullptr. `done` is called once, possibly on a batch thread; `feeds`,
// `fetches` and `batch_signature` must outlive it.
void PerformOneShotTensorComputation(const SavedModelBundle& bundle, const Input& input,
                                     const NamedTensors& feeds, const NamedTensors& fetches,
                                     const std::string* batch_signature,
                                     SavedModelBundle::Clock::time_point deadline,
                                     OneShotDone done);

// A response's ModelSpec, as upstream's MakeModelSpec: the name, the
// signature name (the default one for "") unless `signature_name` is
// nullptr, and the version if there is one.
void MakeModelSpec(const std::string& model_name, const std::string* signature_name,
                   std::optional<int64_t> version, ModelSpec* model_spec);

// TensorShape::DebugString of a shape: "[2,3]".
std::string ShapeDebugString(const std::vector<int64_t>& dims);

// Upstream's request metrics (util.cc; request_metrics.py), recorded into
// Metrics when they are enabled. `entrypoint` is the transport ("GRPC",
// "REST"), `runtime` the runtime that ran the model ("TF1").
void RecordRequestLatency(absl::string_view model_name, absl::string_view api,
                          absl::string_view entrypoint, double latency_usec);
void RecordModelRequestCount(absl::string_view model_name, const absl::Status& status);
void RecordRuntimeLatency(absl::string_view model_name, absl::string_view api,
                          absl::string_view runtime, double latency_usec);
void RecordRequestExampleCount(absl::string_view model_name, int64_t count);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_UTIL_H_

// The Classify RPC on a SavedModelBundle (upstream's classifier.cc): the
// request's tf.Examples go through
// the model's own parsing ops (the signature's "inputs" string tensor), and
// the "classes" and/or "scores" outputs become a ClassificationResult.
//
// As upstream, the signature's method name is checked only with
// --enable_signature_method_name_check: without it any signature with one
// input "inputs" and a "classes" and/or "scores" output classifies (TF2
// SavedModels' signatures all say "predict").

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_CLASSIFIER_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_CLASSIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/servables/tensorflow/util.h"

namespace tensorflow {
namespace serving {

// Upstream's PreProcessClassification: checks that `signature` classifies
// (its method name too, with --enable_signature_method_name_check) and
// gives its input tensor's name and its output tensors' names (classes
// first), each if not nullptr. INVALID_ARGUMENT with upstream's messages.
absl::Status PreProcessClassification(const SignatureDef& signature,
                                      std::string* input_tensor_name,
                                      std::vector<std::string>* output_tensor_names);

// Upstream's PostProcessClassificationResult: `output_tensors` (named by
// `output_tensor_names`) must hold the signature's classes (DT_STRING) and/or
// scores (DT_FLOAT), each [num_examples, num_classes]; they become one
// Classifications per example. INVALID_ARGUMENT with upstream's messages.
absl::Status PostProcessClassificationResult(
    const SignatureDef& signature, int64_t num_examples,
    const std::vector<std::string>& output_tensor_names,
    const std::vector<TensorView>& output_tensors, ClassificationResult* result);

// The Classify RPC on `bundle` (version `version` of the model the request
// names), for any transport: fills `response` and ends with `done` (see
// RunDone), possibly on a batch thread. Runs of a batchable signature join
// the bundle's batches as Predict's do. The run must end by `deadline`
// (Clock::time_point::max(): none). `bundle`, `request` and `response` must
// outlive `done`. Records runtime_latency.
void RunClassify(const SavedModelBundle& bundle, int64_t version,
                 const ClassificationRequest& request,
                 SavedModelBundle::Clock::time_point deadline,
                 ClassificationResponse* response, RunDone done);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_CLASSIFIER_H_

// The Regress RPC on a SavedModelBundle (upstream's regressor.cc): the
// request's tf.Examples go through
// the model's own parsing ops (the signature's "inputs" string tensor), and
// the "outputs" tensor becomes a RegressionResult.
//
// As for Classify, the signature's method name is checked only with
// --enable_signature_method_name_check; otherwise any signature with one
// input "inputs" and one output "outputs" regresses.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_REGRESSOR_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_REGRESSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/servables/tensorflow/util.h"

namespace tensorflow {
namespace serving {

// Upstream's PreProcessRegression: checks that `signature` regresses (its
// method name too, with --enable_signature_method_name_check) and gives its
// input tensor's name and appends its output tensor's name, each if not
// nullptr. INVALID_ARGUMENT with upstream's messages.
absl::Status PreProcessRegression(const SignatureDef& signature,
                                  std::string* input_tensor_name,
                                  std::vector<std::string>* output_tensor_names);

// Upstream's PostProcessRegressionResult: the signature's "outputs" tensor,
// found among `output_tensors` (named by `output_tensor_names`), must be
// DT_FLOAT [num_examples] or [num_examples, 1]; each value becomes a
// Regression. INVALID_ARGUMENT (FAILED_PRECONDITION for a signature without
// outputs) with upstream's messages.
absl::Status PostProcessRegressionResult(const SignatureDef& signature, int64_t num_examples,
                                         const std::vector<std::string>& output_tensor_names,
                                         const std::vector<TensorView>& output_tensors,
                                         RegressionResult* result);

// The Regress RPC on `bundle`, for any transport; as RunClassify.
void RunRegress(const SavedModelBundle& bundle, int64_t version,
                const RegressionRequest& request, SavedModelBundle::Clock::time_point deadline,
                RegressionResponse* response, RunDone done);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_REGRESSOR_H_

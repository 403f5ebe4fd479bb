// The Predict RPC on a SavedModelBundle (upstream's predict_util.cc,
// with TensorFlow's saved_model::GetInputValues): RunPredict is the core every
// transport calls; it runs three steps, PreProcessPrediction (the feeds), the
// Session run (directly or in a batch) and PostProcessPredictionResult (the
// outputs).

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_PREDICT_UTIL_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_PREDICT_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"
#include "tensorflow_serving/servables/tensorflow/util.h"

namespace tensorflow {
namespace serving {

struct PredictOptions {
  // --enable_serialization_as_tensor_content: outputs in tensor_content.
  bool tensor_content = false;
  // --max_tensor_fill_bytes (see CheckDecodable).
  int64_t max_tensor_fill_bytes = 0;
  // A transport's deadline becomes the run's RunOptions.timeout_in_ms
  // (upstream's enforce_session_run_timeout, always on in the model server).
  bool enforce_session_run_timeout = true;
};

// The Predict RPC on `bundle` (the version `version` of the model the
// request names), for any transport: fills `response` and ends with `done`
// (see RunDone), possibly on a batch thread, with Unsupported (util.h) for a
// signature or output the server cannot run or write. The run
// must end by `deadline` (Clock::time_point::max(): no deadline). `bundle`,
// `request` and `response` must outlive `done`. Records runtime_latency.
void RunPredict(const PredictOptions& options, const SavedModelBundle& bundle,
                int64_t version, const PredictRequest& request,
                SavedModelBundle::Clock::time_point deadline, PredictResponse* response,
                RunDone done);

// Everything one Session run needs, built from a request.
struct PreparedPrediction {
  const SavedModelBundle::Signature* signature = nullptr;
  std::string signature_name;
  // Feeds in the signature's input alias order (sorted).
  std::vector<std::string> input_aliases;
  std::vector<TF_Output> feeds;
  std::vector<TfTensor> feed_values;
  std::vector<std::string> output_aliases;
  std::vector<TF_Output> fetches;
};

// Validates the request against the signature and decodes its tensors.
// Sets *forward (and returns OK) when the signature is one the server cannot
// run (see Unsupported). Fills response->model_spec as upstream does before
// any input check.
absl::Status PreProcessPrediction(const SavedModelBundle& bundle, int64_t version,
                                  const PredictRequest& request,
                                  const PredictOptions& options,
                                  PreparedPrediction* prepared, PredictResponse* response,
                                  bool* forward);

// Writes `outputs` (one per prepared.output_aliases) into response->outputs.
// Sets *forward if an output has a dtype no TensorProto field is written for.
absl::Status PostProcessPredictionResult(const PreparedPrediction& prepared,
                                         const std::vector<TensorView>& outputs,
                                         const PredictOptions& options,
                                         PredictResponse* response, bool* forward);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_PREDICT_UTIL_H_

// MultiInference on a SavedModelBundle (upstream's multi_inference.cc):
// several classify and regress
// tasks of one model, each on its own signature, sharing the request's
// tf.Examples and one Session run that feeds every task's input tensor and
// fetches every task's outputs; then each task's result, in request order.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_MULTI_INFERENCE_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_MULTI_INFERENCE_H_

#include <cstdint>

#include "tensorflow_serving/apis/inference.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/util.h"

namespace tensorflow {
namespace serving {

// The MultiInference RPC on `bundle` (version `version` of the model the
// first task names), for any transport: fills `response` and ends with `done`
// (see RunDone). Refuses as upstream does tasks with an empty or another
// model name, a signature twice, an unknown signature (INVALID_ARGUMENT) and
// a method other than classify or regress (UNIMPLEMENTED). The run is never
// batched and must end by `deadline` (Clock::time_point::max(): none).
// `bundle`, `request` and `response` must outlive `done`. Records
// request_example_counts after the run, as upstream.
void RunMultiInference(const SavedModelBundle& bundle, int64_t version,
                       const MultiInferenceRequest& request,
                       SavedModelBundle::Clock::time_point deadline,
                       MultiInferenceResponse* response, RunDone done);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_MULTI_INFERENCE_H_

// The native gRPC tensorflow.serving.PredictionService: the gRPC edge of the
// request cores (RunPredict, RunClassify, RunRegress, RunMultiInference,
// GetModelMetadata), which every transport shares. All five methods run
// here, on the server's completion-queue threads (or a batch thread), with no Python and no GIL on
// the way; a model, version or label the ServingMap cannot resolve gets
// ServerCore's error from the map.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_

#include <cstdint>
#include <memory>

#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/grpc_unary_call.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"

namespace tensorflow {
namespace serving {

// Every method takes and gives raw bytes: requests are parsed onto a
// per-call arena, and responses serialized deterministically into one slice.
class PredictionServiceImpl {
 public:
  PredictionServiceImpl(std::shared_ptr<const ServingMap> serving_map, PredictOptions options)
      : serving_map_(std::move(serving_map)), options_(options) {}

  // Each answers `call`, now or later, from whichever thread finishes it.
  void Predict(GrpcUnaryCall* call) const;
  void Classify(GrpcUnaryCall* call) const;
  void Regress(GrpcUnaryCall* call) const;
  void MultiInference(GrpcUnaryCall* call) const;
  void GetModelMetadata(GrpcUnaryCall* call) const;

  const ServingMap& serving_map() const { return *serving_map_; }
  const PredictOptions& options() const { return options_; }

 private:
  std::shared_ptr<const ServingMap> serving_map_;
  const PredictOptions options_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_

// The native gRPC tensorflow.serving.PredictionService: Predict for the
// versions in the native ServingMap runs here, on gRPC's threads, with no
// Python and no GIL on the way; everything else (the other methods, Predict
// for models or versions the map cannot resolve, requests C++ protobuf cannot
// parse, and signatures the native plane leaves alone) is relayed to the
// Python plane. The C++ counterpart of prediction_service_impl.py's Predict.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/python_plane_proxy.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"

namespace tensorflow {
namespace serving {

// Every method but Predict is left to the generic service (the proxy).
using PredictionServiceWithRawPredict = PredictionService::WithRawCallbackMethod_Predict<
    PredictionService::WithGenericMethod_Classify<PredictionService::WithGenericMethod_Regress<
        PredictionService::WithGenericMethod_MultiInference<
            PredictionService::WithGenericMethod_GetModelMetadata<PredictionService::Service>>>>>;

class PredictionServiceImpl final : public PredictionServiceWithRawPredict {
 public:
  PredictionServiceImpl(std::shared_ptr<const ServingMap> serving_map,
                        PythonPlaneProxy* proxy, PredictOptions options)
      : serving_map_(std::move(serving_map)), proxy_(proxy), options_(options) {}

  grpc::ServerUnaryReactor* Predict(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  const ServingMap& serving_map() const { return *serving_map_; }
  PythonPlaneProxy* proxy() const { return proxy_; }
  const PredictOptions& options() const { return options_; }

  // Predict calls answered here, and those relayed to the Python plane.
  uint64_t num_native() const { return num_native_.load(std::memory_order_relaxed); }
  uint64_t num_relayed() const { return num_relayed_.load(std::memory_order_relaxed); }
  void CountNative() const { num_native_.fetch_add(1, std::memory_order_relaxed); }
  void CountRelayed() const { num_relayed_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::shared_ptr<const ServingMap> serving_map_;
  PythonPlaneProxy* proxy_;
  const PredictOptions options_;
  mutable std::atomic<uint64_t> num_native_{0};
  mutable std::atomic<uint64_t> num_relayed_{0};
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_

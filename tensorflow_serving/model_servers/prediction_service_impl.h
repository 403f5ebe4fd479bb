// The native gRPC tensorflow.serving.PredictionService: the gRPC edge of the
// request cores (RunPredict, RunClassify, RunRegress, RunMultiInference,
// GetModelMetadata), which every transport shares. For the versions in the
// native ServingMap all five methods run here, on gRPC's threads (or a batch
// thread), with no Python and no GIL on the way. A call is relayed to the
// Python plane only when the native plane has no answer of its own: a model,
// version or label the map cannot resolve (so ServerCore's authoritative
// error is given), a request C++ protobuf cannot parse, or a signature or
// output the cores leave alone (NotServedNatively). The C++ counterpart of
// prediction_service_impl.py.

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

// Every method takes and gives raw bytes: requests are parsed onto a
// per-call arena, and a relayed call forwards the very bytes it got.
using PredictionServiceWithRawMethods = PredictionService::WithRawCallbackMethod_Classify<
    PredictionService::WithRawCallbackMethod_Regress<
        PredictionService::WithRawCallbackMethod_Predict<
            PredictionService::WithRawCallbackMethod_MultiInference<
                PredictionService::WithRawCallbackMethod_GetModelMetadata<
                    PredictionService::Service>>>>>;

class PredictionServiceImpl final : public PredictionServiceWithRawMethods {
 public:
  enum Method { kPredict, kClassify, kRegress, kMultiInference, kGetModelMetadata, kNumMethods };
  // "Predict", "Classify", ...
  static const char* MethodName(Method method);

  PredictionServiceImpl(std::shared_ptr<const ServingMap> serving_map,
                        PythonPlaneProxy* proxy, PredictOptions options)
      : serving_map_(std::move(serving_map)), proxy_(proxy), options_(options) {}

  grpc::ServerUnaryReactor* Predict(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Regress(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* MultiInference(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelMetadata(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;

  const ServingMap& serving_map() const { return *serving_map_; }
  PythonPlaneProxy* proxy() const { return proxy_; }
  const PredictOptions& options() const { return options_; }

  // Calls of `method` answered here, and those relayed to the Python plane.
  uint64_t num_native(Method method) const {
    return num_native_[method].load(std::memory_order_relaxed);
  }
  uint64_t num_relayed(Method method) const {
    return num_relayed_[method].load(std::memory_order_relaxed);
  }
  void CountNative(Method method) const {
    num_native_[method].fetch_add(1, std::memory_order_relaxed);
  }
  void CountRelayed(Method method) const {
    num_relayed_[method].fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<const ServingMap> serving_map_;
  PythonPlaneProxy* proxy_;
  const PredictOptions options_;
  mutable std::atomic<uint64_t> num_native_[kNumMethods] = {};
  mutable std::atomic<uint64_t> num_relayed_[kNumMethods] = {};
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_PREDICTION_SERVICE_IMPL_H_

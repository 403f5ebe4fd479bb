// The Open Inference Protocol's gRPC service, inference.GRPCInferenceService,
// beside PredictionService on the same server: ServerLive, ServerReady,
// ModelReady, ServerMetadata, ModelMetadata and ModelInfer, and Triton's
// ModelConfig (its model_configuration extension, which perf_analyzer
// reads). ModelInfer runs on the Predict core (open_inference.h), so it
// shares the model's batcher with every other API. Triton's other methods
// answer UNIMPLEMENTED.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_INFERENCE_SERVICE_IMPL_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_INFERENCE_SERVICE_IMPL_H_

#include <memory>
#include <string>

#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/grpc_unary_call.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"

namespace tensorflow {
namespace serving {

// The name and extensions ServerMetadata reports, on both transports.
inline constexpr char kOpenInferenceServerName[] = "TensorFlow ModelServer";
inline constexpr const char* kOpenInferenceExtensions[] = {"binary_tensor_data",
                                                           "model_configuration"};

// Every method takes and gives raw bytes, as PredictionService's do; the
// server answers the rest of Triton's service UNIMPLEMENTED.
class GrpcInferenceServiceImpl {
 public:
  // `options` are the server's; ModelInfer writes tensor_content whatever
  // --enable_serialization_as_tensor_content says (v2 outputs are raw).
  GrpcInferenceServiceImpl(std::shared_ptr<const ServingMap> serving_map,
                           PredictOptions options, std::string server_version);

  // Each answers `call`, now or later, from whichever thread finishes it.
  void ServerLive(GrpcUnaryCall* call) const;
  void ServerReady(GrpcUnaryCall* call) const;
  void ModelReady(GrpcUnaryCall* call) const;
  void ServerMetadata(GrpcUnaryCall* call) const;
  void ModelMetadata(GrpcUnaryCall* call) const;
  void ModelInfer(GrpcUnaryCall* call) const;
  void ModelConfig(GrpcUnaryCall* call) const;

  const ServingMap& serving_map() const { return *serving_map_; }
  const PredictOptions& options() const { return options_; }

 private:
  std::shared_ptr<const ServingMap> serving_map_;
  PredictOptions options_;
  const std::string server_version_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_INFERENCE_SERVICE_IMPL_H_

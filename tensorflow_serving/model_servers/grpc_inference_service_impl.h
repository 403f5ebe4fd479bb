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

#include "grpc_service.grpc.pb.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"

namespace tensorflow {
namespace serving {

// The name and extensions ServerMetadata reports, on both transports.
inline constexpr char kOpenInferenceServerName[] = "TensorFlow ModelServer";
inline constexpr const char* kOpenInferenceExtensions[] = {"binary_tensor_data",
                                                           "model_configuration"};

// Every method takes and gives raw bytes, as PredictionService's do; the
// rest of Triton's service is its callback default (UNIMPLEMENTED).
using GrpcInferenceServiceWithRawMethods =
    inference::GRPCInferenceService::WithRawCallbackMethod_ServerLive<
        inference::GRPCInferenceService::WithRawCallbackMethod_ServerReady<
            inference::GRPCInferenceService::WithRawCallbackMethod_ModelReady<
                inference::GRPCInferenceService::WithRawCallbackMethod_ServerMetadata<
                    inference::GRPCInferenceService::WithRawCallbackMethod_ModelMetadata<
                        inference::GRPCInferenceService::WithRawCallbackMethod_ModelInfer<
                            inference::GRPCInferenceService::WithRawCallbackMethod_ModelConfig<
                                inference::GRPCInferenceService::CallbackService>>>>>>>;

class GrpcInferenceServiceImpl final : public GrpcInferenceServiceWithRawMethods {
 public:
  // `options` are the server's; ModelInfer writes tensor_content whatever
  // --enable_serialization_as_tensor_content says (v2 outputs are raw).
  GrpcInferenceServiceImpl(std::shared_ptr<const ServingMap> serving_map,
                           PredictOptions options, std::string server_version);

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;

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

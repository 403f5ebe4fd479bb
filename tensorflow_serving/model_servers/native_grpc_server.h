// The model server's gRPC listener (the gRPC half of upstream's server.cc):
// a grpc++ server on the public port and/or Unix socket with the native
// PredictionService, the Open Inference Protocol's GRPCInferenceService
// beside it, ModelService answered by the Python control plane
// (ModelServiceBridge), and grpc++'s own health service when enabled.
//
// Every call but the health service's comes through one async generic
// service (GrpcUnaryCall) and is dispatched here by its method name; each
// completion queue has one thread, which reads a call, runs it and writes
// its answer.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_NATIVE_GRPC_SERVER_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_NATIVE_GRPC_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/grpc_inference_service_impl.h"
#include "tensorflow_serving/model_servers/grpc_unary_call.h"
#include "tensorflow_serving/model_servers/prediction_service_impl.h"
#include "tensorflow_serving/model_servers/control_plane.h"

namespace tensorflow {
namespace serving {

struct NativeGrpcServerOptions {
  // "0.0.0.0:8500", "unix:/path/to/socket", ...
  std::vector<std::string> addresses;
  // --grpc_channel_arguments, already split; integers stay integers.
  std::vector<std::pair<std::string, int>> int_channel_arguments;
  std::vector<std::pair<std::string, std::string>> string_channel_arguments;
  // Completion queues, each polled by a thread of its own: the most calls
  // whose handlers run at once (server.py decides how many).
  int threads = 2;
  // --enable_grpc_healthcheck_service: grpc.health.v1.Health, SERVING for
  // upstream's names and the services' full names until shutdown.
  bool enable_health_check_service = false;
  PredictOptions predict;
  // What the Open Inference Protocol's ServerMetadata reports as the version.
  std::string server_version;
  // --enable_signature_method_name_check (process-wide, see util.h).
  bool enable_signature_method_name_check = false;
  // --use_alts_credentials.
  bool use_alts = false;
  // --ssl_config_file (upstream's SSLConfig), when set.
  bool use_ssl = false;
  std::string server_key;
  std::string server_cert;
  std::string custom_ca;
  bool client_verify = false;
};

class NativeGrpcServer {
 public:
  // `control_plane` must outlive the server.
  static absl::Status Start(const NativeGrpcServerOptions& options,
                            std::shared_ptr<const ServingMap> serving_map,
                            ControlPlane* control_plane,
                            std::unique_ptr<NativeGrpcServer>* server);
  ~NativeGrpcServer();

  // The port each address got (0 for Unix sockets).
  const std::vector<int>& bound_ports() const { return bound_ports_; }
  // Health checks answer NOT_SERVING from now on.
  void EnterGracefulShutdown();
  // Stops accepting; calls in flight get `grace_seconds` to finish.
  void Stop(double grace_seconds);

 private:
  NativeGrpcServer() = default;

  std::unique_ptr<ModelServiceBridge> model_service_;
  std::unique_ptr<PredictionServiceImpl> prediction_service_;
  std::unique_ptr<GrpcInferenceServiceImpl> inference_service_;
  using Method = std::function<void(GrpcUnaryCall*)>;
  // What answers each method path the server knows.
  std::unordered_map<std::string, Method> Methods();
  // Answers a call; runs on a completion queue's thread.
  void Dispatch(GrpcUnaryCall* call);

  std::unordered_map<std::string, Method> methods_;
  std::unique_ptr<GrpcCallSource> calls_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<int> bound_ports_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_NATIVE_GRPC_SERVER_H_

// The model server's gRPC listener when the native data plane is on (the
// gRPC half of upstream's server.cc): a grpc++ callback server on the public
// port and/or Unix socket with the native PredictionService, and the proxy to
// the Python plane's private server for everything else (ModelService,
// health checks, unknown methods, and the calls the native
// PredictionService relays).

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_NATIVE_GRPC_SERVER_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_NATIVE_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/prediction_service_impl.h"
#include "tensorflow_serving/model_servers/python_plane_proxy.h"

namespace tensorflow {
namespace serving {

struct NativeGrpcServerOptions {
  // "0.0.0.0:8500", "unix:/path/to/socket", ...
  std::vector<std::string> addresses;
  // --grpc_channel_arguments, already split; integers stay integers.
  std::vector<std::pair<std::string, int>> int_channel_arguments;
  std::vector<std::pair<std::string, std::string>> string_channel_arguments;
  // The Python plane's gRPC server.
  std::string python_target;
  PredictOptions predict;
  // --enable_signature_method_name_check (process-wide, see util.h).
  bool enable_signature_method_name_check = false;
  // --ssl_config_file (upstream's SSLConfig), when set.
  bool use_ssl = false;
  std::string server_key;
  std::string server_cert;
  std::string custom_ca;
  bool client_verify = false;
};

class NativeGrpcServer {
 public:
  static absl::Status Start(const NativeGrpcServerOptions& options,
                            std::shared_ptr<const ServingMap> serving_map,
                            std::unique_ptr<NativeGrpcServer>* server);
  ~NativeGrpcServer();

  // The port each address got (0 for Unix sockets).
  const std::vector<int>& bound_ports() const { return bound_ports_; }
  // Stops accepting; calls in flight get `grace_seconds` to finish.
  void Stop(double grace_seconds);

  // Per PredictionService method (PredictionServiceImpl::Method), the calls
  // answered natively and those relayed to the Python plane; and the calls of
  // other services relayed.
  struct Counts {
    uint64_t native[PredictionServiceImpl::kNumMethods] = {};
    uint64_t relayed[PredictionServiceImpl::kNumMethods] = {};
    uint64_t other_relayed = 0;
  };
  Counts counts() const;

 private:
  NativeGrpcServer() = default;

  std::unique_ptr<PythonPlaneProxy> proxy_;
  std::unique_ptr<PredictionServiceImpl> prediction_service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<int> bound_ports_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_NATIVE_GRPC_SERVER_H_

// Relays gRPC calls the native data plane does not answer itself to the
// model server's Python gRPC server (the pure Python plane, listening on a
// private Unix socket), unchanged: method, request and response bytes,
// metadata, deadline, cancellation, status code, message and trailing
// metadata. Every RPC other than a natively served Predict takes this path:
// Classify, Regress, MultiInference, GetModelMetadata, ModelService, health
// checks (including streaming Watch), unknown methods, and Predict requests
// for anything the native ServingMap cannot resolve, so their answers are the
// Python plane's by construction.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_PYTHON_PLANE_PROXY_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_PYTHON_PLANE_PROXY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

namespace tensorflow {
namespace serving {

class PythonPlaneProxy : public grpc::CallbackGenericService {
 public:
  // `target`: the Python server's address, e.g. "unix:/tmp/x/python.sock".
  explicit PythonPlaneProxy(const std::string& target);

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

  // Relays one unary call whose request the caller has already read.
  // `client_context` (fresh), `method`, `request` and `response` must outlive
  // the call; `done` runs once, on a gRPC thread, after `response` and
  // `server_context`'s metadata are filled. Cancel through
  // client_context->TryCancel().
  void ForwardUnary(grpc::CallbackServerContext* server_context,
                    grpc::ClientContext* client_context, const char* method,
                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                    std::function<void(grpc::Status)> done);

  // Copies what a relayed call's client context needs from the incoming call.
  static void PrepareClientContext(const grpc::CallbackServerContext& server,
                                   grpc::ClientContext* client);
  // Copies the Python server's initial or trailing metadata back.
  static void CopyInitialMetadata(const grpc::ClientContext& client,
                                  grpc::CallbackServerContext* server);
  static void CopyTrailingMetadata(const grpc::ClientContext& client,
                                   grpc::CallbackServerContext* server);

  // Calls of other methods relayed so far.
  uint64_t num_relayed() const { return num_relayed_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  std::atomic<uint64_t> num_relayed_{0};
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_PYTHON_PLANE_PROXY_H_

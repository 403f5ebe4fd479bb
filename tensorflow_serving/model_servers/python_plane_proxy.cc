#include "tensorflow_serving/model_servers/python_plane_proxy.h"

#include <atomic>

#include "absl/strings/match.h"

namespace tensorflow {
namespace serving {

namespace {

// Headers gRPC itself sets on every call; the relayed call gets its own.
bool IsTransportHeader(const grpc::string_ref& key) {
  const absl::string_view k(key.data(), key.size());
  return absl::StartsWith(k, ":") || absl::StartsWith(k, "grpc-") ||
         k == "content-type" || k == "te" || k == "user-agent" || k == "host";
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // Never share a connection with anything else in the process.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// One relayed call of any kind (unary or streaming): a server-side reactor
// facing our client and a client-side reactor facing the Python server.
// Messages flow in two independent chains, each with at most one operation
// in flight: upstream (server read -> client write -> server read ...) and
// downstream (client read -> server write -> client read ...). Each chain
// holds the client call open (AddHold) until it has started its last
// client-side operation, so no operation is ever started on a finished
// client call; the client's OnDone then finishes the server side.
class Relay {
 public:
  Relay(grpc::GenericStub* stub, grpc::GenericCallbackServerContext* context)
      : context_(context), method_(context->method()), server_(this), client_(this) {
    PythonPlaneProxy::PrepareClientContext(*context, &client_context_);
    stub->PrepareBidiStreamingCall(&client_context_, method_, grpc::StubOptions(),
                                   &client_);
    client_.AddMultipleHolds(2);  // upstream and downstream
    server_.StartRead(&from_client_);
    client_.StartRead(&from_python_);
    client_.StartCall();
  }

  grpc::ServerGenericBidiReactor* reactor() { return &server_; }

 private:
  class ServerSide : public grpc::ServerGenericBidiReactor {
   public:
    explicit ServerSide(Relay* relay) : relay_(relay) {}
    // Upstream: a message (or the half-close) from our client.
    void OnReadDone(bool ok) override {
      if (ok) {
        relay_->client_.StartWrite(&relay_->from_client_);
      } else {
        relay_->client_.StartWritesDone();
        relay_->client_.RemoveHold();  // upstream done
      }
    }
    // Downstream: our client took the Python server's message.
    void OnWriteDone(bool ok) override {
      if (ok) {
        relay_->client_.StartRead(&relay_->from_python_);
      } else {
        relay_->client_context_.TryCancel();
        relay_->client_.RemoveHold();  // downstream done
      }
    }
    void OnCancel() override { relay_->client_context_.TryCancel(); }
    void OnDone() override { relay_->Unref(); }

   private:
    Relay* relay_;
  };

  class ClientSide : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit ClientSide(Relay* relay) : relay_(relay) {}
    void OnReadInitialMetadataDone(bool ok) override {
      if (ok) PythonPlaneProxy::CopyInitialMetadata(relay_->client_context_, relay_->context_);
    }
    // Downstream: a message from the Python server, or the end of them.
    void OnReadDone(bool ok) override {
      if (ok) {
        relay_->server_.StartWrite(&relay_->from_python_);
      } else {
        RemoveHold();  // downstream done
      }
    }
    // Upstream: the Python server took our client's message.
    void OnWriteDone(bool ok) override {
      if (ok) {
        relay_->server_.StartRead(&relay_->from_client_);
      } else {
        RemoveHold();  // upstream done: the Python side takes no more
      }
    }
    void OnDone(const grpc::Status& status) override {
      PythonPlaneProxy::CopyTrailingMetadata(relay_->client_context_, relay_->context_);
      relay_->server_.Finish(status);
      relay_->Unref();
    }

   private:
    Relay* relay_;
  };

  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  grpc::GenericCallbackServerContext* context_;
  const std::string method_;  // the client call refers to it until done
  grpc::ClientContext client_context_;
  grpc::ByteBuffer from_client_;
  grpc::ByteBuffer from_python_;
  ServerSide server_;
  ClientSide client_;
  std::atomic<int> refs_{2};
};

}  // namespace

PythonPlaneProxy::PythonPlaneProxy(const std::string& target)
    : channel_(MakeChannel(target)), stub_(channel_) {}

grpc::ServerGenericBidiReactor* PythonPlaneProxy::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  num_relayed_.fetch_add(1, std::memory_order_relaxed);
  return (new Relay(&stub_, context))->reactor();
}

void PythonPlaneProxy::ForwardUnary(grpc::CallbackServerContext* server_context,
                                    grpc::ClientContext* client_context, const char* method,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response,
                                    std::function<void(grpc::Status)> done) {
  if (!request->Valid()) {  // nothing to relay (callers answer such calls)
    done(grpc::Status(grpc::StatusCode::INTERNAL, "No request message"));
    return;
  }
  PrepareClientContext(*server_context, client_context);
  stub_.UnaryCall(client_context, method, grpc::StubOptions(), request, response,
                  [client_context, server_context, done = std::move(done)](
                      grpc::Status status) {
                    CopyInitialMetadata(*client_context, server_context);
                    CopyTrailingMetadata(*client_context, server_context);
                    done(std::move(status));
                  });
}

void PythonPlaneProxy::PrepareClientContext(const grpc::CallbackServerContext& server,
                                            grpc::ClientContext* client) {
  for (const auto& [key, value] : server.client_metadata()) {
    if (IsTransportHeader(key)) continue;
    client->AddMetadata(std::string(key.data(), key.size()),
                        std::string(value.data(), value.size()));
  }
  const gpr_timespec deadline = server.raw_deadline();
  if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) != 0) {
    client->set_deadline(deadline);
  }
}

void PythonPlaneProxy::CopyInitialMetadata(const grpc::ClientContext& client,
                                           grpc::CallbackServerContext* server) {
  for (const auto& [key, value] : client.GetServerInitialMetadata()) {
    if (IsTransportHeader(key)) continue;
    server->AddInitialMetadata(std::string(key.data(), key.size()),
                               std::string(value.data(), value.size()));
  }
}

void PythonPlaneProxy::CopyTrailingMetadata(const grpc::ClientContext& client,
                                            grpc::CallbackServerContext* server) {
  for (const auto& [key, value] : client.GetServerTrailingMetadata()) {
    if (IsTransportHeader(key)) continue;
    server->AddTrailingMetadata(std::string(key.data(), key.size()),
                                std::string(value.data(), value.size()));
  }
}

}  // namespace serving
}  // namespace tensorflow

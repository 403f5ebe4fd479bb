#include "tensorflow_serving/model_servers/grpc_inference_service_impl.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <google/protobuf/arena.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"
#include "tensorflow_serving/model_servers/grpc_byte_buffer.h"
#include "tensorflow_serving/servables/tensorflow/open_inference.h"
#include "tensorflow_serving/servables/tensorflow/util.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

constexpr char kService[] = "/inference.GRPCInferenceService/";
constexpr char kInferApi[] = "ModelInfer";

// One call, from its request bytes to Finish(), on gRPC's default reactor;
// it deletes itself once it has finished the call.
template <typename Request, typename Response>
class Call {
 public:
  Call(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
       grpc::ByteBuffer* response_bytes)
      : context_(context),
        request_bytes_(request_bytes),
        response_bytes_(response_bytes),
        reactor_(context->DefaultReactor()),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<Request>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<Response>(&arena_)) {}

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  grpc::CallbackServerContext* context() const { return context_; }
  Request* request() { return request_; }
  Response* response() { return response_; }

  // Parses the request; answers the call (as grpcio and PredictionService
  // answer such calls) and returns false if there is none to parse.
  bool Parse(const char* method) {
    if (!request_bytes_->Valid()) {
      Finish(absl::UnimplementedError(absl::StrCat("\"b'", kService, method,
                                                   "'\" requires exactly one request message.")));
      return false;
    }
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request_bytes_));
    if (!request_->ParseFromZeroCopyStream(&reader)) {
      Finish(absl::InternalError("Exception deserializing request!"));
      return false;
    }
    return true;
  }

  // Answers the call (the response when `status` is OK) and deletes this.
  void Finish(const absl::Status& status) {
    grpc::Status answer = grpc::Status::OK;
    if (status.ok()) {
      *response_bytes_ = SerializeDeterministically(*response_);
    } else {
      answer = grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                            std::string(status.message()));
    }
    grpc::ServerUnaryReactor* reactor = reactor_;
    delete this;
    reactor->Finish(answer);
  }

  // Held until the call is answered, so the version stays loaded.
  std::shared_ptr<SavedModelBundle> bundle;
  ModelSpec spec;
  Clock::time_point start = Clock::now();

 private:
  static google::protobuf::ArenaOptions ArenaOptions(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }

  grpc::CallbackServerContext* const context_;
  const grpc::ByteBuffer* const request_bytes_;
  grpc::ByteBuffer* const response_bytes_;
  grpc::ServerUnaryReactor* const reactor_;
  alignas(8) char arena_block_[8 * 1024];
  google::protobuf::Arena arena_;
  Request* request_;
  Response* response_;
};

// The bundle a request's model name and version string resolve to.
template <typename C>
absl::Status Resolve(const ServingMap& serving_map, const std::string& name,
                     const std::string& version_string, C* call, int64_t* version) {
  absl::Status status = MakeOpenInferenceModelSpec(name, version_string, &call->spec);
  if (status.ok()) status = serving_map.Find(call->spec, &call->bundle, version);
  return status;
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

}  // namespace

GrpcInferenceServiceImpl::GrpcInferenceServiceImpl(std::shared_ptr<const ServingMap> serving_map,
                                                   PredictOptions options,
                                                   std::string server_version)
    : serving_map_(std::move(serving_map)),
      options_(options),
      server_version_(std::move(server_version)) {
  options_.tensor_content = true;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ServerLive(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call =
      new Call<inference::ServerLiveRequest, inference::ServerLiveResponse>(context, request,
                                                                            response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ServerLive")) return reactor;
  call->response()->set_live(true);
  call->Finish(absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ServerReady(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call<inference::ServerReadyRequest, inference::ServerReadyResponse>(
      context, request, response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ServerReady")) return reactor;
  call->response()->set_ready(serving_map_->AllConfiguredModelsAvailable());
  call->Finish(absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ModelReady(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call =
      new Call<inference::ModelReadyRequest, inference::ModelReadyResponse>(context, request,
                                                                            response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ModelReady")) return reactor;
  if (call->request()->name().empty()) {
    call->Finish(absl::InvalidArgumentError("ModelSpec has no name specified."));
    return reactor;
  }
  absl::Status status = MakeOpenInferenceModelSpec(call->request()->name(),
                                                   call->request()->version(), &call->spec);
  if (!status.ok()) {
    call->Finish(status);
    return reactor;
  }
  int64_t version = 0;
  status = serving_map_->Find(call->spec, &call->bundle, &version);
  // Ready is AVAILABLE: any version the request may name that is not (an
  // unknown model, version or label) is not ready.
  call->response()->set_ready(status.ok());
  call->Finish(absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ServerMetadata(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call<inference::ServerMetadataRequest, inference::ServerMetadataResponse>(
      context, request, response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ServerMetadata")) return reactor;
  call->response()->set_name(kOpenInferenceServerName);
  call->response()->set_version(server_version_);
  for (const char* extension : kOpenInferenceExtensions) {
    call->response()->add_extensions(extension);
  }
  call->Finish(absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ModelMetadata(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call<inference::ModelMetadataRequest, inference::ModelMetadataResponse>(
      context, request, response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ModelMetadata")) return reactor;
  int64_t version = 0;
  absl::Status status = Resolve(*serving_map_, call->request()->name(),
                                call->request()->version(), call, &version);
  if (status.ok()) {
    status = GetModelInferMetadata(*call->bundle, call->request()->name(),
                                   serving_map_->AvailableVersions(call->request()->name()),
                                   call->response());
  }
  call->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ModelConfig(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call<inference::ModelConfigRequest, inference::ModelConfigResponse>(
      context, request, response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ModelConfig")) return reactor;
  int64_t version = 0;
  absl::Status status = Resolve(*serving_map_, call->request()->name(),
                                call->request()->version(), call, &version);
  if (status.ok()) {
    status = GetModelInferConfig(*call->bundle, call->request()->name(),
                                 call->response()->mutable_config());
  }
  call->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceServiceImpl::ModelInfer(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using InferCall = Call<inference::ModelInferRequest, inference::ModelInferResponse>;
  auto* call = new InferCall(context, request, response);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Parse("ModelInfer")) return reactor;
  const std::string model_name = call->request()->model_name();
  int64_t version = 0;
  const absl::Status status = Resolve(*serving_map_, model_name,
                                      call->request()->model_version(), call, &version);
  const bool metrics = Metrics::Get().enabled();
  if (!status.ok()) {
    if (metrics) RecordModelRequestCount(model_name, status);
    call->Finish(status);
    return reactor;
  }
  Clock::time_point deadline = Clock::time_point::max();
  if (options_.enforce_session_run_timeout) {
    // What is left of the call's deadline, at least 1 ms, as Predict's.
    const auto remaining = context->deadline() - std::chrono::system_clock::now();
    if (remaining < std::chrono::hours(24 * 365 * 100)) {
      deadline = call->start +
                 std::max<std::chrono::nanoseconds>(
                     std::chrono::duration_cast<std::chrono::nanoseconds>(remaining),
                     std::chrono::milliseconds(1));
    }
  }
  // The core may answer before it returns: `call` may then be gone.
  RunModelInfer(options_, *call->bundle, version, call->spec, call->request(), deadline,
                call->response(), [call, model_name, metrics](absl::Status status) {
                  if (metrics) {
                    if (status.ok()) {
                      RecordRequestLatency(model_name, kInferApi, "GRPC",
                                           MicrosSince(call->start));
                    }
                    RecordModelRequestCount(model_name, status);
                  }
                  call->Finish(status);
                });
  return reactor;
}

}  // namespace serving
}  // namespace tensorflow

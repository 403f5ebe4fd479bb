#include "tensorflow_serving/model_servers/grpc_inference_service_impl.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <google/protobuf/arena.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "grpc_service.pb.h"
#include "tensorflow_serving/model_servers/grpc_byte_buffer.h"
#include "tensorflow_serving/servables/tensorflow/open_inference.h"
#include "tensorflow_serving/servables/tensorflow/util.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

constexpr char kInferApi[] = "ModelInfer";

// One call, from its request bytes to Finish(); it deletes itself once it
// has answered.
template <typename Request, typename Response>
class Call {
 public:
  explicit Call(GrpcUnaryCall* call)
      : call_(call),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<Request>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<Response>(&arena_)) {}

  GrpcUnaryCall* call() const { return call_; }
  Request* request() { return request_; }
  Response* response() { return response_; }

  // Parses the request; answers the call (as grpcio and PredictionService
  // answer such calls) and returns false if it cannot be parsed.
  bool Parse() {
    grpc::ProtoBufferReader reader(call_->request());
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
      *call_->response() = SerializeDeterministically(*response_);
    } else {
      answer = grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                            std::string(status.message()));
    }
    GrpcUnaryCall* call = call_;
    delete this;
    call->Finish(answer);
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

  GrpcUnaryCall* const call_;
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

void GrpcInferenceServiceImpl::ServerLive(GrpcUnaryCall* grpc_call) const {
  auto* call =
      new Call<inference::ServerLiveRequest, inference::ServerLiveResponse>(grpc_call);
  if (!call->Parse()) return;
  call->response()->set_live(true);
  call->Finish(absl::OkStatus());
}

void GrpcInferenceServiceImpl::ServerReady(GrpcUnaryCall* grpc_call) const {
  auto* call = new Call<inference::ServerReadyRequest, inference::ServerReadyResponse>(grpc_call);
  if (!call->Parse()) return;
  call->response()->set_ready(serving_map_->AllConfiguredModelsAvailable());
  call->Finish(absl::OkStatus());
}

void GrpcInferenceServiceImpl::ModelReady(GrpcUnaryCall* grpc_call) const {
  auto* call =
      new Call<inference::ModelReadyRequest, inference::ModelReadyResponse>(grpc_call);
  if (!call->Parse()) return;
  if (call->request()->name().empty()) {
    call->Finish(absl::InvalidArgumentError("ModelSpec has no name specified."));
    return;
  }
  absl::Status status = MakeOpenInferenceModelSpec(call->request()->name(),
                                                   call->request()->version(), &call->spec);
  if (!status.ok()) {
    call->Finish(status);
    return;
  }
  int64_t version = 0;
  status = serving_map_->Find(call->spec, &call->bundle, &version);
  // Ready is AVAILABLE: any version the request may name that is not (an
  // unknown model, version or label) is not ready.
  call->response()->set_ready(status.ok());
  call->Finish(absl::OkStatus());
}

void GrpcInferenceServiceImpl::ServerMetadata(GrpcUnaryCall* grpc_call) const {
  auto* call = new Call<inference::ServerMetadataRequest, inference::ServerMetadataResponse>(grpc_call);
  if (!call->Parse()) return;
  call->response()->set_name(kOpenInferenceServerName);
  call->response()->set_version(server_version_);
  for (const char* extension : kOpenInferenceExtensions) {
    call->response()->add_extensions(extension);
  }
  call->Finish(absl::OkStatus());
}

void GrpcInferenceServiceImpl::ModelMetadata(GrpcUnaryCall* grpc_call) const {
  auto* call = new Call<inference::ModelMetadataRequest, inference::ModelMetadataResponse>(grpc_call);
  if (!call->Parse()) return;
  int64_t version = 0;
  absl::Status status = Resolve(*serving_map_, call->request()->name(),
                                call->request()->version(), call, &version);
  if (status.ok()) {
    status = GetModelInferMetadata(*call->bundle, call->request()->name(),
                                   serving_map_->AvailableVersions(call->request()->name()),
                                   call->response());
  }
  call->Finish(status);
}

void GrpcInferenceServiceImpl::ModelConfig(GrpcUnaryCall* grpc_call) const {
  auto* call = new Call<inference::ModelConfigRequest, inference::ModelConfigResponse>(grpc_call);
  if (!call->Parse()) return;
  int64_t version = 0;
  absl::Status status = Resolve(*serving_map_, call->request()->name(),
                                call->request()->version(), call, &version);
  if (status.ok()) {
    status = GetModelInferConfig(*call->bundle, call->request()->name(),
                                 call->response()->mutable_config());
  }
  call->Finish(status);
}

void GrpcInferenceServiceImpl::ModelInfer(GrpcUnaryCall* grpc_call) const {
  using InferCall = Call<inference::ModelInferRequest, inference::ModelInferResponse>;
  auto* call = new InferCall(grpc_call);
  if (!call->Parse()) return;
  const std::string model_name = call->request()->model_name();
  int64_t version = 0;
  const absl::Status status = Resolve(*serving_map_, model_name,
                                      call->request()->model_version(), call, &version);
  const bool metrics = Metrics::Get().enabled();
  if (!status.ok()) {
    if (metrics) RecordModelRequestCount(model_name, status);
    call->Finish(status);
    return;
  }
  Clock::time_point deadline = Clock::time_point::max();
  if (options_.enforce_session_run_timeout) {
    // What is left of the call's deadline, at least 1 ms, as Predict's.
    const auto remaining = grpc_call->deadline() - std::chrono::system_clock::now();
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
}

}  // namespace serving
}  // namespace tensorflow

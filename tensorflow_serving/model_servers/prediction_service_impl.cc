#include "tensorflow_serving/model_servers/prediction_service_impl.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <new>
#include <string>

#include <google/protobuf/arena.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "tensorflow_serving/apis/prediction_service.pb.h"
#include "tensorflow_serving/core/server_request_logger.h"
#include "tensorflow_serving/model_servers/grpc_byte_buffer.h"
#include "tensorflow_serving/servables/tensorflow/classifier.h"
#include "tensorflow_serving/servables/tensorflow/get_model_metadata_impl.h"
#include "tensorflow_serving/servables/tensorflow/multi_inference.h"
#include "tensorflow_serving/servables/tensorflow/regressor.h"
#include "tensorflow_serving/servables/tensorflow/util.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

absl::Status RequireModelSpec(bool has_model_spec) {
  if (has_model_spec) return absl::OkStatus();
  return absl::InvalidArgumentError("Missing ModelSpec");
}

// What the edge needs to know of each RPC: its messages and path, the
// ModelSpec the servable is looked up by, the checks made before that
// lookup (as upstream makes them), the core that answers,
// and the API label of request_count/request_latency (nullptr: the RPC is
// not counted there, as upstream counts only Predict, Classify and Regress).

struct PredictRpc {
  using Request = PredictRequest;
  using Response = PredictResponse;
  static constexpr const char* kApi = "Predict";
  static const ModelSpec& Spec(const Request& request) { return request.model_spec(); }
  static absl::Status Check(const Request& request) {
    return RequireModelSpec(request.has_model_spec());
  }
  static void Run(const PredictionServiceImpl& service, const SavedModelBundle& bundle,
                  int64_t version, const Request& request, Clock::time_point deadline,
                  Response* response, RunDone done) {
    RunPredict(service.options(), bundle, version, request, deadline, response,
               std::move(done));
  }
  static void Log(const Request& request, const Response& response) {
    ServerRequestLogger::Get().MaybeLog(ServerRequestLogger::LogType::kPredict,
                                        response.model_spec(), request, response);
  }
};

struct ClassifyRpc {
  using Request = ClassificationRequest;
  using Response = ClassificationResponse;
  static constexpr const char* kApi = "Classify";
  static const ModelSpec& Spec(const Request& request) { return request.model_spec(); }
  static absl::Status Check(const Request& request) {
    return RequireModelSpec(request.has_model_spec());
  }
  static void Run(const PredictionServiceImpl&, const SavedModelBundle& bundle,
                  int64_t version, const Request& request, Clock::time_point deadline,
                  Response* response, RunDone done) {
    RunClassify(bundle, version, request, deadline, response, std::move(done));
  }
  static void Log(const Request& request, const Response& response) {
    ServerRequestLogger::Get().MaybeLog(ServerRequestLogger::LogType::kClassify,
                                        response.model_spec(), request, response);
  }
};

struct RegressRpc {
  using Request = RegressionRequest;
  using Response = RegressionResponse;
  static constexpr const char* kApi = "Regress";
  static const ModelSpec& Spec(const Request& request) { return request.model_spec(); }
  static absl::Status Check(const Request& request) {
    return RequireModelSpec(request.has_model_spec());
  }
  static void Run(const PredictionServiceImpl&, const SavedModelBundle& bundle,
                  int64_t version, const Request& request, Clock::time_point deadline,
                  Response* response, RunDone done) {
    RunRegress(bundle, version, request, deadline, response, std::move(done));
  }
  static void Log(const Request& request, const Response& response) {
    ServerRequestLogger::Get().MaybeLog(ServerRequestLogger::LogType::kRegress,
                                        response.model_spec(), request, response);
  }
};

struct MultiInferenceRpc {
  using Request = MultiInferenceRequest;
  using Response = MultiInferenceResponse;
  static constexpr const char* kApi = nullptr;
  // Upstream's GetModelSpecFromRequest: the first task's, else an empty one
  // (which no servable matches).
  static const ModelSpec& Spec(const Request& request) {
    return request.tasks().empty() ? ModelSpec::default_instance()
                                   : request.tasks(0).model_spec();
  }
  static absl::Status Check(const Request&) { return absl::OkStatus(); }
  static void Run(const PredictionServiceImpl&, const SavedModelBundle& bundle,
                  int64_t version, const Request& request, Clock::time_point deadline,
                  Response* response, RunDone done) {
    RunMultiInference(bundle, version, request, deadline, response, std::move(done));
  }
  // Logged under the first result's spec: its version as resolved.
  static void Log(const Request& request, const Response& response) {
    if (response.results().empty()) return;
    ServerRequestLogger::Get().MaybeLog(ServerRequestLogger::LogType::kMultiInference,
                                        response.results(0).model_spec(), request, response);
  }
};

struct GetModelMetadataRpc {
  using Request = GetModelMetadataRequest;
  using Response = GetModelMetadataResponse;
  static constexpr const char* kApi = nullptr;
  static const ModelSpec& Spec(const Request& request) { return request.model_spec(); }
  static absl::Status Check(const Request& request) {
    return ValidateGetModelMetadataRequest(request);
  }
  static void Run(const PredictionServiceImpl&, const SavedModelBundle& bundle,
                  int64_t version, const Request& request, Clock::time_point,
                  Response* response, RunDone done) {
    done(GetModelMetadata(bundle, version, request, response));
  }
  static void Log(const Request&, const Response&) {}
};

// One call, from the request bytes to Finish(). It lives in the call's own
// arena, which gRPC sizes from the calls before it, so a call costs no
// allocation of its own; it destroys itself just before Finish() and gRPC
// frees the arena with the call.
template <typename Rpc>
class NativeCall {
 public:
  using Request = typename Rpc::Request;
  using Response = typename Rpc::Response;

  NativeCall(const PredictionServiceImpl* service, GrpcUnaryCall* call)
      : service_(service),
        call_(call),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<Request>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<Response>(&arena_)) {}

  // `this` may be gone when it returns.
  void Start() {
    start_ = Clock::now();
    // grpcio's answer, which clients of this server have always had.
    if (!Parse()) {
      return Finish(grpc::Status(grpc::StatusCode::INTERNAL, "Exception deserializing request!"));
    }
    absl::Status status = Rpc::Check(*request_);
    int64_t version = 0;
    if (status.ok()) status = service_->serving_map().Find(Rpc::Spec(*request_), &bundle_, &version);
    if (!status.ok()) return Fail(status);
    if (service_->options().enforce_session_run_timeout) {
      // What is left of the call's deadline, at least 1 ms, counted from now.
      const auto remaining = call_->deadline() - std::chrono::system_clock::now();
      if (remaining < std::chrono::hours(24 * 365 * 100)) {
        deadline_ = start_ + std::max<std::chrono::nanoseconds>(
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(remaining),
                                 std::chrono::milliseconds(1));
      }
    }
    // The core may answer before it returns: `this` may then be gone.
    Rpc::Run(*service_, *bundle_, version, *request_, deadline_, response_,
             [this](absl::Status status) { Complete(status); });
  }

 private:
  // The request and response live in a block of the call itself: no
  // allocation for them unless a request is large.
  static google::protobuf::ArenaOptions ArenaOptions(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }

  bool Parse() {
    grpc::ProtoBufferReader reader(call_->request());
    return request_->ParseFromZeroCopyStream(&reader);
  }

  const std::string& ModelName() const { return Rpc::Spec(*request_).name(); }

  void Complete(const absl::Status& status) {
    if (!status.ok()) return Fail(status);
    *call_->response() = SerializeDeterministically(*response_);
    Rpc::Log(*request_, *response_);
    if (Rpc::kApi != nullptr && Metrics::Get().enabled()) {
      RecordRequestLatency(ModelName(), Rpc::kApi, "GRPC", MicrosSince(start_));
      RecordModelRequestCount(ModelName(), status);
    }
    Finish(grpc::Status::OK);
  }

  void Fail(const absl::Status& status) {
    if (Rpc::kApi != nullptr && Metrics::Get().enabled()) {
      RecordModelRequestCount(ModelName(), status);
    }
    Finish(ToGrpcStatus(status));
  }

  // Finishes the call and destroys this (the bundle reference goes with it).
  void Finish(const grpc::Status& status) {
    GrpcUnaryCall* call = call_;
    this->~NativeCall();
    call->Finish(status);
  }

  const PredictionServiceImpl* const service_;
  GrpcUnaryCall* const call_;
  alignas(8) char arena_block_[8 * 1024];
  google::protobuf::Arena arena_;
  Request* request_;
  Response* response_;
  // Held until the call is answered, so the version stays loaded.
  std::shared_ptr<SavedModelBundle> bundle_;
  Clock::time_point start_;
  Clock::time_point deadline_ = Clock::time_point::max();
};

template <typename Rpc>
void StartCall(const PredictionServiceImpl* service, GrpcUnaryCall* call) {
  // The arena hands out blocks aligned for any fundamental type.
  static_assert(alignof(NativeCall<Rpc>) <= alignof(std::max_align_t));
  void* memory = call->ArenaAllocate(sizeof(NativeCall<Rpc>));
  (new (memory) NativeCall<Rpc>(service, call))->Start();
}

}  // namespace

void PredictionServiceImpl::Predict(GrpcUnaryCall* call) const {
  StartCall<PredictRpc>(this, call);
}

void PredictionServiceImpl::Classify(GrpcUnaryCall* call) const {
  StartCall<ClassifyRpc>(this, call);
}

void PredictionServiceImpl::Regress(GrpcUnaryCall* call) const {
  StartCall<RegressRpc>(this, call);
}

void PredictionServiceImpl::MultiInference(GrpcUnaryCall* call) const {
  StartCall<MultiInferenceRpc>(this, call);
}

void PredictionServiceImpl::GetModelMetadata(GrpcUnaryCall* call) const {
  StartCall<GetModelMetadataRpc>(this, call);
}

}  // namespace serving
}  // namespace tensorflow

#include "tensorflow_serving/model_servers/prediction_service_impl.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <new>
#include <string>

#include <google/protobuf/arena.h>
#include <grpc/grpc.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"

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

grpc::Status NoRequestMessage(const char* path) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat("\"b'", path, "'\" requires exactly one request message."));
}

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
  static constexpr char kPath[] = "/tensorflow.serving.PredictionService/Predict";
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
  static constexpr char kPath[] = "/tensorflow.serving.PredictionService/Classify";
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
  static constexpr char kPath[] = "/tensorflow.serving.PredictionService/Regress";
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
  static constexpr char kPath[] = "/tensorflow.serving.PredictionService/MultiInference";
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
  static constexpr char kPath[] = "/tensorflow.serving.PredictionService/GetModelMetadata";
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

// One call, from the request bytes to Finish(). It
// runs on gRPC's default reactor, whose completion gRPC handles inline (a
// reactor of our own would cost every call a hop to gRPC's executor
// thread). It lives in the call's own arena, which gRPC sizes from the calls
// before it, so a call costs no allocation of its own; it destroys itself
// just before Finish() and gRPC frees the arena with the call.
template <typename Rpc>
class NativeCall {
 public:
  using Request = typename Rpc::Request;
  using Response = typename Rpc::Response;

  NativeCall(const PredictionServiceImpl* service, grpc::CallbackServerContext* context,
             const grpc::ByteBuffer* request, grpc::ByteBuffer* response)
      : service_(service),
        context_(context),
        request_bytes_(request),
        response_bytes_(response),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<Request>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<Response>(&arena_)) {}

  // The reactor gRPC is to drive; `this` may be gone when it returns.
  grpc::ServerUnaryReactor* Start() {
    start_ = Clock::now();
    // A call without a request message (its client half-closed without
    // sending one): answered as grpcio answers it.
    if (!request_bytes_->Valid()) return Answer(NoRequestMessage(Rpc::kPath));
    // grpcio's answer, which clients of this server have always had.
    if (!Parse()) {
      return Answer(grpc::Status(grpc::StatusCode::INTERNAL, "Exception deserializing request!"));
    }
    grpc::ServerUnaryReactor* reactor = reactor_ = context_->DefaultReactor();
    absl::Status status = Rpc::Check(*request_);
    int64_t version = 0;
    if (status.ok()) status = service_->serving_map().Find(Rpc::Spec(*request_), &bundle_, &version);
    if (!status.ok()) {
      Fail(status);
      return reactor;
    }
    if (service_->options().enforce_session_run_timeout) {
      // What is left of the call's deadline, at least 1 ms, counted from now.
      const auto remaining = context_->deadline() - std::chrono::system_clock::now();
      if (remaining < std::chrono::hours(24 * 365 * 100)) {
        deadline_ = start_ + std::max<std::chrono::nanoseconds>(
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(remaining),
                                 std::chrono::milliseconds(1));
      }
    }
    // The core may answer before it returns: `this` may then be gone.
    Rpc::Run(*service_, *bundle_, version, *request_, deadline_, response_,
             [this](absl::Status status) { Complete(status); });
    return reactor;
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
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request_bytes_));
    return request_->ParseFromZeroCopyStream(&reader);
  }

  const std::string& ModelName() const { return Rpc::Spec(*request_).name(); }

  void Complete(const absl::Status& status) {
    if (!status.ok()) return Fail(status);
    *response_bytes_ = SerializeDeterministically(*response_);
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
    grpc::ServerUnaryReactor* reactor = reactor_;
    this->~NativeCall();
    reactor->Finish(status);
  }

  // Answers a call whose request could not be read, on the default reactor.
  grpc::ServerUnaryReactor* Answer(const grpc::Status& status) {
    grpc::ServerUnaryReactor* reactor = reactor_ = context_->DefaultReactor();
    Finish(status);
    return reactor;
  }

  const PredictionServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;
  const grpc::ByteBuffer* const request_bytes_;
  grpc::ByteBuffer* const response_bytes_;
  grpc::ServerUnaryReactor* reactor_ = nullptr;
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
grpc::ServerUnaryReactor* StartCall(const PredictionServiceImpl* service,
                                    grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) {
  // The arena hands out blocks aligned for any fundamental type.
  static_assert(alignof(NativeCall<Rpc>) <= alignof(std::max_align_t));
  void* memory = grpc_call_arena_alloc(context->c_call(), sizeof(NativeCall<Rpc>));
  return (new (memory) NativeCall<Rpc>(service, context, request, response))->Start();
}

}  // namespace

grpc::ServerUnaryReactor* PredictionServiceImpl::Predict(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return StartCall<PredictRpc>(this, context, request, response);
}

grpc::ServerUnaryReactor* PredictionServiceImpl::Classify(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  return StartCall<ClassifyRpc>(this, context, request, response);
}

grpc::ServerUnaryReactor* PredictionServiceImpl::Regress(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return StartCall<RegressRpc>(this, context, request, response);
}

grpc::ServerUnaryReactor* PredictionServiceImpl::MultiInference(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return StartCall<MultiInferenceRpc>(this, context, request, response);
}

grpc::ServerUnaryReactor* PredictionServiceImpl::GetModelMetadata(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return StartCall<GetModelMetadataRpc>(this, context, request, response);
}

}  // namespace serving
}  // namespace tensorflow

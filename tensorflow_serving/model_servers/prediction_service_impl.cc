#include "tensorflow_serving/model_servers/prediction_service_impl.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"

#include "tensorflow_serving/batching/batching_session.h"
#include "tensorflow_serving/util/monitoring.h"

namespace tensorflow {
namespace serving {

namespace {

constexpr char kPredictMethod[] = "/tensorflow.serving.PredictionService/Predict";

grpc::Status NoRequestMessage() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat("\"b'", kPredictMethod,
                                   "'\" requires exactly one request message."));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// Serializes with map entries in key order, as both planes do, so that the
// same answer is the same bytes.
grpc::ByteBuffer SerializeDeterministically(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  grpc_slice slice = grpc_slice_malloc(size);
  google::protobuf::io::ArrayOutputStream array(GRPC_SLICE_START_PTR(slice),
                                                static_cast<int>(size));
  {
    google::protobuf::io::CodedOutputStream coded(&array);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  grpc::Slice owned(slice, grpc::Slice::STEAL_REF);
  return grpc::ByteBuffer(&owned, 1);
}

// prediction_service_impl.py's and request_metrics.py's metric families.
constexpr char kRequestCount[] = "/tensorflow/serving/request_count";
constexpr char kRequestLatency[] = "/tensorflow/serving/request_latency";
constexpr char kRuntimeLatency[] = "/tensorflow/serving/runtime_latency";

using Clock = SavedModelBundle::Clock;

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Whether feeds can join a batch: every one has a dim 0, all the same
// (otherwise the run goes alone, as saved_model_bundle.py decides).
bool BatchableFeeds(const TfCApi& api, const std::vector<TfTensor>& values) {
  int64_t size = -1;
  for (const TfTensor& value : values) {
    if (api.NumDims(value.get()) == 0) return false;
    const int64_t dim0 = api.Dim(value.get(), 0);
    if (size >= 0 && dim0 != size) return false;
    size = dim0;
  }
  return size >= 0;
}

// A Predict call relayed to the Python plane: a reactor of its own, so that
// a cancelled call cancels the relayed one.
class RelayReactor final : public grpc::ServerUnaryReactor {
 public:
  RelayReactor(const PredictionServiceImpl* service, grpc::CallbackServerContext* context,
               const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
    service->CountRelayed();
    service->proxy()->ForwardUnary(context, &client_context_, kPredictMethod, request,
                                   response, [this](grpc::Status status) { Finish(status); });
  }
  void OnCancel() override { client_context_.TryCancel(); }
  void OnDone() override { delete this; }

 private:
  grpc::ClientContext client_context_;
};

// One Predict call the native plane answers, from the request bytes to
// Finish(). It runs on gRPC's default reactor, whose completion gRPC handles
// inline (a reactor of our own would cost every call a hop to gRPC's
// executor thread), and deletes itself once it has called Finish().
class PredictCall {
 public:
  PredictCall(const PredictionServiceImpl* service, grpc::CallbackServerContext* context,
              const grpc::ByteBuffer* request, grpc::ByteBuffer* response)
      : service_(service),
        context_(context),
        request_bytes_(request),
        response_bytes_(response),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<PredictRequest>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<PredictResponse>(&arena_)) {}

  // The reactor gRPC is to drive; `this` may be gone when it returns.
  grpc::ServerUnaryReactor* Start() {
    start_ = Clock::now();
    // A call without a request message (its client half-closed without
    // sending one): answered as the Python plane's grpcio answers it.
    if (!request_bytes_->Valid()) return Answer(NoRequestMessage());
    if (!Parse()) return Relay();
    int64_t version = 0;
    bundle_ = service_->serving_map().Find(request_->model_spec(), &version);
    if (bundle_ == nullptr) return Relay();
    if (service_->options().enforce_session_run_timeout) {
      // What is left of the call's deadline, at least 1 ms (as the Python
      // plane's deadline_timeout), counted from now.
      const auto remaining = context_->deadline() - std::chrono::system_clock::now();
      if (remaining < std::chrono::hours(24 * 365 * 100)) {
        deadline_ = start_ + std::max<std::chrono::nanoseconds>(
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(remaining),
                                 std::chrono::milliseconds(1));
      }
    }
    bool forward = false;
    const absl::Status status = PreProcessPrediction(
        *bundle_, version, *request_, service_->options(), &prepared_, response_, &forward);
    if (forward) return Relay();
    grpc::ServerUnaryReactor* reactor = reactor_ = context_->DefaultReactor();
    if (!status.ok()) {
      Fail(status);
      return reactor;
    }
    const TfCApi& api = bundle_->api();
    BatchingSession* batching = bundle_->batching_session();
    run_start_ = Clock::now();
    if (batching != nullptr && prepared_.signature->batchable &&
        BatchableFeeds(api, prepared_.feed_values)) {
      if (deadline_ != Clock::time_point::max() && deadline_ <= Clock::now()) {
        Fail(absl::DeadlineExceededError("Deadline exceeded before the model run"));
        return reactor;
      }
      batching->Run(prepared_.signature_name, prepared_.input_aliases, prepared_.feeds,
                    std::move(prepared_.feed_values), prepared_.output_aliases,
                    prepared_.fetches, deadline_,
                    [this](absl::Status status, OwnedTensorViews outputs) {
                      Complete(status, outputs);
                    });
      return reactor;
    }
    std::string run_options;
    absl::Status run_status = bundle_->RunOptionsFor(deadline_, &run_options);
    std::vector<TfTensor> tensors;
    if (run_status.ok()) {
      run_status = RunSession(*bundle_, run_options, prepared_.feeds, prepared_.feed_values,
                              prepared_.fetches, &tensors);
    }
    Complete(run_status, OwnedTensorViews::Of(api, std::move(tensors)));
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

  void Complete(const absl::Status& status, const OwnedTensorViews& outputs) {
    if (!status.ok()) return Fail(status);
    Monitoring& monitoring = Monitoring::Get();
    if (monitoring.enabled()) {
      monitoring.Add(kRuntimeLatency, {request_->model_spec().name(), "Predict", "TF1"},
                     MicrosSince(run_start_));
    }
    bool forward = false;
    const absl::Status post = PostProcessPredictionResult(prepared_, outputs.views,
                                                          service_->options(), response_,
                                                          &forward);
    if (forward) return RelayAfterRun();
    if (!post.ok()) return Fail(post);
    *response_bytes_ = SerializeDeterministically(*response_);
    service_->CountNative();
    if (monitoring.enabled()) {
      monitoring.Add(kRequestLatency, {request_->model_spec().name(), "Predict", "GRPC"},
                     MicrosSince(start_));
      monitoring.Increment(kRequestCount, {request_->model_spec().name(), "OK"});
    }
    Finish(grpc::Status::OK);
  }

  void Fail(const absl::Status& status) {
    service_->CountNative();
    Monitoring& monitoring = Monitoring::Get();
    if (monitoring.enabled()) {
      monitoring.Increment(kRequestCount, {request_->model_spec().name(),
                                           absl::StatusCodeToString(status.code())});
    }
    Finish(ToGrpcStatus(status));
  }

  // Finishes the call and deletes this (the bundle reference goes with it).
  void Finish(const grpc::Status& status) {
    grpc::ServerUnaryReactor* reactor = reactor_;
    delete this;
    reactor->Finish(status);
  }

  // Answers a call no bundle was resolved for, on the default reactor.
  grpc::ServerUnaryReactor* Answer(const grpc::Status& status) {
    grpc::ServerUnaryReactor* reactor = reactor_ = context_->DefaultReactor();
    Finish(status);
    return reactor;
  }

  // Hands the untouched request bytes to the Python plane (which counts the
  // call in its own metrics).
  grpc::ServerUnaryReactor* Relay() {
    auto* reactor = new RelayReactor(service_, context_, request_bytes_, response_bytes_);
    delete this;
    return reactor;
  }

  // An output the native encoders do not write (found only after the run):
  // the Python plane answers instead, on the default reactor already in use.
  void RelayAfterRun() {
    service_->CountRelayed();
    response_->Clear();
    bundle_.reset();
    relay_context_ = std::make_unique<grpc::ClientContext>();
    service_->proxy()->ForwardUnary(context_, relay_context_.get(), kPredictMethod,
                                    request_bytes_, response_bytes_,
                                    [this](grpc::Status status) { Finish(status); });
  }

  const PredictionServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;
  const grpc::ByteBuffer* const request_bytes_;
  grpc::ByteBuffer* const response_bytes_;
  grpc::ServerUnaryReactor* reactor_ = nullptr;
  alignas(8) char arena_block_[8 * 1024];
  google::protobuf::Arena arena_;
  PredictRequest* request_;
  PredictResponse* response_;
  // Held until the call is answered, so the version stays loaded.
  std::shared_ptr<SavedModelBundle> bundle_;
  PreparedPrediction prepared_;
  Clock::time_point start_;
  Clock::time_point run_start_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::unique_ptr<grpc::ClientContext> relay_context_;
};

}  // namespace

grpc::ServerUnaryReactor* PredictionServiceImpl::Predict(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return (new PredictCall(this, context, request, response))->Start();
}

}  // namespace serving
}  // namespace tensorflow

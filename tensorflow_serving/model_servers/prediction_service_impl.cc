#include "tensorflow_serving/model_servers/prediction_service_impl.h"

#include <atomic>
#include <string>
#include <vector>

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"

#include "tensorflow_serving/batching/batching_session.h"

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

// One Predict call, from the request bytes to Finish(); deletes itself when
// gRPC is done with the call.
class PredictReactor final : public grpc::ServerUnaryReactor {
 public:
  PredictReactor(const PredictionServiceImpl* service, grpc::CallbackServerContext* context,
                 const grpc::ByteBuffer* request, grpc::ByteBuffer* response)
      : service_(service),
        context_(context),
        request_bytes_(request),
        response_bytes_(response),
        arena_(ArenaOptions()),
        request_(google::protobuf::Arena::CreateMessage<PredictRequest>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<PredictResponse>(&arena_)) {}

  void Start() {
    // A call without a request message (its client half-closed without
    // sending one): answered as the Python plane's grpcio answers it.
    if (!request_bytes_->Valid()) return Finish(NoRequestMessage());
    if (!Parse()) return Forward();
    int64_t version = 0;
    bundle_ = service_->serving_map().Find(request_->model_spec(), &version);
    if (bundle_ == nullptr) return Forward();
    bool forward = false;
    const absl::Status status = PreProcessPrediction(
        *bundle_, version, *request_, service_->options(), &prepared_, response_, &forward);
    if (forward) return Forward();
    if (!status.ok()) return Fail(status);
    BatchingSession* batching = bundle_->batching_session();
    if (batching != nullptr && prepared_.signature->batchable) {
      batching->Run(prepared_.signature_name, prepared_.input_aliases, prepared_.feeds,
                    std::move(prepared_.feed_values), prepared_.output_aliases,
                    prepared_.fetches, BatchingSession::Clock::time_point::max(),
                    [this](absl::Status status, OwnedTensorViews outputs) {
                      Complete(status, outputs);
                    });
      return;
    }
    std::vector<TfTensor> tensors;
    const absl::Status run_status =
        RunSession(*bundle_, bundle_->run_options(), prepared_.feeds,
                   prepared_.feed_values, prepared_.fetches, &tensors);
    Complete(run_status, OwnedTensorViews::Of(bundle_->api(), std::move(tensors)));
  }

  void OnCancel() override {
    if (forwarding_.load()) client_context_.TryCancel();
  }

  void OnDone() override { delete this; }

 private:
  static google::protobuf::ArenaOptions ArenaOptions() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 16 * 1024;
    return options;
  }

  bool Parse() {
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request_bytes_));
    return request_->ParseFromZeroCopyStream(&reader);
  }

  void Complete(const absl::Status& status, const OwnedTensorViews& outputs) {
    if (!status.ok()) return Fail(status);
    bool forward = false;
    const absl::Status post = PostProcessPredictionResult(prepared_, outputs.views,
                                                          service_->options(), response_,
                                                          &forward);
    if (forward) return Forward();
    if (!post.ok()) return Fail(post);
    *response_bytes_ = SerializeDeterministically(*response_);
    service_->CountNative();
    Finish(grpc::Status::OK);
  }

  void Fail(const absl::Status& status) {
    service_->CountNative();
    Finish(ToGrpcStatus(status));
  }

  // Hands the untouched request bytes to the Python plane.
  void Forward() {
    service_->CountRelayed();
    forwarding_.store(true);
    response_->Clear();
    bundle_.reset();  // the Python plane takes its own handle
    service_->proxy()->ForwardUnary(context_, &client_context_, kPredictMethod,
                                    request_bytes_, response_bytes_,
                                    [this](grpc::Status status) { Finish(status); });
  }

  const PredictionServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;
  const grpc::ByteBuffer* const request_bytes_;
  grpc::ByteBuffer* const response_bytes_;
  google::protobuf::Arena arena_;
  PredictRequest* request_;
  PredictResponse* response_;
  // Held until gRPC is done with the call, so the version stays loaded.
  std::shared_ptr<SavedModelBundle> bundle_;
  PreparedPrediction prepared_;
  grpc::ClientContext client_context_;
  std::atomic<bool> forwarding_{false};
};

}  // namespace

grpc::ServerUnaryReactor* PredictionServiceImpl::Predict(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  auto* reactor = new PredictReactor(this, context, request, response);
  reactor->Start();
  return reactor;
}

}  // namespace serving
}  // namespace tensorflow

#include "tensorflow_serving/model_servers/control_plane.h"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tensorflow {
namespace serving {

void ControlPlane::Submit(Call call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      queue_.push_back(std::move(call));
      cv_.notify_one();
      return;
    }
  }
  call.done(absl::UnavailableError("The server is shutting down"), "");
}

bool ControlPlane::Next(Call* call) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) return false;
  *call = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

void ControlPlane::Close() {
  std::deque<Call> orphans;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    orphans.swap(queue_);
    cv_.notify_all();
  }
  for (Call& call : orphans) {
    call.done(absl::UnavailableError("The server is shutting down"), "");
  }
}

namespace {

constexpr char kModelService[] = "/tensorflow.serving.ModelService/";

ControlPlane::Clock::time_point SteadyDeadline(std::chrono::system_clock::time_point deadline) {
  const auto remaining = deadline - std::chrono::system_clock::now();
  if (remaining > std::chrono::hours(24 * 365 * 100)) return ControlPlane::Clock::time_point::max();
  return ControlPlane::Clock::now() +
         std::chrono::duration_cast<ControlPlane::Clock::duration>(remaining);
}

// One unary call of ModelService: read the request, hand it to the control
// plane, write what it answers. A cancelled call is finished at once, so a
// shutdown never waits for Python (a reload may take minutes); the answer
// that comes later finds the call gone and is dropped. Deletes itself once
// gRPC is done with it.
class ModelServiceCall : public grpc::ServerGenericBidiReactor {
 public:
  ModelServiceCall(ControlPlane* control_plane, grpc::GenericCallbackServerContext* context)
      : control_plane_(control_plane), context_(context), state_(std::make_shared<State>()) {
    state_->call = this;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed without a request, as grpcio words it
      Answer(state_, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                  absl::StrCat("\"b'", context_->method(),
                                               "'\" requires exactly one request message.")),
             "");
      return;
    }
    ControlPlane::Call call;
    call.method = context_->method().substr(sizeof(kModelService) - 1);
    std::vector<grpc::Slice> slices;
    if (!request_.Dump(&slices).ok()) {
      Answer(state_, grpc::Status(grpc::StatusCode::INTERNAL, "Could not read the request"), "");
      return;
    }
    for (const grpc::Slice& slice : slices) {
      call.request.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    call.deadline = SteadyDeadline(context_->deadline());
    call.cancelled = [state = state_] {
      std::lock_guard<std::mutex> lock(state->mu);
      return state->call == nullptr || state->cancelled;
    };
    call.done = [state = state_](absl::Status status, std::string body) {
      Answer(state,
             grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          std::string(status.message())),
             std::move(body));
    };
    control_plane_->Submit(std::move(call));
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->cancelled = true;
    }
    Answer(state_, grpc::Status::CANCELLED, "");
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->call = nullptr;
    }
    delete this;
  }

 private:
  // What outlives the call: the control plane may answer after gRPC is done.
  struct State {
    std::mutex mu;
    ModelServiceCall* call = nullptr;  // null once gRPC is done with it
    bool cancelled = false;
    bool answered = false;
  };

  // Finishes the call with `status` (and `body` if OK), once.
  static void Answer(const std::shared_ptr<State>& state, const grpc::Status& status,
                     std::string body) {
    ModelServiceCall* call = nullptr;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->call == nullptr || state->answered) return;
      state->answered = true;
      call = state->call;
    }
    // gRPC is not done with the call (OnDone) before it is finished, and only
    // this answer finishes it; gRPC may run OnDone within Finish.
    if (!status.ok()) {
      call->Finish(status);
      return;
    }
    grpc::Slice slice(body);
    call->response_ = grpc::ByteBuffer(&slice, 1);
    call->StartWriteAndFinish(&call->response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  ControlPlane* const control_plane_;
  grpc::GenericCallbackServerContext* const context_;
  std::shared_ptr<State> state_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

// A method no service registers: what gRPC answers for it.
class UnimplementedCall : public grpc::ServerGenericBidiReactor {
 public:
  UnimplementedCall() {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "Method not found!"));
  }
  void OnDone() override { delete this; }
};

bool IsModelServiceMethod(const std::string& method) {
  return method == absl::StrCat(kModelService, "GetModelStatus") ||
         method == absl::StrCat(kModelService, "HandleReloadConfigRequest");
}

}  // namespace

grpc::ServerGenericBidiReactor* ModelServiceBridge::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  if (IsModelServiceMethod(context->method())) {
    return new ModelServiceCall(control_plane_, context);
  }
  return new UnimplementedCall();
}

}  // namespace serving
}  // namespace tensorflow

#include "tensorflow_serving/model_servers/control_plane.h"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

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

ControlPlane::Clock::time_point SteadyDeadline(std::chrono::system_clock::time_point deadline) {
  const auto remaining = deadline - std::chrono::system_clock::now();
  if (remaining > std::chrono::hours(24 * 365 * 100)) return ControlPlane::Clock::time_point::max();
  return ControlPlane::Clock::now() +
         std::chrono::duration_cast<ControlPlane::Clock::duration>(remaining);
}

// What outlives a ModelService call: the control plane may answer after the
// call has ended. A call that ends first (cancelled, past its deadline, or
// the server stopping) is answered CANCELLED at once, so a shutdown never
// waits for Python (a reload may take minutes); the answer that comes later
// finds it answered and is dropped.
struct ModelServiceCallState {
  std::mutex mu;
  GrpcUnaryCall* call;  // not to be touched once answered
  bool cancelled = false;
  bool answered = false;

  // Finishes the call with `status` (and `body` if OK), once.
  void Answer(const grpc::Status& status, std::string body) {
    GrpcUnaryCall* answering = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (answered) return;
      answered = true;
      answering = call;
    }
    if (status.ok()) {
      grpc::Slice slice(body);
      *answering->response() = grpc::ByteBuffer(&slice, 1);
    }
    answering->Finish(status);
  }
};

}  // namespace

void ModelServiceBridge::Handle(const std::string& method, GrpcUnaryCall* grpc_call) const {
  auto state = std::make_shared<ModelServiceCallState>();
  state->call = grpc_call;
  ControlPlane::Call call;
  call.method = method;
  std::vector<grpc::Slice> slices;
  if (!grpc_call->request()->Dump(&slices).ok()) {
    state->Answer(grpc::Status(grpc::StatusCode::INTERNAL, "Could not read the request"), "");
    return;
  }
  for (const grpc::Slice& slice : slices) {
    call.request.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  call.deadline = SteadyDeadline(grpc_call->deadline());
  call.cancelled = [state] {
    std::lock_guard<std::mutex> lock(state->mu);
    return state->cancelled;
  };
  call.done = [state](absl::Status status, std::string body) {
    state->Answer(grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                               std::string(status.message())),
                  std::move(body));
  };
  grpc_call->OnCancel([state] {
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->cancelled = true;
    }
    state->Answer(grpc::Status::CANCELLED, "");
  });
  control_plane_->Submit(std::move(call));
}

}  // namespace serving
}  // namespace tensorflow

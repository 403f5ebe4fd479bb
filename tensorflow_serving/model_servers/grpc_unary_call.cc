#include "tensorflow_serving/model_servers/grpc_unary_call.h"

#include <grpc/grpc.h>

#include "absl/strings/str_cat.h"

namespace tensorflow {
namespace serving {

namespace {

// How long a call's request may take to arrive before its queue asks for
// another call: far longer than a request on a healthy connection takes,
// short enough that a client sending slowly holds up nobody.
constexpr auto kSlowReadDelay = std::chrono::milliseconds(5);

}  // namespace

void GrpcCallSource::Serve(grpc::ServerCompletionQueue* cq) {
  GrpcUnaryCall::Queue queue{this, cq};
  GrpcUnaryCall::RequestNext(&queue);
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) GrpcUnaryCall::Proceed(&queue, tag, ok);
}

void GrpcCallSource::WaitForNoCalls() {
  std::unique_lock<std::mutex> lock(mu_);
  no_calls_.wait(lock, [this] { return calls_ == 0; });
  stopped_ = true;
}

GrpcUnaryCall::GrpcUnaryCall(Queue* queue) : queue_(queue), stream_(&context_) {}

GrpcUnaryCall::~GrpcUnaryCall() {
  GrpcCallSource* source = queue_->source;
  std::lock_guard<std::mutex> lock(source->mu_);
  if (--source->calls_ == 0) source->no_calls_.notify_all();
}

void GrpcUnaryCall::RequestNext(Queue* queue) {
  GrpcCallSource* source = queue->source;
  {
    std::lock_guard<std::mutex> lock(source->mu_);
    if (source->stopped_) return;
    ++source->calls_;
  }
  auto* call = new GrpcUnaryCall(queue);
  // gRPC delivers this tag only for a call that started.
  call->context_.AsyncNotifyWhenDone(&call->done_);
  queue->requested = true;
  source->service()->RequestCall(&call->context_, &call->stream_, queue->cq, queue->cq,
                                 &call->requested_);
}

void GrpcUnaryCall::Proceed(Queue* queue, void* tag, bool ok) {
  Tag* t = static_cast<Tag*>(tag);
  if (t->call != nullptr) {
    t->call->OnEvent(t->event, ok);
    return;
  }
  // The alarm: the thread is free, and if no call is asked for, a call's
  // request is still arriving.
  queue->alarm_set = false;
  if (!queue->requested) RequestNext(queue);
}

void* GrpcUnaryCall::ArenaAllocate(size_t size) {
  return grpc_call_arena_alloc(context_.c_call(), size);
}

void GrpcUnaryCall::Finish(const grpc::Status& status) {
  if (status.ok()) {
    stream_.WriteAndFinish(response_, grpc::WriteOptions(), status, &finished_tag_);
  } else {
    stream_.Finish(status, &finished_tag_);
  }
}

void GrpcUnaryCall::OnEvent(Event event, bool ok) {
  switch (event) {
    case kRequested:
      queue_->requested = false;
      if (!ok) {  // the server is shutting down
        delete this;
        return;
      }
      stream_.Read(&request_, &read_);
      if (!queue_->alarm_set) {
        queue_->alarm_set = true;
        queue_->alarm.Set(queue_->cq, std::chrono::system_clock::now() + kSlowReadDelay,
                          &queue_->alarm_tag);
      }
      return;
    case kRead: {
      Queue* const queue = queue_;
      if (ok) {
        queue->source->handler_(this);
      } else {
        // The client half-closed without a request: grpcio's answer.
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            absl::StrCat("\"b'", method(),
                                         "'\" requires exactly one request message.")));
      }
      // The call is not deleted before this thread takes its two last
      // events from the queue, so the queue is still open here.
      if (!queue->requested) RequestNext(queue);
      return;
    }
    case kFinished:
      Release();
      return;
    case kDone:
      if (on_cancel_ && context_.IsCancelled()) on_cancel_();
      Release();
      return;
    case kAlarm:
      return;
  }
}

void GrpcUnaryCall::Release() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

}  // namespace serving
}  // namespace tensorflow

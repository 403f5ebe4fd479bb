// One unary call on the server's async generic gRPC service, from the moment
// gRPC hands it over to the answer: every method the server answers goes
// through it, but grpc++'s own health service (when enabled). Handlers get
// the request bytes and answer once, from any thread; the call deletes
// itself when gRPC is done with it.
//
// Why the completion-queue API and not grpc++'s callback API: with a
// completion queue polled by a thread of our own, the thread that reads a
// request also runs its handler and writes its answer, with no hand-off to
// gRPC's callback threads, and the server decides how many such threads
// there are (--grpc_max_threads bounds them, as upstream's flag does).

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_UNARY_CALL_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_UNARY_CALL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

#include <grpcpp/alarm.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

namespace tensorflow {
namespace serving {

class GrpcUnaryCall;

// Where calls come from and what answers them; it outlives every call.
class GrpcCallSource {
 public:
  // What the server does with a call whose request has arrived: it runs on
  // the completion queue's thread and must answer (Finish) eventually.
  using Handler = std::function<void(GrpcUnaryCall*)>;

  explicit GrpcCallSource(Handler handler) : handler_(std::move(handler)) {}

  grpc::AsyncGenericService* service() { return &service_; }
  // Takes calls from `cq` and drives them until the queue is shut down and
  // drained; one thread per queue.
  void Serve(grpc::ServerCompletionQueue* cq);
  // Waits until no call is left (every call asked for has been answered and
  // deleted, or refused because the server shut down), and asks for none
  // after that. Until then the completion queues must be polled, and must
  // not be shut down: a call answered late (by a batch thread, say) still
  // posts its answer to one.
  void WaitForNoCalls();

 private:
  friend class GrpcUnaryCall;

  grpc::AsyncGenericService service_;
  const Handler handler_;
  std::mutex mu_;
  std::condition_variable no_calls_;
  int calls_ = 0;
  bool stopped_ = false;
};

class GrpcUnaryCall {
 public:
  // "/package.Service/Method".
  const std::string& method() const { return context_.method(); }
  std::chrono::system_clock::time_point deadline() const { return context_.deadline(); }
  // The request message as it came.
  grpc::ByteBuffer* request() { return &request_; }
  // The answer's message, sent when Finish is given OK.
  grpc::ByteBuffer* response() { return &response_; }
  // Memory that lives until gRPC is done with the call.
  void* ArenaAllocate(size_t size);

  // Answers the call: with response() when `status` is OK. Exactly once,
  // from any thread; the call may be gone when it returns.
  void Finish(const grpc::Status& status);

  // `on_cancel` runs (on the queue's thread) if the call ends before it is
  // answered: the client cancelled, its deadline passed, or the server is
  // stopping. Set at most once, from the handler.
  void OnCancel(std::function<void()> on_cancel) { on_cancel_ = std::move(on_cancel); }

 private:
  friend class GrpcCallSource;

  enum Event { kRequested, kRead, kFinished, kDone, kAlarm };
  struct Tag {
    GrpcUnaryCall* call;  // null for the queue's alarm
    Event event;
  };

  // A completion queue and what its thread knows of it; only that thread
  // touches it.
  //
  // A queue asks gRPC for one call at a time, and asks for the next only
  // once the handler of the one before has returned, so that a handler that
  // runs for long (a model run without batching) holds back no call but its
  // own: gRPC gives new calls to the other queues. A call whose request is
  // slow to arrive must not hold its queue either: if the queue's thread is
  // free an alarm's delay after a call came, and no call is asked for, it
  // asks for the next.
  struct Queue {
    GrpcCallSource* source;
    grpc::ServerCompletionQueue* cq;
    bool requested = false;
    grpc::Alarm alarm;
    bool alarm_set = false;
    Tag alarm_tag{nullptr, kAlarm};
  };

  explicit GrpcUnaryCall(Queue* queue);
  ~GrpcUnaryCall();
  // Asks gRPC for the next call on `queue` (none once the source stopped).
  static void RequestNext(Queue* queue);
  // Drives the call (or the queue's alarm) a completion-queue event is for.
  static void Proceed(Queue* queue, void* tag, bool ok);
  void OnEvent(Event event, bool ok);
  // Counts one of the two events the call waits for before it is deleted:
  // its answer sent (or failed) and gRPC's notice that the call is over.
  void Release();

  Queue* const queue_;
  grpc::GenericServerContext context_;
  grpc::GenericServerAsyncReaderWriter stream_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::function<void()> on_cancel_;
  std::atomic<int> pending_{2};
  Tag requested_{this, kRequested};
  Tag read_{this, kRead};
  Tag finished_tag_{this, kFinished};
  Tag done_{this, kDone};
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_UNARY_CALL_H_

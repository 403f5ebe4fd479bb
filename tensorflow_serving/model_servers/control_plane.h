// What the native data plane asks of the Python control plane: ModelService's
// two RPCs (GetModelStatus, HandleReloadConfigRequest), a model's status for
// GET /v1/models/<name>, and the Prometheus page, whose registry is Python's.
//
// gRPC and HTTP threads never wait for Python's GIL: they queue a Call and
// return, and Python's own threads take calls from the queue (Next() waits
// without the GIL) and answer them through `done`, from whichever thread
// finishes the work. A reload may take minutes; a status request must not
// wait behind it, so Python answers calls concurrently.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_CONTROL_PLANE_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_CONTROL_PLANE_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "tensorflow_serving/model_servers/grpc_unary_call.h"

namespace tensorflow {
namespace serving {

class ControlPlane {
 public:
  using Clock = std::chrono::steady_clock;

  struct Call {
    // "GetModelStatus", "HandleReloadConfigRequest" (serialized requests of
    // tensorflow.serving.ModelService) or "PrometheusPage" (no request).
    std::string method;
    std::string request;
    Clock::time_point deadline = Clock::time_point::max();
    // Whether the caller has gone away (never null).
    std::function<bool()> cancelled;
    // Runs exactly once: the serialized response or the page, or an error.
    std::function<void(absl::Status, std::string)> done;
  };

  // Queues `call`; once Close() has run it is answered UNAVAILABLE at once.
  void Submit(Call call);
  // Waits for the next call; false once the plane is closed.
  bool Next(Call* call);
  // Answers queued calls UNAVAILABLE and ends every Next().
  void Close();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> queue_;
  bool closed_ = false;
};

// tensorflow.serving.ModelService on the native gRPC server, answered by the
// control plane: the request bytes go to Python as they came, the response
// bytes come back as Python wrote them.
class ModelServiceBridge {
 public:
  explicit ModelServiceBridge(ControlPlane* control_plane) : control_plane_(control_plane) {}

  // Answers a call of `method` ("GetModelStatus" or
  // "HandleReloadConfigRequest").
  void Handle(const std::string& method, GrpcUnaryCall* call) const;

 private:
  ControlPlane* const control_plane_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_CONTROL_PLANE_H_

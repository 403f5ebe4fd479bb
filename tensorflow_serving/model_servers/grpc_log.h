// gRPC core's own log (gpr_log) in the native data plane.
//
// When a listening port cannot be bound, gRPC core logs the whole error tree
// it built on the way (a line of ~1,500 characters) before ServerBuilder
// returns, and the server then says the same thing in one clear line. While
// a GrpcLogCapture is alive on a thread, what gRPC core logs on that thread is
// kept instead of written, so the caller decides: drop it when its own error
// says it all, or Replay() it when it carries something the caller cannot
// tell. Every other line, on every other thread, is written as gRPC writes
// it.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_LOG_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_LOG_H_

#include <string>
#include <vector>

#include <grpc/support/log.h>

namespace tensorflow {
namespace serving {

class GrpcLogCapture {
 public:
  struct Line {
    std::string file;
    int line = 0;
    gpr_log_severity severity = GPR_LOG_SEVERITY_ERROR;
    std::string message;
  };

  // Starts keeping what gRPC core logs on this thread (nested captures keep
  // their lines apart: the innermost one gets them).
  GrpcLogCapture();
  ~GrpcLogCapture();
  GrpcLogCapture(const GrpcLogCapture&) = delete;
  GrpcLogCapture& operator=(const GrpcLogCapture&) = delete;

  const std::vector<Line>& lines() const { return lines_; }
  // Whether any kept message contains `text`.
  bool Contains(const std::string& text) const;
  // Writes the kept lines as gRPC would have, and forgets them.
  void Replay();

 private:
  friend void KeepOrWriteGrpcLog(gpr_log_func_args* args);
  GrpcLogCapture* outer_;
  std::vector<Line> lines_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_GRPC_LOG_H_

#include "tensorflow_serving/model_servers/grpc_log.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

namespace tensorflow {
namespace serving {

namespace {

thread_local GrpcLogCapture* current_capture = nullptr;

// One line on stderr in gRPC's own format (its default log function is not
// part of its public API): severity letter, local time with nanoseconds,
// thread id, file:line], message.
void WriteAsGrpcDoes(const char* file, int line, gpr_log_severity severity,
                     const char* message) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm local;
  char when[32] = "?";
  if (localtime_r(&now.tv_sec, &local) != nullptr) {
    strftime(when, sizeof(when), "%m%d %H:%M:%S", &local);
  }
  const char* slash = file != nullptr ? std::strrchr(file, '/') : nullptr;
  const char* base = slash != nullptr ? slash + 1 : (file != nullptr ? file : "?");
  char prefix[256];
  std::snprintf(prefix, sizeof(prefix), "%s%s.%09ld %7ld %s:%d]",
                gpr_log_severity_string(severity), when, static_cast<long>(now.tv_nsec),
                static_cast<long>(syscall(SYS_gettid)), base, line);
  std::fprintf(stderr, "%-70s %s\n", prefix, message != nullptr ? message : "");
}

}  // namespace

// The function gRPC core calls for every line that passes its verbosity
// (GRPC_VERBOSITY, by default errors only).
void KeepOrWriteGrpcLog(gpr_log_func_args* args) {
  GrpcLogCapture* capture = current_capture;
  if (capture == nullptr) {
    WriteAsGrpcDoes(args->file, args->line, args->severity, args->message);
    return;
  }
  capture->lines_.push_back({args->file != nullptr ? args->file : "", args->line,
                             args->severity, args->message != nullptr ? args->message : ""});
}

GrpcLogCapture::GrpcLogCapture() : outer_(current_capture) {
  // Installed once per process, on first use; until then gRPC's own writes.
  static std::once_flag installed;
  std::call_once(installed, [] { gpr_set_log_function(KeepOrWriteGrpcLog); });
  current_capture = this;
}

GrpcLogCapture::~GrpcLogCapture() { current_capture = outer_; }

bool GrpcLogCapture::Contains(const std::string& text) const {
  for (const Line& line : lines_) {
    if (line.message.find(text) != std::string::npos) return true;
  }
  return false;
}

void GrpcLogCapture::Replay() {
  for (const Line& line : lines_) {
    WriteAsGrpcDoes(line.file.c_str(), line.line, line.severity, line.message.c_str());
  }
  lines_.clear();
}

}  // namespace serving
}  // namespace tensorflow

#include "tensorflow_serving/model_servers/grpc_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

// What the process writes to stderr (fd 2) while it lives.
class StderrCapture {
 public:
  StderrCapture() {
    char name[] = "/tmp/grpc_log_test_XXXXXX";
    const int fd = mkstemp(name);
    CHECK_TRUE(fd >= 0);
    path_ = name;
    std::fflush(stderr);
    saved_ = dup(2);
    CHECK_TRUE(dup2(fd, 2) == 2);
    close(fd);
  }
  // Restores stderr; returns what was written.
  std::string Finish() {
    std::fflush(stderr);
    CHECK_TRUE(dup2(saved_, 2) == 2);
    close(saved_);
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(path_.c_str());
    return text.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void TestWrittenWithoutCapture() {
  { GrpcLogCapture installs_the_function; }
  StderrCapture err;
  gpr_log(GPR_ERROR, "written %d", 1);
  const std::string text = err.Finish();
  CHECK_TRUE(Has(text, "written 1"));
  CHECK_TRUE(Has(text, "grpc_log_test.cc"));
}

void TestKeptThenReplayed() {
  StderrCapture err;
  std::string after_replay;
  {
    GrpcLogCapture capture;
    gpr_log(GPR_ERROR, "kept %d", 2);
    CHECK_TRUE(capture.lines().size() == 1);
    CHECK_TRUE(capture.lines()[0].message == "kept 2");
    CHECK_TRUE(capture.lines()[0].severity == GPR_LOG_SEVERITY_ERROR);
    CHECK_TRUE(capture.Contains("ept"));
    CHECK_TRUE(!capture.Contains("written"));
    std::fflush(stderr);
    capture.Replay();
    CHECK_TRUE(capture.lines().empty());
  }
  const std::string text = err.Finish();
  CHECK_TRUE(Has(text, "kept 2"));
  CHECK_TRUE(Has(text, "grpc_log_test.cc"));
}

void TestDroppedUnlessReplayed() {
  StderrCapture err;
  {
    GrpcLogCapture capture;
    gpr_log(GPR_ERROR, "dropped");
  }
  gpr_log(GPR_ERROR, "after the capture");
  const std::string text = err.Finish();
  CHECK_TRUE(!Has(text, "dropped"));
  CHECK_TRUE(Has(text, "after the capture"));
}

void TestNestedAndOtherThreads() {
  StderrCapture err;
  {
    GrpcLogCapture outer;
    {
      GrpcLogCapture inner;
      gpr_log(GPR_ERROR, "inner");
      CHECK_TRUE(inner.lines().size() == 1);
    }
    gpr_log(GPR_ERROR, "outer");
    std::thread([] { gpr_log(GPR_ERROR, "another thread"); }).join();
    CHECK_TRUE(outer.lines().size() == 1);
    CHECK_TRUE(outer.lines()[0].message == "outer");
  }
  const std::string text = err.Finish();
  CHECK_TRUE(!Has(text, "inner"));
  CHECK_TRUE(!Has(text, "outer"));
  CHECK_TRUE(Has(text, "another thread"));
}

// The case the capture is for: gRPC core's error when a port is taken.
void TestPortInUseIsKept() {
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_TRUE(taken >= 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_TRUE(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  CHECK_TRUE(listen(taken, 1) == 0);
  socklen_t length = sizeof(address);
  CHECK_TRUE(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string target = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  StderrCapture err;
  bool port_in_use = false;
  {
    GrpcLogCapture capture;
    grpc::CallbackGenericService service;  // a server needs one to start
    grpc::ServerBuilder builder;
    int bound = -1;
    builder.RegisterCallbackGenericService(&service);
    builder.AddListeningPort(target, grpc::InsecureServerCredentials(), &bound);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    CHECK_TRUE(server == nullptr || bound == 0);
    port_in_use = capture.Contains("Address already in use");
    if (server != nullptr) server->Shutdown();
  }
  const std::string text = err.Finish();
  close(taken);
  CHECK_TRUE(port_in_use);
  CHECK_TRUE(!Has(text, "Address already in use"));
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  // As in the server, where grpc++ initialises gRPC core before anything is
  // logged: until then gRPC core writes nothing (its verbosity is unset).
  grpc_init();
  TestWrittenWithoutCapture();
  TestKeptThenReplayed();
  TestDroppedUnlessReplayed();
  TestNestedAndOtherThreads();
  TestPortInUseIsKept();
  grpc_shutdown();
  std::printf("grpc_log_test: all passed\n");
  return 0;
}

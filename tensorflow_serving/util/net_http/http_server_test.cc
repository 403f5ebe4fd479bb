// What the socket tests (http_server_test.py) cannot see from outside: the
// options, the limits' defaults, listening without IPv6, and replies that
// outlive the server.

#include "tensorflow_serving/util/net_http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "tensorflow_serving/test_util/check.h"

// Linked with --wrap=socket: every socket() of this binary, the server's
// included, comes here, so a test can play a host without IPv6.
std::atomic<bool> no_ipv6{false};
extern "C" int __real_socket(int domain, int type, int protocol);
extern "C" int __wrap_socket(int domain, int type, int protocol) {
  if (domain == AF_INET6 && no_ipv6.load()) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  return __real_socket(domain, type, protocol);
}

namespace tensorflow {
namespace serving {
namespace net_http {
namespace {

// Whether 127.0.0.1:`port` (or [::1]:`port`) accepts a connection.
bool Connects(int port, bool ipv6) {
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int rc;
  if (ipv6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  close(fd);
  return rc == 0;
}

// Whether this host can use IPv6 loopback at all.
bool HostHasIpv6() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Sends `raw` to 127.0.0.1:`port` and reads until the server closes.
std::string Exchange(int port, const std::string& raw) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_TRUE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_TRUE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  CHECK_TRUE(send(fd, raw.data(), raw.size(), 0) == static_cast<ssize_t>(raw.size()));
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) data.append(buf, n);
  close(fd);
  return data;
}

HttpServerOptions Local() {
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.num_threads = 2;
  return options;
}

void TestRefusesBadOptions() {
  auto handler = [](HttpRequest, ReplyFn reply) { reply(HttpResponse()); };
  std::unique_ptr<HttpServer> server;
  HttpServerOptions options = Local();
  options.num_threads = 0;
  CHECK_TRUE(HttpServer::Start(options, handler, &server).code() ==
             absl::StatusCode::kInvalidArgument);
  options = Local();
  options.read_timeout_ms = 0;
  CHECK_TRUE(!HttpServer::Start(options, handler, &server).ok());
  CHECK_TRUE(!HttpServer::Start(Local(), nullptr, &server).ok());
  options = Local();
  options.host = "no such host.invalid";
  CHECK_TRUE(!HttpServer::Start(options, handler, &server).ok());
  CHECK_TRUE(server == nullptr);
}

void TestPortInUse() {
  auto handler = [](HttpRequest, ReplyFn reply) { reply(HttpResponse()); };
  std::unique_ptr<HttpServer> first;
  CHECK_TRUE(HttpServer::Start(Local(), handler, &first).ok());
  CHECK_TRUE(first->port() > 0);
  HttpServerOptions options = Local();
  options.port = first->port();
  std::unique_ptr<HttpServer> second;
  absl::Status status = HttpServer::Start(options, handler, &second);
  CHECK_TRUE(status.code() == absl::StatusCode::kUnavailable);
  CHECK_TRUE(std::string(status.message()).find("Address already in use") != std::string::npos);
}

void TestListensOnBothFamiliesOrIpv4() {
  auto handler = [](HttpRequest, ReplyFn reply) { reply(HttpResponse()); };
  HttpServerOptions options;
  options.host = "";  // "::", else 0.0.0.0
  std::unique_ptr<HttpServer> dual;
  CHECK_TRUE(HttpServer::Start(options, handler, &dual).ok());
  CHECK_TRUE(Connects(dual->port(), false));
  bool ipv6 = HostHasIpv6();
  if (ipv6) CHECK_TRUE(Connects(dual->port(), true));
  dual.reset();

  no_ipv6.store(true);
  std::unique_ptr<HttpServer> ipv4;
  absl::Status status = HttpServer::Start(options, handler, &ipv4);
  no_ipv6.store(false);
  CHECK_TRUE(status.ok());
  CHECK_TRUE(Connects(ipv4->port(), false));
  // Bound on 0.0.0.0 only.
  if (ipv6) CHECK_TRUE(!Connects(ipv4->port(), true));
}

void TestServesAndStops() {
  std::unique_ptr<HttpServer> server;
  auto handler = [](HttpRequest request, ReplyFn reply) {
    HttpResponse response;
    response.headers = {{"Content-Type", "text/plain"}};
    response.body = request.method + " " + request.uri_path + " " + request.body;
    reply(std::move(response));
  };
  CHECK_TRUE(HttpServer::Start(Local(), handler, &server).ok());
  std::string data = Exchange(server->port(),
                              "POST /p?q HTTP/1.1\r\nContent-Length: 2\r\n"
                              "Connection: close\r\n\r\nhi");
  CHECK_TRUE(data.rfind("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", 0) == 0);
  CHECK_TRUE(data.size() > 12 && data.substr(data.size() - 12) == "POST /p?q hi");
  CHECK_TRUE(server->Stop(1.0));
  CHECK_TRUE(server->Stop(1.0));  // idempotent
  HttpServerStats stats = server->stats();
  CHECK_TRUE(stats.connections == 0 && stats.in_flight == 0 && stats.free_slots == 2);
}

void TestRepliesMayOutliveTheServer() {
  std::mutex mu;
  std::condition_variable cv;
  ReplyFn kept;
  auto handler = [&](HttpRequest, ReplyFn reply) {
    std::lock_guard<std::mutex> lock(mu);
    kept = std::move(reply);
    cv.notify_all();
  };
  std::unique_ptr<HttpServer> server;
  CHECK_TRUE(HttpServer::Start(Local(), handler, &server).ok());
  int port = server->port();
  std::thread client([port] {
    // The server goes away with the request in flight: no answer.
    CHECK_TRUE(Exchange(port, "GET /late HTTP/1.1\r\n\r\n").empty());
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    CHECK_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return kept != nullptr; }));
  }
  CHECK_TRUE(!server->Stop(0.05));
  server.reset();
  client.join();
  kept(HttpResponse());  // after the server is gone: dropped
  kept = nullptr;        // and so is the 500 a dropped reply would get
}

void TestDefaultMaxBodyBytes() {
  int64_t bytes = DefaultMaxBodyBytes();
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGE_SIZE);
  CHECK_TRUE(bytes > 0);
  CHECK_TRUE(bytes <= static_cast<int64_t>(pages) * page_size / 2);
}

void TestConnectionLimit() {
  rlimit saved;
  CHECK_TRUE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit lowered = saved;
  lowered.rlim_cur = 1000;
  CHECK_TRUE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  CHECK_TRUE(ConnectionLimit(4096) == 1000 - 256);
  CHECK_TRUE(ConnectionLimit(10) == 10);
  lowered.rlim_cur = 100;
  CHECK_TRUE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  CHECK_TRUE(ConnectionLimit(4096) == 1);
  CHECK_TRUE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
}

}  // namespace
}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving::net_http;  // NOLINT
  TestRefusesBadOptions();
  TestPortInUse();
  TestListensOnBothFamiliesOrIpv4();
  TestServesAndStops();
  TestRepliesMayOutliveTheServer();
  TestDefaultMaxBodyBytes();
  TestConnectionLimit();
  std::puts("http_server_test: all passed");
  return 0;
}

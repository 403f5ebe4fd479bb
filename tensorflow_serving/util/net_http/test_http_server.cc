// A server on the HTTP transport for its tests (http_server_test.py), with
// routes that echo, wait, reply later, fail or answer large bodies.
//
// Flags: --port --host --num_threads --max_connections --max_body_bytes
// --read_timeout_ms. Prints "PORT <n>" once serving, then obeys one command
// a line on stdin, answering each with one line:
//   stats         {"connections": .., "in_flight": .., "free_slots": ..,
//                  "slot_waiters": .., "handled": .., "pending": ..}
//   open          lets every request to /wait... finish
//   release       replies to every /async... request, newest first, each
//                 from a thread of its own
//   stop <grace>  starts Stop(grace) on a thread of its own: {}
//   stopped       waits for it to return: {"drained": true|false}
// End of input stops the server and exits.
//
// Routes (by path prefix): /wait waits for "open"; /async replies on
// "release"; /throw throws; /drop returns without replying; /echo answers
// the body; /headers answers "name: value" lines; /big?n=N answers N bytes;
// anything else answers "<method> <uri_path> <body length>" as text/plain.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensorflow_serving/util/net_http/http_server.h"

namespace {

using tensorflow::serving::net_http::HttpRequest;
using tensorflow::serving::net_http::HttpResponse;
using tensorflow::serving::net_http::HttpServer;
using tensorflow::serving::net_http::HttpServerOptions;
using tensorflow::serving::net_http::ReplyFn;

// How long a /wait request waits for "open" at most, so that a test that
// forgets to open cannot hang its server.
constexpr auto kMaxWait = std::chrono::seconds(120);

std::mutex mu;
std::condition_variable gate_cv;
bool gate_open = false;
std::vector<std::pair<std::string, ReplyFn>> pending;
std::atomic<int64_t> handled{0};

bool StartsWith(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

HttpResponse Text(std::string body) {
  HttpResponse response;
  response.headers = {{"Content-Type", "text/plain"}};
  response.body = std::move(body);
  return response;
}

void Handle(HttpRequest request, ReplyFn reply) {
  handled.fetch_add(1);
  const std::string& path = request.uri_path;
  if (StartsWith(path, "/wait")) {
    std::unique_lock<std::mutex> lock(mu);
    gate_cv.wait_for(lock, kMaxWait, [] { return gate_open; });
  } else if (StartsWith(path, "/async")) {
    std::lock_guard<std::mutex> lock(mu);
    pending.emplace_back(path, std::move(reply));
    return;
  } else if (StartsWith(path, "/throw")) {
    throw std::runtime_error("/secret/path");
  } else if (StartsWith(path, "/drop")) {
    return;
  } else if (StartsWith(path, "/echo")) {
    HttpResponse response;
    response.headers = {{"Content-Type", "application/octet-stream"}};
    response.body = std::move(request.body);
    reply(std::move(response));
    return;
  } else if (StartsWith(path, "/headers")) {
    std::string lines;
    for (const auto& [name, value] : request.headers) {
      absl::StrAppend(&lines, name, ": ", value, "\n");
    }
    reply(Text(std::move(lines)));
    return;
  } else if (StartsWith(path, "/big?n=")) {
    reply(Text(std::string(std::strtoull(path.c_str() + 7, nullptr, 10), 'x')));
    return;
  }
  reply(Text(absl::StrCat(request.method, " ", request.uri_path, " ", request.body.size())));
}

void Reply(const std::string& line) {
  std::cout << line << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.num_threads = 2;
  options.read_timeout_ms = 30000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "--port") {
      options.port = std::atoi(value.c_str());
    } else if (name == "--host") {
      options.host = value;
    } else if (name == "--num_threads") {
      options.num_threads = std::atoi(value.c_str());
    } else if (name == "--max_connections") {
      options.max_connections = std::atoi(value.c_str());
    } else if (name == "--max_body_bytes") {
      options.max_body_bytes = std::atoll(value.c_str());
    } else if (name == "--read_timeout_ms") {
      options.read_timeout_ms = std::atoll(value.c_str());
    } else {
      std::cerr << "unknown flag " << arg << std::endl;
      return 2;
    }
  }
  std::unique_ptr<HttpServer> server;
  absl::Status status = HttpServer::Start(options, Handle, &server);
  if (!status.ok()) {
    std::cerr << status.ToString() << std::endl;
    return 1;
  }
  Reply(absl::StrCat("PORT ", server->port()));
  std::thread stopper;
  bool drained = false;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "stats") {
      auto stats = server->stats();
      size_t waiting;
      {
        std::lock_guard<std::mutex> lock(mu);
        waiting = pending.size();
      }
      Reply(absl::StrCat("{\"connections\": ", stats.connections, ", \"in_flight\": ",
                         stats.in_flight, ", \"free_slots\": ", stats.free_slots,
                         ", \"slot_waiters\": ", stats.slot_waiters, ", \"handled\": ",
                         handled.load(), ", \"pending\": ", waiting, "}"));
    } else if (line == "open") {
      {
        std::lock_guard<std::mutex> lock(mu);
        gate_open = true;
      }
      gate_cv.notify_all();
      Reply("{}");
    } else if (line == "release") {
      std::vector<std::pair<std::string, ReplyFn>> replies;
      {
        std::lock_guard<std::mutex> lock(mu);
        replies.swap(pending);
      }
      std::vector<std::thread> threads;
      for (auto it = replies.rbegin(); it != replies.rend(); ++it) {
        threads.emplace_back(
            [path = it->first, reply = std::move(it->second)] { reply(Text(path)); });
      }
      for (std::thread& thread : threads) thread.join();
      Reply("{}");
    } else if (StartsWith(line, "stop ") && !stopper.joinable()) {
      double grace = std::atof(line.c_str() + 5);
      stopper = std::thread([&server, &drained, grace] { drained = server->Stop(grace); });
      Reply("{}");
    } else if (line == "stopped" && stopper.joinable()) {
      stopper.join();
      Reply(absl::StrCat("{\"drained\": ", drained ? "true" : "false", "}"));
    } else {
      Reply("{\"error\": \"unknown command\"}");
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    gate_open = true;
    pending.clear();
  }
  gate_cv.notify_all();
  if (stopper.joinable()) stopper.join();
  server.reset();
  return 0;
}

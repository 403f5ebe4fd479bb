// The REST API's HTTP/1.1 server: libevent's event loop on one thread does
// all socket I/O, and a fixed pool of `num_threads` workers runs the
// handlers (upstream: an evhttp server with --rest_api_num_threads executor
// threads, util/net_http/server/internal/evhttp_server.cc). The loop never
// runs a handler, so a slow model run never stalls other connections, and a
// slow or idle client costs a socket, never a thread. Replies are written by
// the loop, or, for a request alone in flight, by the thread that replies.
//
// evhttp itself (libevent 2.1) is not used because it cannot keep the
// transport's limits (see docs/api_rest.md, "The HTTP transport"): its timeouts
// are per read, so a head or body that trickles in is kept forever; it hands
// requests over only once their body is in memory and re-enables reading on
// its own, so large bodies cannot wait for a slot; it has no connection cap
// (evhttp_set_max_connections is 2.2's) and no hook on incoming requests
// before their body is read (2.2's evhttp_set_newreqcb), so conflicting
// Content-Length headers and unsupported Transfer-Encodings are read with
// the first header's framing; it waits for a line end before judging bytes
// that cannot start a request, answers oversized heads 400, sends HEAD
// replies without Content-Length, and has no drain. Its wire format (error
// pages, reason phrases, header order) is kept by wire.h.
//
// Limits (the same as the Python transport it replaces):
//  - at most `max_connections` open; at the cap, the connection that has
//    waited longest for its next request (idle, or still sending a head; at
//    least a second, and none whose request has arrived unread) is closed to
//    admit the new one;
//  - a request head must be complete within `read_timeout_ms` of its first
//    byte, an idle keep-alive connection is closed after it, and a body must
//    arrive within it from its start plus a second per 64 KiB received
//    (replies likewise); a late head or body is answered 408;
//  - a body over `max_body_bytes` (Content-Length, chunked, or inflated from
//    gzip) is answered 413 before it is read (or inflated);
//  - bodies over 64 KiB are read only while their request holds one of
//    `num_threads` slots (until its reply is ready), so at most that many
//    large bodies are in memory at once.
//
// Stop(grace) refuses new connections and requests, lets those in flight
// finish (their replies say Connection: close) and then closes the rest.

#ifndef TENSORFLOW_SERVING_UTIL_NET_HTTP_HTTP_SERVER_H_
#define TENSORFLOW_SERVING_UTIL_NET_HTTP_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "tensorflow_serving/util/net_http/wire.h"

namespace tensorflow {
namespace serving {
namespace net_http {

// A complete request, as a handler sees it.
struct HttpRequest {
  std::string method;
  // Path and query as sent (upstream's uri_path()); an absolute URI's scheme
  // and authority are dropped.
  std::string uri_path;
  HeaderList headers;  // in arrival order, names as sent
  // The body, inflated when its Content-Encoding names gzip (as upstream).
  std::string body;
  std::string peer;  // "address:port" of the client

  // The first header called `name` (any case), as upstream finds it.
  const std::string* FindHeader(std::string_view name) const {
    return net_http::FindHeader(headers, name);
  }
};

// A reply: Date, Content-Length and Connection are added on the wire, and
// evhttp's Content-Type when `headers` has none.
struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
  bool close = false;  // close the connection after it
};

// evhttp's error page for `status`, with `message` as its paragraph; the
// connection closes after it.
HttpResponse ErrorResponse(int status, std::string_view message = "");

// Sends the reply to one request. Callable from any thread, at most once
// (later calls are ignored); a request whose reply function is destroyed
// uncalled is answered 500.
using ReplyFn = std::function<void(HttpResponse)>;
// Runs on one of the worker threads; may reply before returning or later.
using RequestHandler = std::function<void(HttpRequest request, ReplyFn reply)>;

struct HttpServerOptions {
  std::string host;  // "": "::" (IPv6 and IPv4), or 0.0.0.0 without IPv6
  int port = 0;      // 0: any free port
  int num_threads = 4;
  // Lowered to what the open-file limit allows (see ConnectionLimit).
  int max_connections = 4096;
  int64_t max_body_bytes = 0;  // <= 0: DefaultMaxBodyBytes()
  int64_t read_timeout_ms = 50000;
};

struct HttpServerStats {
  int64_t connections = 0;
  // Requests from a complete head until their reply is sent.
  int64_t in_flight = 0;
  int64_t free_slots = 0;
  int64_t slot_waiters = 0;
};

class HttpServer {
 public:
  // Binds and starts serving, or says why it cannot.
  static absl::Status Start(const HttpServerOptions& options, RequestHandler handler,
                            std::unique_ptr<HttpServer>* server);
  // Stop(0) unless stopped; then waits for handlers still running to return.
  ~HttpServer();

  int port() const { return port_; }
  // Refuses new connections and requests at once, waits up to
  // `grace_seconds` for those in flight, then closes every connection.
  // Returns whether everything in flight finished. Idempotent.
  bool Stop(double grace_seconds);
  HttpServerStats stats() const;

  struct Core;  // the event loop and its connections (http_server.cc)

 private:
  HttpServer() = default;
  int port_ = 0;
  std::shared_ptr<Core> core_;
};

// Half the memory this process may use: the lowest of its cgroup's limit
// (v2 or v1) and the RAM; INT64_MAX when neither is known. Upstream sets no
// body limit, but it holds a body at least twice while serving it (the
// bytes and the parsed JSON), so it cannot serve a larger one either.
int64_t DefaultMaxBodyBytes();

// `requested`, lowered (with a warning on stderr) so that the connections
// leave descriptors under the open-file limit for everything else.
int ConnectionLimit(int requested);

}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_NET_HTTP_HTTP_SERVER_H_

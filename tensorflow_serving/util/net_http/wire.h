// HTTP/1.1 on the wire: request heads, chunked bodies, response heads and
// error pages, the C++ counterpart of wire.py with the same answers.
//
// What upstream's net_http server gets from libevent's evhttp: the request
// line and headers, how long the body is, and the status line and headers of
// a reply, including evhttp's own answers (its HTML error page, 501 for
// methods it does not let through). Unlike evhttp it refuses a request whose
// body could be read two ways (Content-Length headers that disagree, a
// Transfer-Encoding that does not end in chunked) instead of picking one,
// rejects bytes that can never start a request as soon as they arrive, and
// bounds what it buffers.
//
// Parsing works on bytes received so far and may be called again as more
// arrive; it never blocks and never reads a socket.

#ifndef TENSORFLOW_SERVING_UTIL_NET_HTTP_WIRE_H_
#define TENSORFLOW_SERVING_UTIL_NET_HTTP_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tensorflow {
namespace serving {
namespace net_http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

inline constexpr size_t kMaxHeadBytes = 64 * 1024;
// evhttp's Content-Type for a reply whose handler set none.
inline constexpr std::string_view kDefaultContentType = "text/html; charset=ISO-8859-1";
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// evhttp's reason phrase: its table's where it has the code, else the name
// of the code's class (so 429 is "Client Error", as upstream sends it).
std::string_view ReasonPhrase(int status);

// A request that cannot be served: answered with `status`, then closed.
struct ProtocolError {
  int status = 0;
  std::string message;
};

ProtocolError BodyTooLarge(int64_t limit);

// The first header called `name` (any case), as evhttp finds it; null if none.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);

// A parsed request line and header block, with the body's framing.
struct RequestHead {
  std::string method;
  std::string target;
  int major = 1;
  // The minor version as sent, without leading zeros: replies echo it.
  std::string minor = "1";
  HeaderList headers;  // in arrival order, names as sent
  int64_t content_length = -1;  // -1: none (saturates at INT64_MAX)
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;

  bool AtLeast11() const { return major == 1 && minor != "0"; }
  // Path and query (upstream's uri_path()); an absolute URI loses its scheme
  // and authority, as evhttp's URI parser drops them.
  std::string UriPath() const;
};

// Skips the empty lines a client may send between requests.
size_t SkipBlankLines(std::string_view buf, size_t pos);

enum class ParseResult { kComplete, kIncomplete, kError };

// Parses a request head at the start of `buf`. kComplete sets `head` and
// `*end` (just past the blank line); kIncomplete sets `*scan_from`, where to
// resume looking for the end of the head when more bytes come (so a head
// that trickles in is scanned once; start with 0); kError sets `error`.
ParseResult ParseHead(std::string_view buf, size_t* scan_from, RequestHead* head, size_t* end,
                      ProtocolError* error);

// Decodes a chunked body incrementally, up to `limit` bytes of data.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(int64_t limit) : limit_(limit) {}

  // Consumes what it can of `data` (the bytes not consumed by earlier calls)
  // into `body`; sets `*consumed`. False (with `error`) for a bad body.
  bool Feed(std::string_view data, size_t* consumed, std::string* body, ProtocolError* error);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  int64_t limit_;
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  size_t trailer_bytes_ = 0;
};

// Status line and headers, in evhttp's order: the handler's headers (with
// evhttp's Content-Type when they have none), then Date, Content-Length and
// Connection. `major`/`minor` are the request's version (1.0 for older).
std::string ResponseHead(int major, std::string_view minor, int status, const HeaderList& headers,
                         size_t content_length, bool close);

// evhttp's error page (text/html) with `message` as a paragraph: sets the
// reply's headers and body.
void ErrorPage(int status, std::string_view message, HeaderList* headers, std::string* body);

// RFC 7231 date of now, formatted at most once a second per thread.
std::string_view HttpDate();

}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_NET_HTTP_WIRE_H_

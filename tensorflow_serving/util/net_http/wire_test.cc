#include "tensorflow_serving/util/net_http/wire.h"

#include <string>
#include <string_view>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace net_http {
namespace {

struct Parsed {
  ParseResult result;
  RequestHead head;
  size_t end = 0;
  size_t scan = 0;
  ProtocolError error;
};

Parsed Parse(std::string_view raw, size_t scan = 0) {
  Parsed parsed;
  parsed.scan = scan;
  parsed.result = ParseHead(raw, &parsed.scan, &parsed.head, &parsed.end, &parsed.error);
  return parsed;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

void TestRequestLineAndHeaders() {
  std::string raw =
      "POST /v1/models/m:predict?x=1 HTTP/1.1\r\nHost: h\r\n"
      "Content-Type:  application/json \r\nContent-Length: 2\r\n\r\n{}";
  Parsed p = Parse(raw);
  CHECK_TRUE(p.result == ParseResult::kComplete);
  CHECK_TRUE(p.end == raw.size() - 2);
  CHECK_TRUE(p.head.method == "POST");
  CHECK_TRUE(p.head.UriPath() == "/v1/models/m:predict?x=1");
  CHECK_TRUE(p.head.major == 1 && p.head.minor == "1");
  CHECK_TRUE(*FindHeader(p.head.headers, "content-type") == "application/json");
  CHECK_TRUE(FindHeader(p.head.headers, "X-None") == nullptr);
  CHECK_TRUE(p.head.content_length == 2);
  CHECK_TRUE(p.head.keep_alive);
  CHECK_TRUE(!p.head.chunked);
}

void TestBareLineFeeds() {
  Parsed p = Parse("GET /a HTTP/1.1\nHost: h\n\nrest");
  CHECK_TRUE(p.result == ParseResult::kComplete);
  CHECK_TRUE(p.head.UriPath() == "/a");
  CHECK_TRUE(p.end == std::string("GET /a HTTP/1.1\nHost: h\n\n").size());
}

void TestIncompleteHeadNeedsMore() {
  std::string buf = "GET /a HTTP/1.1\r\nHost: h\r\n";
  Parsed p = Parse(buf);
  CHECK_TRUE(p.result == ParseResult::kIncomplete);
  buf += "\r\n";
  Parsed q = Parse(buf, p.scan);
  CHECK_TRUE(q.result == ParseResult::kComplete);
  CHECK_TRUE(q.end == buf.size());
}

void TestAbsoluteFormTarget() {
  CHECK_TRUE(Parse("GET http://host:8501/v1/models/m?q HTTP/1.1\r\n\r\n").head.UriPath() ==
             "/v1/models/m?q");
  CHECK_TRUE(Parse("GET http://host HTTP/1.1\r\n\r\n").head.UriPath() == "/");
  CHECK_TRUE(Parse("GET HTTPS://host?a HTTP/1.1\r\n\r\n").head.UriPath() == "/?a");
}

void TestFoldedHeaderJoinsPrevious() {
  Parsed p = Parse("GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n");
  CHECK_TRUE(*FindHeader(p.head.headers, "X-A") == "one two");
}

void TestKeepAliveRules() {
  CHECK_TRUE(!Parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").head.keep_alive);
  CHECK_TRUE(!Parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  CHECK_TRUE(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
  CHECK_TRUE(!Parse("GET / HTTP/1.1\r\nConnection: x, Close\r\n\r\n").head.keep_alive);
}

void TestIdenticalContentLengthsAreOne() {
  Parsed p = Parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3, 003\r\n\r\n");
  CHECK_TRUE(p.result == ParseResult::kComplete);
  CHECK_TRUE(p.head.content_length == 3);
  Parsed huge = Parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  CHECK_TRUE(huge.head.content_length == INT64_MAX);
}

void TestChunkedWinsOverContentLengthAndCloses() {
  Parsed p = Parse(
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: Chunked\r\n\r\n");
  CHECK_TRUE(p.head.chunked);
  CHECK_TRUE(p.head.content_length == -1);
  CHECK_TRUE(!p.head.keep_alive);
  Parsed identity = Parse("POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n");
  CHECK_TRUE(identity.head.chunked && identity.head.keep_alive);
}

void TestExpectContinue() {
  CHECK_TRUE(Parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n").head.expect_continue);
  // HTTP/1.0 has no Expect.
  CHECK_TRUE(!Parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").head.expect_continue);
}

void TestRejected() {
  struct Case {
    std::string raw;
    int status;
    std::string message;
  };
  const Case cases[] = {
      {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 26\r\n\r\n", 400,
       "Conflicting Content-Length headers"},
      {"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400,
       "Conflicting Content-Length headers"},
      {"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "Invalid Content-Length: '-5'"},
      {"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400, "Invalid Content-Length: ''"},
      {"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, "Invalid Content-Length: '0x10'"},
      {"POST / HTTP/1.1\r\nContent-Length: 1'\"\\\x01\xe9\xa0\r\n\r\n", 400,
       "Invalid Content-Length: '1\\'\"\\\\\\x01\xc3\xa9\\xa0'"},
      {"POST / HTTP/1.1\r\nContent-Length: a'\r\n\r\n", 400, "Invalid Content-Length: \"a'\""},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
       "Transfer-Encoding must end with chunked"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: GZIP, chunked\r\n\r\n", 501,
       "Unsupported Transfer-Encoding: gzip, chunked"},
      {"GET /\r\n", 400, "Malformed request line: no HTTP version"},
      {"GET\r\n", 400, "Malformed request line"},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "Unsupported HTTP version 2.0"},
      {"GET / HTTX/1.1\r\n\r\n", 400, "Malformed request line: bad HTTP version"},
      {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "Malformed header line"},
      {"GET / HTTP/1.1\r\nHost\r\n\r\n", 400, "Malformed header line"},
      {"GET / HTTP/1.1\r\n folded\r\n\r\n", 400, "Malformed header line"},
      {std::string("GET /a\0b HTTP/1.1\r\n\r\n", 21), 400, "Malformed request target"},
      {"BREW /pot HTTP/1.1\r\n\r\n", 501, "Method BREW not implemented"},
      {"TRACE / HTTP/1.1\r\n\r\n", 501, "Method TRACE not implemented"},
      {"CONNECT h:443 HTTP/1.1\r\n\r\n", 501, "Method CONNECT not implemented"},
      {"POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417, "Unsupported Expect: 200-ok"},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.raw);
    if (p.result != ParseResult::kError || p.error.status != c.status ||
        p.error.message != c.message) {
      std::fprintf(stderr, "case %s: got %d %s\n", c.raw.c_str(), p.error.status,
                   p.error.message.c_str());
    }
    CHECK_TRUE(p.result == ParseResult::kError);
    CHECK_TRUE(p.error.status == c.status);
    CHECK_TRUE(p.error.message == c.message);
  }
}

void TestGarbageRejectedBeforeALineEnds() {
  const std::string garbage[] = {std::string("\x16\x03\x01\x00\xc4\x01\x00\x00\xc0\x03\x03", 11),
                                 std::string("\x00\xff\xfe", 3), "{\"instances\": "};
  for (const std::string& raw : garbage) {
    Parsed p = Parse(raw);
    CHECK_TRUE(p.result == ParseResult::kError);
    CHECK_TRUE(p.error.status == 400);
  }
  for (const char* raw : {"G", "POST /v1/mod", "\r"}) {
    Parsed p = Parse(raw);
    CHECK_TRUE(p.result == ParseResult::kIncomplete);
    CHECK_TRUE(p.scan == 0);
  }
}

void TestOversizedHeads() {
  Parsed line = Parse("GET /" + std::string(kMaxHeadBytes, 'a'));
  CHECK_TRUE(line.result == ParseResult::kError && line.error.status == 414);
  std::string raw = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < kMaxHeadBytes / 8; ++i) raw += "X-A: b\r\n";
  Parsed headers = Parse(raw);
  CHECK_TRUE(headers.result == ParseResult::kError && headers.error.status == 431);
  Parsed complete = Parse(raw + "\r\n");
  CHECK_TRUE(complete.result == ParseResult::kError && complete.error.status == 431);
}

void TestBlankLinesBetweenRequestsAreSkipped() {
  std::string buf = "\r\n\nGET / HTTP/1.1\r\n\r\n";
  size_t pos = SkipBlankLines(buf, 0);
  CHECK_TRUE(pos == 3);
  CHECK_TRUE(Parse(std::string_view(buf).substr(pos)).head.method == "GET");
}

// Feeds `raw` `step` bytes at a time, as a connection would.
bool DecodeInSteps(std::string_view raw, size_t step, std::string* body, std::string* rest) {
  ChunkedDecoder decoder(INT64_MAX);
  std::string buf;
  ProtocolError error;
  for (size_t i = 0; i < raw.size() && !decoder.done(); i += step) {
    buf.append(raw.substr(i, step));
    size_t consumed = 0;
    CHECK_TRUE(decoder.Feed(buf, &consumed, body, &error));
    buf.erase(0, consumed);
  }
  *rest = buf;
  return decoder.done();
}

void TestChunkedDecodesInAnySplit() {
  std::string raw = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, raw.size()}) {
    std::string body, rest;
    CHECK_TRUE(DecodeInSteps(raw, step, &body, &rest));
    CHECK_TRUE(body == "hello world");
    CHECK_TRUE(std::string_view("NEXT").substr(0, rest.size()) == rest);
  }
  std::string body, rest;
  CHECK_TRUE(DecodeInSteps("3\nabc\n0\n\n", 100, &body, &rest));
  CHECK_TRUE(body == "abc" && rest.empty());
}

void TestChunkedLimitAppliesToTheSumOfChunks() {
  ChunkedDecoder decoder(8);
  std::string body;
  size_t consumed;
  ProtocolError error;
  CHECK_TRUE(decoder.Feed("5\r\nhello\r\n", &consumed, &body, &error));
  CHECK_TRUE(!decoder.Feed("4\r\n", &consumed, &body, &error));
  CHECK_TRUE(error.status == 413);
  CHECK_TRUE(error.message == "Request body is larger than the server's limit of 8 bytes");
  ChunkedDecoder exact(8);
  body.clear();
  CHECK_TRUE(exact.Feed("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", &consumed, &body, &error));
  CHECK_TRUE(exact.done() && body == "helloabc");
}

void TestChunkedMalformed() {
  const std::string cases[] = {"zz\r\n", "-1\r\n", "5\r\nhelloXX", std::string(17, '1') + "\r\n",
                               "5" + std::string(5000, ' ')};
  for (const std::string& raw : cases) {
    ChunkedDecoder decoder(INT64_MAX);
    std::string body;
    size_t consumed;
    ProtocolError error;
    CHECK_TRUE(!decoder.Feed(raw, &consumed, &body, &error));
    CHECK_TRUE(error.status == 400);
  }
  ChunkedDecoder trailer(INT64_MAX);
  std::string body;
  size_t consumed;
  ProtocolError error;
  std::string raw = "0\r\n";
  for (int i = 0; i < 10000; ++i) raw += "T: 12\r\n";
  CHECK_TRUE(!trailer.Feed(raw, &consumed, &body, &error));
  CHECK_TRUE(error.status == 431);
}

void TestResponseHeadOrderAndFraming() {
  std::string head =
      ResponseHead(1, "1", 200, {{"Content-Type", "application/json"}, {"X", "y"}}, 12, false);
  CHECK_TRUE(head.rfind("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX: y\r\nDate: ", 0) ==
             0);
  CHECK_TRUE(Contains(head, " GMT\r\nContent-Length: 12\r\n\r\n"));
  CHECK_TRUE(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
  CHECK_TRUE(!Contains(head, "Connection"));
}

void TestDefaultContentTypeAndConnection() {
  std::string head = ResponseHead(1, "0", 400, {}, 0, false);
  CHECK_TRUE(head.rfind("HTTP/1.0 400 Bad Request\r\n", 0) == 0);
  CHECK_TRUE(Contains(head, "Content-Type: text/html; charset=ISO-8859-1\r\n"));
  CHECK_TRUE(Contains(head, "Connection: keep-alive\r\n"));
  CHECK_TRUE(Contains(ResponseHead(1, "1", 404, {}, 0, true), "Connection: close\r\n"));
  // No body, no Content-Type or Content-Length.
  std::string empty = ResponseHead(1, "1", 204, {}, 0, false);
  CHECK_TRUE(!Contains(empty, "Content-Type") && !Contains(empty, "Content-Length"));
  // HTTP/0.9's and odd minor versions, as wire.py echoes them.
  CHECK_TRUE(ResponseHead(0, "9", 200, {}, 0, true).rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK_TRUE(ResponseHead(1, "10", 200, {}, 0, true).rfind("HTTP/1.10 200 OK\r\n", 0) == 0);
}

void TestReasonsFollowEvhttp() {
  CHECK_TRUE(ReasonPhrase(504) == "Gateway Time-out");
  CHECK_TRUE(ReasonPhrase(429) == "Client Error");
  CHECK_TRUE(ReasonPhrase(499) == "Client Error");
  CHECK_TRUE(ReasonPhrase(600) == "Unknown Status Class");
}

void TestErrorPage() {
  HeaderList headers;
  std::string body;
  ErrorPage(404, "", &headers, &body);
  CHECK_TRUE(headers.size() == 1 && headers[0].first == "Content-Type" &&
             headers[0].second == "text/html");
  CHECK_TRUE(body ==
             "<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n"
             "</BODY></HTML>\n");
  ErrorPage(400, "a <b> & \"c\"", &headers, &body);
  CHECK_TRUE(Contains(body, "<P>a &lt;b&gt; &amp; \"c\"</P>\n</BODY>"));
}

void TestHttpDate() {
  std::string_view date = HttpDate();
  CHECK_TRUE(date.size() == 29);
  CHECK_TRUE(date.substr(25) == " GMT");
  CHECK_TRUE(date[3] == ',');
}

}  // namespace
}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving::net_http;  // NOLINT
  TestRequestLineAndHeaders();
  TestBareLineFeeds();
  TestIncompleteHeadNeedsMore();
  TestAbsoluteFormTarget();
  TestFoldedHeaderJoinsPrevious();
  TestKeepAliveRules();
  TestIdenticalContentLengthsAreOne();
  TestChunkedWinsOverContentLengthAndCloses();
  TestExpectContinue();
  TestRejected();
  TestGarbageRejectedBeforeALineEnds();
  TestOversizedHeads();
  TestBlankLinesBetweenRequestsAreSkipped();
  TestChunkedDecodesInAnySplit();
  TestChunkedLimitAppliesToTheSumOfChunks();
  TestChunkedMalformed();
  TestResponseHeadOrderAndFraming();
  TestDefaultContentTypeAndConnection();
  TestReasonsFollowEvhttp();
  TestErrorPage();
  TestHttpDate();
  std::puts("wire_test: all passed");
  return 0;
}

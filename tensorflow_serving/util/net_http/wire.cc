#include "tensorflow_serving/util/net_http/wire.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>


namespace tensorflow {
namespace serving {
namespace net_http {
namespace {

// Concatenates text (Debian's abseil takes no std::string_view).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  out.reserve(size);
  for (std::string_view part : parts) out.append(part);
  return out;
}

// A chunk-size line with its extensions.
constexpr size_t kMaxChunkLine = 4096;

// The methods upstream lets through to its handlers (it turns PATCH and
// OPTIONS on beside evhttp's defaults); anything else is answered 501.
constexpr std::string_view kAllowedMethods[] = {"GET",    "POST",    "HEAD", "PUT",
                                                "DELETE", "OPTIONS", "PATCH"};

bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return IsTchar(static_cast<unsigned char>(c)); });
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view Strip(std::string_view s, std::string_view chars) {
  size_t begin = s.find_first_not_of(chars);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(chars);
  return s.substr(begin, end - begin + 1);
}

std::string_view RStrip(std::string_view s, std::string_view chars) {
  size_t end = s.find_last_not_of(chars);
  return end == std::string_view::npos ? std::string_view() : s.substr(0, end + 1);
}

// Leading zeros dropped ("0" for all zeros): equal numbers, equal strings.
std::string_view NormalizeDigits(std::string_view digits) {
  size_t first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? std::string_view("0") : digits.substr(first);
}

int64_t SaturatingParse(std::string_view digits) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value = 0;
  for (char c : digits) {
    int digit = c - '0';
    if (value > (kMax - digit) / 10) return kMax;
    value = value * 10 + digit;
  }
  return value;
}

// Header values are Latin-1 (as wire.py decodes them); messages are UTF-8.
void AppendLatin1AsUtf8(unsigned char c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  for (char c : s) AppendLatin1AsUtf8(static_cast<unsigned char>(c), &out);
  return out;
}

// Python's str.lower() over Latin-1 text.
std::string Latin1Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 0xC0 && u <= 0xDE && u != 0xD7)) {
      c = static_cast<char>(u + 32);
    }
  }
  return out;
}

// Python's repr() of Latin-1 text, as wire.py quotes a bad Content-Length.
std::string PyRepr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == static_cast<unsigned char>(quote)) {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0xA0) || c == 0xAD) {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      AppendLatin1AsUtf8(c, &out);
    }
  }
  out.push_back(quote);
  return out;
}

ProtocolError Error(int status, std::string message) {
  return ProtocolError{status, std::move(message)};
}

// Raises (returns false) when `rest` (no line end yet) cannot begin a
// request line, so garbage (a TLS handshake, binary noise) is answered at
// once instead of when the read deadline passes.
bool CheckPartialRequestLine(std::string_view rest, ProtocolError* error) {
  if (rest == "\r") return true;
  std::string_view method = rest.substr(0, rest.find(' '));
  for (char c : method) {
    if (!IsTchar(static_cast<unsigned char>(c))) {
      *error = Error(400, "Malformed request line");
      return false;
    }
  }
  if (rest.size() > kMaxHeadBytes) {
    *error = Error(414, "Request line too long");
    return false;
  }
  return true;
}

bool ParseRequestLine(std::string_view line, RequestHead* head, ProtocolError* error) {
  line = RStrip(RStrip(line, "\r"), " ");
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) {
    *error = Error(400, "Malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, sp);
  std::string_view rest = line.substr(sp + 1);
  size_t sp2 = rest.rfind(' ');
  std::string_view target = sp2 == std::string_view::npos ? rest : rest.substr(0, sp2);
  if (sp2 == std::string_view::npos || Strip(target, " ").empty()) {
    // "GET /" with no version: an HTTP/0.9 request.
    *error = Error(400, "Malformed request line: no HTTP version");
    return false;
  }
  std::string_view version = rest.substr(sp2 + 1);
  if (!IsToken(method)) {
    *error = Error(400, "Malformed request line");
    return false;
  }
  size_t dot = version.find('.', 5);
  if (version.substr(0, 5) != "HTTP/" || dot == std::string_view::npos ||
      !IsDigits(version.substr(5, dot - 5)) || !IsDigits(version.substr(dot + 1))) {
    *error = Error(400, "Malformed request line: bad HTTP version");
    return false;
  }
  std::string_view major = NormalizeDigits(version.substr(5, dot - 5));
  std::string_view minor = NormalizeDigits(version.substr(dot + 1));
  if (major.size() > 1 || major[0] > '1') {
    *error = Error(400, Cat({"Unsupported HTTP version ", major, ".", minor}));
    return false;
  }
  target = Strip(target, " ");
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      *error = Error(400, "Malformed request target");
      return false;
    }
  }
  head->method = std::string(method);
  head->target = std::string(target);
  head->major = major[0] - '0';
  head->minor = std::string(minor);
  return true;
}

bool ParseHeaderLines(std::string_view block, HeaderList* headers, ProtocolError* error) {
  while (!block.empty()) {
    size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    line = RStrip(line, "\r");
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      // An obsolete folded continuation: evhttp joins it to the previous
      // value with one space, and so do we.
      if (headers->empty()) {
        *error = Error(400, "Malformed header line");
        return false;
      }
      std::string& value = headers->back().second;
      value.push_back(' ');
      value.append(Strip(line, " \t"));
      continue;
    }
    size_t colon = line.find(':');
    // A name must be a token: whitespace before the colon, which proxies
    // read differently (RFC 9112 section 5.1), is refused.
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      *error = Error(400, "Malformed header line");
      return false;
    }
    headers->emplace_back(std::string(line.substr(0, colon)),
                          std::string(Strip(line.substr(colon + 1), " \t")));
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// The comma-separated items of every `name` header, stripped and lowercased.
std::vector<std::string> Tokens(const HeaderList& headers, std::string_view name) {
  std::vector<std::string> tokens;
  for (const auto& [key, value] : headers) {
    if (!EqualsIgnoreCase(key, name)) continue;
    std::string_view rest = value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = Strip(rest.substr(0, comma), " \t");
      if (!item.empty()) tokens.push_back(Latin1Lower(item));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  return tokens;
}

// Sets `*length` (-1: no header); false for values that are no length or
// disagree.
bool ContentLength(const HeaderList& headers, int64_t* length, ProtocolError* error) {
  std::string_view seen;
  bool any = false;
  for (const auto& [key, value] : headers) {
    if (!EqualsIgnoreCase(key, "Content-Length")) continue;
    std::string_view rest = value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = Strip(rest.substr(0, comma), " \t");
      if (!IsDigits(item)) {
        *error = Error(400, Cat({"Invalid Content-Length: ",
                                   PyRepr(std::string_view(value).substr(0, 40))}));
        return false;
      }
      if (any && NormalizeDigits(item) != seen) {
        *error = Error(400, "Conflicting Content-Length headers");
        return false;
      }
      any = true;
      seen = NormalizeDigits(item);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  *length = any ? SaturatingParse(seen) : -1;
  return true;
}

bool Contains(const std::vector<std::string>& tokens, std::string_view token) {
  return std::find(tokens.begin(), tokens.end(), token) != tokens.end();
}

// Sets the body framing and connection persistence from the headers.
bool Frame(RequestHead* head, ProtocolError* error) {
  std::vector<std::string> codings = Tokens(head->headers, "Transfer-Encoding");
  codings.erase(std::remove(codings.begin(), codings.end(), "identity"), codings.end());
  int64_t length;
  if (!ContentLength(head->headers, &length, error)) return false;
  std::vector<std::string> connection = Tokens(head->headers, "Connection");
  head->keep_alive =
      head->AtLeast11() ? !Contains(connection, "close") : Contains(connection, "keep-alive");
  if (!codings.empty()) {
    if (codings.back() != "chunked") {
      *error = Error(400, "Transfer-Encoding must end with chunked");
      return false;
    }
    if (codings.size() != 1) {
      std::string list;
      for (const std::string& coding : codings) {
        if (!list.empty()) list += ", ";
        list += Latin1ToUtf8(coding);
      }
      *error = Error(501, Cat({"Unsupported Transfer-Encoding: ", list}));
      return false;
    }
    head->chunked = true;
    // Both framings: the chunked one wins (RFC 9112 section 6.3), and the
    // connection is not reused, so nothing can be smuggled.
    if (length >= 0) head->keep_alive = false;
  } else {
    head->content_length = length;
  }
  const std::string* expect = FindHeader(head->headers, "Expect");
  if (expect != nullptr && head->AtLeast11()) {
    if (Latin1Lower(Strip(*expect, " \t\r\n\v\f")) != "100-continue") {
      *error = Error(417, Cat({"Unsupported Expect: ",
                                 Latin1ToUtf8(std::string_view(*expect).substr(0, 40))}));
      return false;
    }
    head->expect_continue = true;
  }
  return true;
}

// Where "\n\r?\n" starts in buf at or after `from`, or npos.
size_t FindHeadEnd(std::string_view buf, size_t from, size_t* match_end) {
  for (size_t i = buf.find('\n', from); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') {
      *match_end = i + 2;
      return i;
    }
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
      *match_end = i + 3;
      return i;
    }
  }
  return std::string_view::npos;
}

const char* const kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Time-out";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested range not satisfiable";
    case 417: return "Expectation Failed";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Time-out";
    case 505: return "HTTP Version not supported";
    default: break;
  }
  // Python's floor division, as wire.py classifies codes.
  int klass = status >= 0 ? status / 100 : -((-status + 99) / 100);
  switch (klass) {
    case 1: return "Informational";
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Client Error";
    case 5: return "Server Error";
    default: return "Unknown Status Class";
  }
}

ProtocolError BodyTooLarge(int64_t limit) {
  return Error(413, Cat({"Request body is larger than the server's limit of ",
                         std::to_string(limit), " bytes"}));
}

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

std::string RequestHead::UriPath() const {
  std::string_view t = target;
  bool http = t.size() >= 7 && EqualsIgnoreCase(t.substr(0, 7), "http://");
  bool https = t.size() >= 8 && EqualsIgnoreCase(t.substr(0, 8), "https://");
  if (!http && !https) return target;
  std::string_view rest = t.substr(t.find("//") + 2);
  size_t cut = rest.find_first_of("/?");
  std::string path(cut == std::string_view::npos ? std::string_view() : rest.substr(cut));
  if (path.empty() || path[0] != '/') path.insert(0, "/");
  return path;
}

size_t SkipBlankLines(std::string_view buf, size_t pos) {
  while (true) {
    if (buf.substr(pos, 2) == "\r\n") {
      pos += 2;
    } else if (buf.substr(pos, 1) == "\n") {
      pos += 1;
    } else {
      return pos;
    }
  }
}

ParseResult ParseHead(std::string_view buf, size_t* scan_from, RequestHead* head, size_t* end,
                      ProtocolError* error) {
  size_t line_end = buf.find('\n');
  if (line_end == std::string_view::npos) {
    *scan_from = 0;
    return CheckPartialRequestLine(buf, error) ? ParseResult::kIncomplete : ParseResult::kError;
  }
  RequestHead parsed;
  if (!ParseRequestLine(buf.substr(0, line_end), &parsed, error)) return ParseResult::kError;
  size_t match_end = 0;
  size_t match = FindHeadEnd(buf, std::max(*scan_from, line_end), &match_end);
  if (match == std::string_view::npos) {
    if (buf.size() > kMaxHeadBytes) {
      *error = Error(431, "Request header fields too large");
      return ParseResult::kError;
    }
    *scan_from = std::max(line_end, buf.size() >= 3 ? buf.size() - 3 : 0);
    return ParseResult::kIncomplete;
  }
  if (match_end > kMaxHeadBytes) {
    *error = Error(431, "Request header fields too large");
    return ParseResult::kError;
  }
  if (!ParseHeaderLines(buf.substr(line_end + 1, match - line_end), &parsed.headers, error)) {
    return ParseResult::kError;
  }
  if (std::find(std::begin(kAllowedMethods), std::end(kAllowedMethods), parsed.method) ==
      std::end(kAllowedMethods)) {
    *error = Error(
        501, Cat({"Method ", std::string_view(parsed.method).substr(0, 20), " not implemented"}));
    return ParseResult::kError;
  }
  if (!Frame(&parsed, error)) return ParseResult::kError;
  *head = std::move(parsed);
  *end = match_end;
  return ParseResult::kComplete;
}

bool ChunkedDecoder::Feed(std::string_view data, size_t* consumed, std::string* body,
                          ProtocolError* error) {
  size_t pos = 0;
  *consumed = 0;
  while (state_ != State::kDone) {
    if (state_ == State::kData) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - pos));
      if (take == 0) break;
      body->append(data.substr(pos, take));
      pos += take;
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::kDataEnd;
      continue;
    }
    if (state_ == State::kDataEnd) {
      std::string_view rest = data.substr(pos);
      if (rest.substr(0, 2) == "\r\n") {
        pos += 2;
      } else if (rest.substr(0, 1) == "\n") {
        pos += 1;
      } else if (rest.empty() || rest == "\r") {
        break;
      } else {
        *error = Error(400, "Malformed chunked body");
        return false;
      }
      state_ = State::kSize;
      continue;
    }
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (data.size() - pos > kMaxChunkLine) {
        *error = Error(400, "Malformed chunked body");
        return false;
      }
      break;
    }
    std::string_view line = RStrip(data.substr(pos, nl - pos), "\r");
    pos = nl + 1;
    if (state_ == State::kTrailer) {
      trailer_bytes_ += line.size() + 2;
      if (trailer_bytes_ > kMaxHeadBytes) {
        *error = Error(431, "Chunked trailer too large");
        return false;
      }
      if (line.empty()) state_ = State::kDone;
      continue;
    }
    std::string_view size_text = Strip(line.substr(0, line.find(';')), " \t");
    bool hex = !size_text.empty() && size_text.size() <= 16 &&
               std::all_of(size_text.begin(), size_text.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
               });
    if (!hex) {
      *error = Error(400, "Malformed chunk size");
      return false;
    }
    uint64_t size = std::stoull(std::string(size_text), nullptr, 16);
    if (size == 0) {
      state_ = State::kTrailer;
      continue;
    }
    if (size > static_cast<uint64_t>(limit_) - body->size()) {
      *error = BodyTooLarge(limit_);
      return false;
    }
    remaining_ = size;
    state_ = State::kData;
  }
  *consumed = pos;
  return true;
}

std::string_view HttpDate() {
  thread_local time_t cached_second = -1;
  thread_local char cached[32];
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm tm;
    gmtime_r(&now, &tm);
    std::snprintf(cached, sizeof(cached), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                  kWeekdays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = now;
  }
  return cached;
}

std::string ResponseHead(int major, std::string_view minor, int status, const HeaderList& headers,
                         size_t content_length, bool close) {
  if (major < 1) {
    major = 1;
    minor = "0";
  }
  bool at_least_11 = minor != "0";
  bool has_body = status >= 200 && status != 204 && status != 304;
  std::string head;
  head.reserve(160 + headers.size() * 48);
  head.append("HTTP/").append(std::to_string(major)).append(".").append(minor);
  head.append(" ").append(std::to_string(status)).append(" ").append(ReasonPhrase(status));
  head.append("\r\n");
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    has_type = has_type || EqualsIgnoreCase(name, "content-type");
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_type && has_body) {
    head.append("Content-Type: ").append(kDefaultContentType).append("\r\n");
  }
  head.append("Date: ").append(HttpDate()).append("\r\n");
  if (has_body) {
    head.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  }
  if (close) {
    head += "Connection: close\r\n";
  } else if (!at_least_11) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

void ErrorPage(int status, std::string_view message, HeaderList* headers, std::string* body) {
  std::string_view phrase = ReasonPhrase(status);
  std::string detail;
  if (!message.empty()) {
    detail = "<P>";
    for (char c : message) {
      switch (c) {
        case '&': detail += "&amp;"; break;
        case '<': detail += "&lt;"; break;
        case '>': detail += "&gt;"; break;
        default: detail.push_back(c);
      }
    }
    detail += "</P>\n";
  }
  *headers = {{"Content-Type", "text/html"}};
  *body = Cat({"<HTML><HEAD>\n<TITLE>", std::to_string(status), " ", phrase,
               "</TITLE>\n</HEAD><BODY>\n<H1>", phrase, "</H1>\n", detail, "</BODY></HTML>\n"});
}

}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

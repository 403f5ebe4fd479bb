#include "tensorflow_serving/util/net_http/compression/gzip_zlib.h"

#include <zlib.h>

#include <cstring>
#include <string>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace net_http {
namespace {

// What gzip(1) writes: one member with zlib's minimal header.
std::string Gzip(const std::string& data) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  CHECK_TRUE(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                          Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  CHECK_TRUE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// `gz` with the footer's size replaced by `declared`.
std::string WithDeclaredSize(std::string gz, uint32_t declared) {
  for (int i = 0; i < 4; ++i) gz[gz.size() - 4 + i] = static_cast<char>(declared >> (8 * i));
  return gz;
}

// `gz` with optional header fields (FEXTRA, FNAME, FCOMMENT, FHCRC) added.
std::string WithHeaderFields(const std::string& gz, unsigned char extra_flags) {
  std::string header = gz.substr(0, 10);
  header[3] = static_cast<char>(header[3] | extra_flags);
  std::string fields;
  if (extra_flags & 0x04) fields += std::string("\x03\x00" "abc", 5);
  if (extra_flags & 0x08) fields += std::string("name.json\0", 10);
  if (extra_flags & 0x10) fields += std::string("a comment\0", 10);
  if (extra_flags & 0x02) fields += "\x12\x34";
  return header + fields + gz.substr(10);
}

void TestInflates() {
  std::string payload;
  for (int i = 0; i < 10000; ++i) payload += "{\"instances\": [1.0]}";
  std::string out = "stale";
  CHECK_TRUE(GunzipBody(Gzip(payload), 1 << 30, &out) == GunzipResult::kOk);
  CHECK_TRUE(out == payload);
  CHECK_TRUE(GunzipBody(Gzip(""), 0, &out) == GunzipResult::kOk && out.empty());
  // At the limit, and one past it.
  CHECK_TRUE(GunzipBody(Gzip(payload), payload.size(), &out) == GunzipResult::kOk);
  CHECK_TRUE(GunzipBody(Gzip(payload), payload.size() - 1, &out) == GunzipResult::kTooLarge);
  CHECK_TRUE(out.empty());
}

void TestOptionalHeaderFields() {
  std::string gz = Gzip("payload");
  for (unsigned char flags : {0x02, 0x04, 0x08, 0x10, 0x1e}) {
    std::string out;
    CHECK_TRUE(GunzipBody(WithHeaderFields(gz, flags), 100, &out) == GunzipResult::kOk);
    CHECK_TRUE(out == "payload");
  }
  // Upstream masks the flag byte's reserved bits.
  std::string reserved = gz;
  reserved[3] = static_cast<char>(reserved[3] | 0xe0);
  std::string out;
  CHECK_TRUE(GunzipBody(reserved, 100, &out) == GunzipResult::kOk && out == "payload");
}

void TestInvalid() {
  std::string payload(5000, 'x');
  std::string gz = Gzip(payload);
  std::string crc = gz;
  crc[crc.size() - 8] = static_cast<char>(crc[crc.size() - 8] ^ 1);
  std::string method = gz;
  method[2] = 7;
  const std::string cases[] = {
      "",
      "abcd",
      "not gzip at all",
      gz.substr(0, 10),                  // the header alone
      gz + std::string("\x10\0\0\0", 4),  // trailing bytes
      gz + gz,                           // two members
      crc,
      method,
      WithDeclaredSize(gz, payload.size() - 1),  // inflates to more than declared
      WithDeclaredSize(gz, payload.size() + 1),  // to less
  };
  for (const std::string& body : cases) {
    std::string out = "stale";
    CHECK_TRUE(GunzipBody(body, 1 << 30, &out) == GunzipResult::kInvalid);
    CHECK_TRUE(out.empty());
  }
  // Cut short, the last four bytes declare whatever they hold: never a body.
  for (size_t cut : {size_t{1}, size_t{4}, size_t{9}, gz.size() / 2}) {
    std::string out = "stale";
    CHECK_TRUE(GunzipBody(gz.substr(0, gz.size() - cut), 1 << 30, &out) != GunzipResult::kOk);
    CHECK_TRUE(out.empty());
  }
}

void TestBombs() {
  std::string zeros(64 << 20, '\0');
  std::string bomb = Gzip(zeros);
  CHECK_TRUE(bomb.size() < (1 << 20));
  std::string out;
  // Declared over the limit: refused before anything is allocated.
  CHECK_TRUE(GunzipBody(bomb, 1 << 20, &out) == GunzipResult::kTooLarge);
  CHECK_TRUE(out.capacity() < (1 << 20));
  // A declared size that lies is all that is ever allocated.
  CHECK_TRUE(GunzipBody(WithDeclaredSize(bomb, 100), 1 << 20, &out) == GunzipResult::kInvalid);
  CHECK_TRUE(out.capacity() < (1 << 20));
  // Within the limit, a bomb inflates in full.
  CHECK_TRUE(GunzipBody(bomb, 64 << 20, &out) == GunzipResult::kOk);
  CHECK_TRUE(out == zeros);
  // Over the limit but not gzip: just not gzip.
  CHECK_TRUE(GunzipBody(WithDeclaredSize("no header here", 1 << 30), 1 << 20, &out) ==
             GunzipResult::kInvalid);
}

void TestDeclaredSizeIsNoAllocation() {
  // A 21-byte body whose footer declares 512 MiB, under a limit above that:
  // the output never grows past what the data inflates to (it used to be
  // sized, and so written, to the declared size first).
  std::string out;
  CHECK_TRUE(GunzipBody(WithDeclaredSize(Gzip("x"), 512u << 20), 1 << 30, &out) ==
             GunzipResult::kInvalid);
  CHECK_TRUE(out.empty());
  CHECK_TRUE(out.capacity() < (1 << 20));
  // Nor does a stream that inflates to far less than it declares.
  std::string zeros(8 << 20, '\0');
  CHECK_TRUE(GunzipBody(WithDeclaredSize(Gzip(zeros), 1u << 30), 2u << 30, &out) ==
             GunzipResult::kInvalid);
  CHECK_TRUE(out.capacity() < (32 << 20));
}

void TestHasGzipHeader() {
  std::string gz = Gzip("x");
  CHECK_TRUE(HasGzipHeader(gz));
  CHECK_TRUE(HasGzipHeader(WithHeaderFields(gz, 0x1e)));
  CHECK_TRUE(!HasGzipHeader(gz.substr(0, 9)));
  CHECK_TRUE(!HasGzipHeader(WithHeaderFields(gz, 0x08).substr(0, 14)));
  CHECK_TRUE(!HasGzipHeader("{\"instances\": []}"));
}

}  // namespace
}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving::net_http;  // NOLINT
  TestInflates();
  TestOptionalHeaderFields();
  TestInvalid();
  TestBombs();
  TestDeclaredSizeIsNoAllocation();
  TestHasGzipHeader();
  std::puts("gzip_zlib_test: all passed");
  return 0;
}

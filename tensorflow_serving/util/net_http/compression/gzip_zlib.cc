#include "tensorflow_serving/util/net_http/compression/gzip_zlib.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace tensorflow {
namespace serving {
namespace net_http {
namespace {

constexpr unsigned char kFlagHeaderCrc = 0x02;
constexpr unsigned char kFlagExtra = 0x04;
constexpr unsigned char kFlagName = 0x08;
constexpr unsigned char kFlagComment = 0x10;
constexpr size_t kFixedHeader = 10;
constexpr size_t kFooter = 8;
// zlib counts in uInt: input and output go in slices no larger than this.
constexpr size_t kMaxSlice = 1u << 30;
// The least output room a body starts with.
constexpr size_t kFirstOutput = 64 * 1024;

uint32_t LittleEndian32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// The length of the gzip header at the start of `data`, or 0 when there is
// no complete, valid one.
size_t GzipHeaderLength(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < kFixedHeader || p[0] != 0x1f || p[1] != 0x8b || p[2] != Z_DEFLATED) return 0;
  unsigned char flags = p[3];
  size_t pos = kFixedHeader;
  if (flags & kFlagExtra) {
    if (data.size() < pos + 2) return 0;
    pos += 2 + (static_cast<size_t>(p[pos]) | static_cast<size_t>(p[pos + 1]) << 8);
    if (pos > data.size()) return 0;
  }
  for (unsigned char flag : {kFlagName, kFlagComment}) {
    if (!(flags & flag)) continue;
    const void* nul = std::memchr(p + pos, '\0', data.size() - pos);
    if (nul == nullptr) return 0;
    pos = static_cast<const unsigned char*>(nul) - p + 1;
  }
  if (flags & kFlagHeaderCrc) {
    pos += 2;
    if (pos > data.size()) return 0;
  }
  return pos;
}

}  // namespace

bool HasGzipHeader(std::string_view data) { return GzipHeaderLength(data) != 0; }

GunzipResult GunzipBody(std::string_view compressed, int64_t max_bytes, std::string* out) {
  out->clear();
  if (compressed.size() <= 4) return GunzipResult::kInvalid;
  const auto* bytes = reinterpret_cast<const unsigned char*>(compressed.data());
  // The footer's size, trusted only as an upper bound: a body that inflates
  // to anything else fails, as upstream's fixed-size buffer makes it fail.
  uint32_t declared = LittleEndian32(bytes + compressed.size() - 4);
  size_t header = GzipHeaderLength(compressed);
  if (max_bytes >= 0 && static_cast<uint64_t>(declared) > static_cast<uint64_t>(max_bytes)) {
    return header != 0 ? GunzipResult::kTooLarge : GunzipResult::kInvalid;
  }
  if (header == 0) return GunzipResult::kInvalid;

  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return GunzipResult::kInvalid;
  // The output grows with what is inflated, up to the declared size: a few
  // bytes whose footer declares gigabytes cost what they inflate to, not
  // what they declare (a string's resize writes every byte it adds).
  out->resize(std::min<size_t>(declared, std::max(kFirstOutput, 4 * compressed.size())));
  size_t produced = 0;
  size_t pos = header;
  int err;
  while (true) {
    if (produced == out->size() && out->size() < declared) {
      out->resize(std::min<size_t>(declared, 2 * out->size()));
    }
    stream.next_out = reinterpret_cast<Bytef*>(out->data()) + produced;
    stream.avail_out = static_cast<uInt>(std::min(kMaxSlice, out->size() - produced));
    size_t slice = std::min(kMaxSlice, compressed.size() - pos);
    stream.next_in = const_cast<Bytef*>(bytes + pos);
    stream.avail_in = static_cast<uInt>(slice);
    const uInt room = stream.avail_out;
    bool last = pos + slice == compressed.size();
    err = inflate(&stream, last ? Z_FINISH : Z_NO_FLUSH);
    pos += slice - stream.avail_in;
    produced += room - stream.avail_out;
    // zlib reaches the stream's end without output room when only the end
    // marker is left; Z_BUF_ERROR says no room (or no input) was left.
    if (err != Z_OK && err != Z_BUF_ERROR) break;
    if (stream.avail_out == 0) {
      if (produced == declared) break;  // it inflates to more than it declares
    } else if (last) {
      break;  // cut short
    }
  }
  bool ok = err == Z_STREAM_END && produced == declared && compressed.size() - pos == kFooter &&
            crc32(0, reinterpret_cast<const Bytef*>(out->data()), declared) ==
                LittleEndian32(bytes + pos);
  inflateEnd(&stream);
  if (!ok) {
    out->clear();
    return GunzipResult::kInvalid;
  }
  return GunzipResult::kOk;
}

}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

// Gzip request bodies, decoded as upstream's net_http decodes them
// (compression/gzip_zlib.cc there): one gzip member whose header has the
// magic bytes and the deflate method (its flag byte's reserved bits are
// ignored), raw deflate data, then exactly the 8-byte footer, whose CRC-32
// and size must match what was inflated. Like upstream, the size the footer
// declares is the most that is allocated, so a body that inflates to more
// than it declares is refused rather than followed; within it, memory grows
// only with what is inflated (upstream's untouched allocation costs no more).
// Unlike upstream (whose cap is 100 MB, past which the handler gets an empty
// body), a declared size over the server's body limit is reported as such,
// so the request gets 413.

#ifndef TENSORFLOW_SERVING_UTIL_NET_HTTP_COMPRESSION_GZIP_ZLIB_H_
#define TENSORFLOW_SERVING_UTIL_NET_HTTP_COMPRESSION_GZIP_ZLIB_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace tensorflow {
namespace serving {
namespace net_http {

enum class GunzipResult {
  kOk,
  // A gzip header, and a declared size over the limit: nothing allocated.
  kTooLarge,
  // Not one well-formed gzip member (upstream hands its handler no body).
  kInvalid,
};

// Inflates `compressed` into `*out` (replacing it) when it declares at most
// `max_bytes`.
GunzipResult GunzipBody(std::string_view compressed, int64_t max_bytes, std::string* out);

// Whether `data` starts with a complete, valid gzip header.
bool HasGzipHeader(std::string_view data);

}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_NET_HTTP_COMPRESSION_GZIP_ZLIB_H_

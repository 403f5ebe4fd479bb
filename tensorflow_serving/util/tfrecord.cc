#include "tensorflow_serving/util/tfrecord.h"

#include <isa-l/crc.h>

#include <climits>
#include <cstring>

namespace tensorflow {
namespace serving {

namespace {

void EncodeFixed32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

void EncodeFixed64(char* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

}  // namespace

uint32_t Crc32c(const char* data, size_t size) {
  // ISA-L's iSCSI CRC is CRC32C without the final inversion; it picks the
  // CPU's CRC instructions at run time.
  uint32_t crc = 0xffffffffu;
  auto* bytes = reinterpret_cast<unsigned char*>(const_cast<char*>(data));
  while (size > 0) {
    const int chunk = size > INT_MAX ? INT_MAX : static_cast<int>(size);
    crc = crc32_iscsi(bytes, chunk, crc);
    bytes += chunk;
    size -= static_cast<size_t>(chunk);
  }
  return ~crc;
}

uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void FrameTfRecord(std::string* record) {
  char* bytes = record->data();
  const size_t length = record->size() - kTfRecordHeaderSize - kTfRecordFooterSize;
  EncodeFixed64(bytes, length);
  EncodeFixed32(bytes + 8, MaskCrc32c(Crc32c(bytes, 8)));
  EncodeFixed32(bytes + kTfRecordHeaderSize + length,
                MaskCrc32c(Crc32c(bytes + kTfRecordHeaderSize, length)));
}

}  // namespace serving
}  // namespace tensorflow

// TFRecord framing, as TensorFlow's io/record_writer writes it, so that a
// record built here reads back with tf.data.TFRecordDataset (which checks
// both CRCs) and serves as a model's warmup file:
//
//   uint64 length, little-endian
//   uint32 masked CRC32C of length
//   byte   data[length]
//   uint32 masked CRC32C of data

#ifndef TENSORFLOW_SERVING_UTIL_TFRECORD_H_
#define TENSORFLOW_SERVING_UTIL_TFRECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace tensorflow {
namespace serving {

constexpr size_t kTfRecordHeaderSize = 12;
constexpr size_t kTfRecordFooterSize = 4;

// CRC32C (Castagnoli) of `size` bytes, as TensorFlow's crc32c::Value.
uint32_t Crc32c(const char* data, size_t size);

// TensorFlow's crc32c::Mask: a CRC stored beside data it covers is masked, so
// that a CRC of bytes that hold CRCs stays well distributed.
uint32_t MaskCrc32c(uint32_t crc);

// Frames a record in place: `record` holds kTfRecordHeaderSize bytes of room,
// the data, then kTfRecordFooterSize bytes of room, and gets the length and
// both CRCs written into that room. Building the data in place saves copying
// it once more.
void FrameTfRecord(std::string* record);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_TFRECORD_H_

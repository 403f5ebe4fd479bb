// Tests the TFRecord framing against TensorFlow's own: CRC32C test vectors
// (RFC 3720) and the bytes tf.io.TFRecordWriter writes for one record.

#include "tensorflow_serving/util/tfrecord.h"

#include <string>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

void TestCrc32cVectors() {
  CHECK_TRUE(Crc32c("123456789", 9) == 0xe3069283u);
  const std::string zeros(32, '\0');
  CHECK_TRUE(Crc32c(zeros.data(), zeros.size()) == 0x8a9136aau);
  const std::string ones(32, '\xff');
  CHECK_TRUE(Crc32c(ones.data(), ones.size()) == 0x62a8ab43u);
  CHECK_TRUE(Crc32c("", 0) == 0);
}

void TestFrameIsTensorFlowsRecord() {
  // tf.io.TFRecordWriter(path).write(b"hello") writes exactly these bytes.
  std::string record(kTfRecordHeaderSize, '\0');
  record += "hello";
  record.append(kTfRecordFooterSize, '\0');
  FrameTfRecord(&record);
  CHECK_TRUE(Hex(record) == "0500000000000000eab2043e68656c6c6fbb1f1c19");
}

void TestEmptyAndLargeRecords() {
  std::string empty(kTfRecordHeaderSize + kTfRecordFooterSize, '\0');
  FrameTfRecord(&empty);
  CHECK_TRUE(Hex(empty.substr(0, 8)) == "0000000000000000");
  // The data CRC of a large record covers all of it.
  std::string large(kTfRecordHeaderSize, '\0');
  large.append(5 << 20, 'x');
  large.append(kTfRecordFooterSize, '\0');
  FrameTfRecord(&large);
  const std::string footer = large.substr(large.size() - kTfRecordFooterSize);
  large[kTfRecordHeaderSize + 12345] = 'y';
  FrameTfRecord(&large);
  CHECK_TRUE(large.substr(large.size() - kTfRecordFooterSize) != footer);
  CHECK_TRUE(Hex(large.substr(0, 8)) == "0000500000000000");
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  tensorflow::serving::TestCrc32cVectors();
  tensorflow::serving::TestFrameIsTensorFlowsRecord();
  tensorflow::serving::TestEmptyAndLargeRecords();
  return 0;
}

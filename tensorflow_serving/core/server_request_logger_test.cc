// Tests ServerRequestLogger: which requests are sampled, the PredictionLog
// TFRecord of a request, the bounded queue and the close that flushes it.

#include "tensorflow_serving/core/server_request_logger.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <google/protobuf/unknown_field_set.h>

#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/test_util/check.h"
#include "tensorflow_serving/util/tfrecord.h"

namespace tensorflow {
namespace serving {
namespace {

using LogType = ServerRequestLogger::LogType;
constexpr std::chrono::milliseconds kNoWait{0};

ModelSpec Spec(const std::string& name) {
  ModelSpec spec;
  spec.set_name(name);
  spec.mutable_version()->set_value(3);
  spec.set_signature_name("serving_default");
  return spec;
}

ServerRequestLogger::ModelConfig Config(const std::string& prefix, double rate) {
  ServerRequestLogger::ModelConfig config;
  config.filename_prefix = prefix;
  config.sampling_rate = rate;
  config.saved_model_tags = {"serve"};
  return config;
}

PredictRequest Request(float value) {
  PredictRequest request;
  *request.mutable_model_spec() = Spec("m");
  TensorProto& tensor = (*request.mutable_inputs())["x"];
  tensor.set_dtype(DT_FLOAT);
  tensor.add_float_val(value);
  return request;
}

size_t Queued(ServerRequestLogger* logger) {
  return logger->Next(kNoWait, 1000000)->size();
}

// The data of a TFRecord, whose framing must hold (util/tfrecord_test.cc
// checks the framing against TensorFlow's).
std::string Unframe(const std::string& tfrecord) {
  CHECK_TRUE(tfrecord.size() >= kTfRecordHeaderSize + kTfRecordFooterSize);
  const size_t length = tfrecord.size() - kTfRecordHeaderSize - kTfRecordFooterSize;
  std::string framed(kTfRecordHeaderSize, '\0');
  framed += tfrecord.substr(kTfRecordHeaderSize, length);
  framed.append(kTfRecordFooterSize, '\0');
  FrameTfRecord(&framed);
  CHECK_TRUE(framed == tfrecord);
  return tfrecord.substr(kTfRecordHeaderSize, length);
}

// The one length-delimited field `number` of `bytes`.
std::string Field(const std::string& bytes, int number) {
  google::protobuf::UnknownFieldSet fields;
  CHECK_TRUE(fields.ParseFromString(bytes));
  std::string found;
  int count = 0;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == number) {
      found = fields.field(i).length_delimited();
      ++count;
    }
  }
  CHECK_TRUE(count == 1);
  return found;
}

void TestOnlyConfiguredModelsAreLogged() {
  ServerRequestLogger logger;
  PredictResponse response;
  logger.MaybeLog(LogType::kPredict, Spec("m"), Request(1), response);
  CHECK_TRUE(Queued(&logger) == 0);
  logger.Update("m", Config("/tmp/m", 1.0));
  logger.MaybeLog(LogType::kPredict, Spec("other"), Request(1), response);
  CHECK_TRUE(Queued(&logger) == 0);
  logger.MaybeLog(LogType::kPredict, Spec("m"), Request(1), response);
  CHECK_TRUE(Queued(&logger) == 1);
  logger.Update("m", std::nullopt);
  logger.MaybeLog(LogType::kPredict, Spec("m"), Request(1), response);
  CHECK_TRUE(Queued(&logger) == 0);
}

void TestRecordIsAPredictionLog() {
  ServerRequestLogger logger;
  logger.Update("m", Config("/logs/m", 1.0));
  const PredictRequest request = Request(2.5);
  PredictResponse response;
  *response.mutable_model_spec() = Spec("m");
  (*response.mutable_outputs())["y"].add_float_val(3.25);
  logger.MaybeLog(LogType::kPredict, response.model_spec(), request, response);
  auto records = logger.Next(kNoWait, 10);
  CHECK_TRUE(records.has_value() && records->size() == 1);
  const ServerRequestLogger::Record& record = (*records)[0];
  CHECK_TRUE(record.filename_prefix == "/logs/m");
  // PredictionLog.predict_log (6): PredictLog {request = 1, response = 2}.
  const std::string prediction_log = Unframe(record.tfrecord);
  const std::string predict_log = Field(prediction_log, 6);
  CHECK_TRUE(Field(predict_log, 1) == request.SerializeAsString());
  CHECK_TRUE(Field(predict_log, 2) == response.SerializeAsString());
  // PredictionLog.log_metadata (1): the resolved spec, the sampling config
  // and the tags.
  const std::string metadata = Field(prediction_log, 1);
  ModelSpec spec;
  CHECK_TRUE(spec.ParseFromString(Field(metadata, 1)));
  CHECK_TRUE(spec.name() == "m" && spec.version().value() == 3 &&
             spec.signature_name() == "serving_default");
  google::protobuf::UnknownFieldSet sampling;
  CHECK_TRUE(sampling.ParseFromString(Field(metadata, 2)));
  CHECK_TRUE(sampling.field_count() == 1 && sampling.field(0).number() == 1);
  double rate = 0;
  const uint64_t bits = sampling.field(0).fixed64();
  std::memcpy(&rate, &bits, sizeof(rate));
  CHECK_TRUE(rate == 1.0);
  CHECK_TRUE(Field(metadata, 3) == "serve");
}

void TestSamplingRate() {
  ServerRequestLogger logger(100000);
  PredictResponse response;
  logger.Update("m", Config("/tmp/m", 0.0));
  for (int i = 0; i < 1000; ++i) logger.MaybeLog(LogType::kPredict, Spec("m"), Request(1), response);
  CHECK_TRUE(Queued(&logger) == 0);
  logger.Update("m", Config("/tmp/m", 0.5));
  for (int i = 0; i < 2000; ++i) logger.MaybeLog(LogType::kPredict, Spec("m"), Request(1), response);
  const size_t logged = Queued(&logger);
  // Binomial(2000, 0.5): 1000 +- 22 (one standard deviation).
  CHECK_TRUE(logged > 800 && logged < 1200);
}

void TestFullQueueDropsAndCounts() {
  ServerRequestLogger logger(2);
  logger.Update("m", Config("/tmp/m", 1.0));
  PredictResponse response;
  for (int i = 0; i < 5; ++i) logger.MaybeLog(LogType::kPredict, Spec("m"), Request(i), response);
  CHECK_TRUE(logger.dropped() == 3);
  CHECK_TRUE(Queued(&logger) == 2);
}

void TestCloseFlushesThenEnds() {
  ServerRequestLogger logger;
  logger.Update("m", Config("/tmp/m", 1.0));
  PredictResponse response;
  logger.MaybeLog(LogType::kRegress, Spec("m"), Request(1), response);
  logger.Close();
  // After Close() nothing more is queued, and what was is still handed out.
  logger.MaybeLog(LogType::kRegress, Spec("m"), Request(1), response);
  auto records = logger.Next(std::chrono::milliseconds(10000), 10);
  CHECK_TRUE(records.has_value() && records->size() == 1);
  CHECK_TRUE(!logger.Next(std::chrono::milliseconds(10000), 10).has_value());
}

void TestWriterWokenByABatchBeforeItsTimeout() {
  ServerRequestLogger logger;
  logger.Update("m", Config("/tmp/m", 1.0));
  std::optional<std::vector<ServerRequestLogger::Record>> records;
  const auto start = std::chrono::steady_clock::now();
  std::thread writer([&] { records = logger.Next(std::chrono::minutes(5), 1000); });
  PredictResponse response;
  for (size_t i = 0; i < ServerRequestLogger::kWakeBatch; ++i) {
    logger.MaybeLog(LogType::kPredict, Spec("m"), Request(1), response);
  }
  writer.join();
  CHECK_TRUE(records.has_value() && records->size() == ServerRequestLogger::kWakeBatch);
  CHECK_TRUE(std::chrono::steady_clock::now() - start < std::chrono::minutes(1));
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestOnlyConfiguredModelsAreLogged();
  TestRecordIsAPredictionLog();
  TestSamplingRate();
  TestFullQueueDropsAndCounts();
  TestCloseFlushesThenEnds();
  TestWriterWokenByABatchBeforeItsTimeout();
  std::printf("PASS\n");
  return 0;
}

#include "tensorflow_serving/core/server_request_logger.h"

#include <cstring>
#include <random>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "tensorflow_serving/util/metrics.h"
#include "tensorflow_serving/util/tfrecord.h"

namespace tensorflow {
namespace serving {

namespace {

// Upstream's request_log_count (its core/request_logger.cc), and what this
// server adds: the records the full queue had no room for.
constexpr char kRequestLogCount[] = "/tensorflow/serving/request_log_count";
constexpr char kRequestLogDropped[] = "/tensorflow/serving/request_log_dropped_count";

[[maybe_unused]] const bool kFamiliesDeclared =
    Metrics::Declare({kRequestLogCount,
                      "The total number of requests logged from the model server sliced "
                      "down by model_name and status code.",
                      {"model_name", "status_code"}}) &&
    Metrics::Declare({kRequestLogDropped,
                      "Sampled requests not logged because the log queue was full.",
                      {"model_name"}});

// The wire types of the fields written here.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;

constexpr uint32_t Tag(uint32_t field, uint32_t wire_type) { return field << 3 | wire_type; }

void WriteBytes(google::protobuf::io::CodedOutputStream* out, uint32_t field,
                const std::string& bytes) {
  out->WriteTag(Tag(field, kLengthDelimited));
  out->WriteVarint32(static_cast<uint32_t>(bytes.size()));
  out->WriteString(bytes);
}

// The messages' field numbers (apis/prediction_log.proto, apis/logging.proto,
// config/logging_config.proto). Only the wrapping is written here, around
// messages serialized by their own classes: generating PredictionLog's
// classes would pull in SessionRunLog and all of TensorFlow's config.proto.
constexpr uint32_t kPredictionLogMetadata = 1;
constexpr uint32_t kLogRequest = 1;
constexpr uint32_t kLogResponse = 2;
constexpr uint32_t kMetadataModelSpec = 1;
constexpr uint32_t kMetadataSamplingConfig = 2;
constexpr uint32_t kMetadataSavedModelTags = 3;
constexpr uint32_t kMetadataTimestampSecs = 4;
constexpr uint32_t kSamplingRate = 1;

std::string Serialize(const google::protobuf::MessageLite& message) {
  std::string bytes;
  message.SerializeToString(&bytes);
  return bytes;
}

bool Sampled(double rate) {
  if (rate >= 1) return true;
  if (!(rate > 0)) return false;
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(generator) < rate;
}

}  // namespace

std::string MakePredictionLogRecord(ServerRequestLogger::LogType type, const ModelSpec& spec,
                                    const ServerRequestLogger::ModelConfig& config,
                                    int64_t timestamp_secs,
                                    const google::protobuf::MessageLite& request,
                                    const google::protobuf::MessageLite& response) {
  using google::protobuf::io::CodedOutputStream;
  std::string sampling;
  {
    google::protobuf::io::StringOutputStream stream(&sampling);
    CodedOutputStream out(&stream);
    if (config.sampling_rate != 0) {
      uint64_t bits;
      std::memcpy(&bits, &config.sampling_rate, sizeof(bits));
      out.WriteTag(Tag(kSamplingRate, kFixed64));
      out.WriteLittleEndian64(bits);
    }
  }
  std::string metadata;
  {
    google::protobuf::io::StringOutputStream stream(&metadata);
    CodedOutputStream out(&stream);
    WriteBytes(&out, kMetadataModelSpec, Serialize(spec));
    WriteBytes(&out, kMetadataSamplingConfig, sampling);
    for (const std::string& tag : config.saved_model_tags) {
      WriteBytes(&out, kMetadataSavedModelTags, tag);
    }
    if (timestamp_secs != 0) {
      out.WriteTag(Tag(kMetadataTimestampSecs, kVarint));
      out.WriteVarint64(static_cast<uint64_t>(timestamp_secs));
    }
  }
  // The request and response, the bulk of a record, are serialized once,
  // straight into the TFRecord, between its header and footer.
  const size_t request_size = request.ByteSizeLong();
  const size_t response_size = response.ByteSizeLong();
  auto field_size = [](uint32_t field, size_t size) {
    return CodedOutputStream::VarintSize32(Tag(field, kLengthDelimited)) +
           CodedOutputStream::VarintSize64(size) + size;
  };
  const size_t log_size = field_size(kLogRequest, request_size) +
                          field_size(kLogResponse, response_size);
  const size_t prediction_log_size = field_size(kPredictionLogMetadata, metadata.size()) +
                                     field_size(static_cast<uint32_t>(type), log_size);
  std::string record(kTfRecordHeaderSize + prediction_log_size + kTfRecordFooterSize, '\0');
  {
    google::protobuf::io::ArrayOutputStream stream(record.data() + kTfRecordHeaderSize,
                                                   static_cast<int>(prediction_log_size));
    // Its last bytes reach the record when it is destroyed, before framing.
    CodedOutputStream out(&stream);
    WriteBytes(&out, kPredictionLogMetadata, metadata);
    out.WriteTag(Tag(static_cast<uint32_t>(type), kLengthDelimited));
    out.WriteVarint64(log_size);
    out.WriteTag(Tag(kLogRequest, kLengthDelimited));
    out.WriteVarint64(request_size);
    request.SerializeWithCachedSizes(&out);
    out.WriteTag(Tag(kLogResponse, kLengthDelimited));
    out.WriteVarint64(response_size);
    response.SerializeWithCachedSizes(&out);
  }
  FrameTfRecord(&record);
  return record;
}

ServerRequestLogger& ServerRequestLogger::Get() {
  static ServerRequestLogger* logger = new ServerRequestLogger();
  return *logger;
}

void ServerRequestLogger::SetCapacity(size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = capacity;
}

void ServerRequestLogger::Update(const std::string& model_name,
                                 std::optional<ModelConfig> config) {
  std::lock_guard<std::mutex> lock(config_mu_);
  if (config.has_value()) {
    configs_[model_name] = std::make_shared<const ModelConfig>(std::move(*config));
  } else {
    configs_.erase(model_name);
  }
  any_.store(!configs_.empty(), std::memory_order_release);
}

std::shared_ptr<const ServerRequestLogger::ModelConfig> ServerRequestLogger::SampledConfigOf(
    const std::string& model_name) const {
  std::lock_guard<std::mutex> lock(config_mu_);
  auto it = configs_.find(model_name);
  if (it == configs_.end() || !Sampled(it->second->sampling_rate)) return nullptr;
  return it->second;
}

void ServerRequestLogger::MaybeLog(LogType type, const ModelSpec& spec,
                                   const google::protobuf::MessageLite& request,
                                   const google::protobuf::MessageLite& response) {
  if (!any_.load(std::memory_order_acquire)) return;
  const std::string& model_name = spec.name();
  const std::shared_ptr<const ModelConfig> config = SampledConfigOf(model_name);
  if (config == nullptr) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Record record{config->filename_prefix,
                MakePredictionLogRecord(type, spec, *config, now, request, response)};
  bool queued = false;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && queue_.size() < capacity_) {
      queue_.push_back(std::move(record));
      queued = true;
      wake = queue_.size() == kWakeBatch;
    }
  }
  Metrics& metrics = Metrics::Get();
  if (queued) {
    if (wake) ready_.notify_one();
    if (metrics.enabled()) metrics.Increment(kRequestLogCount, {model_name, "OK"});
  } else {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (metrics.enabled()) metrics.Increment(kRequestLogDropped, {model_name});
  }
}

std::optional<std::vector<ServerRequestLogger::Record>> ServerRequestLogger::Next(
    std::chrono::milliseconds timeout, size_t max_records) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_.wait_for(lock, timeout, [this] { return closed_ || queue_.size() >= kWakeBatch; });
  if (queue_.empty() && closed_) return std::nullopt;
  std::vector<Record> records;
  while (!queue_.empty() && records.size() < max_records) {
    records.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return records;
}

void ServerRequestLogger::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
}

}  // namespace serving
}  // namespace tensorflow

// Upstream's ServerRequestLogger, for the native data plane: which models log
// their requests (each model's LoggingConfig, set by the control plane), the
// sampling, and the PredictionLog records of the sampled requests.
//
// Serving never waits on logging. A sampled request's record goes into a
// bounded queue, as a TFRecord ready for the file; a writer (the control
// plane's log collector) takes records with Next() and appends them. When
// the queue is full the record is dropped and counted. Only requests that
// reached a model and succeeded are logged: a PredictionLog has no field for
// an error.

#ifndef TENSORFLOW_SERVING_CORE_SERVER_REQUEST_LOGGER_H_
#define TENSORFLOW_SERVING_CORE_SERVER_REQUEST_LOGGER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "tensorflow_serving/apis/model.pb.h"

namespace tensorflow {
namespace serving {

class ServerRequestLogger {
 public:
  // What a model's logging_config asks for, with what the records carry.
  struct ModelConfig {
    std::string filename_prefix;
    double sampling_rate = 0;
    std::vector<std::string> saved_model_tags;
  };

  // One record: its PredictionLog as a TFRecord (util/tfrecord.h), ready to
  // be appended to a file, and the files it goes to.
  struct Record {
    std::string filename_prefix;
    std::string tfrecord;
  };

  // PredictionLog's log_type fields, one per API.
  enum class LogType : int {
    kClassify = 2,
    kRegress = 3,
    kMultiInference = 4,
    kPredict = 6,
  };

  static constexpr size_t kDefaultCapacity = 4096;
  // The writer is woken when this many records wait (or at its timeout):
  // waking it for each record would cost the request threads a futex wake
  // and the writer a context switch per request.
  static constexpr size_t kWakeBatch = 64;

  // The process's logger, which the gRPC and REST paths share.
  static ServerRequestLogger& Get();

  explicit ServerRequestLogger(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Sets how many records may wait for the writer.
  void SetCapacity(size_t capacity);

  // Replaces a model's config (nullopt: the model logs nothing).
  void Update(const std::string& model_name, std::optional<ModelConfig> config);

  // Logs a successful request if its model's config samples it. `spec` is
  // the ModelSpec the response carries: version and signature resolved.
  void MaybeLog(LogType type, const ModelSpec& spec,
                const google::protobuf::MessageLite& request,
                const google::protobuf::MessageLite& response);

  // Waits up to `timeout` for kWakeBatch records; returns those queued (at
  // most `max_records`), or nullopt once Close() has been called and none
  // are left.
  std::optional<std::vector<Record>> Next(std::chrono::milliseconds timeout,
                                          size_t max_records);

  // Ends Next()'s waits once the queue is empty (shutdown's flush).
  void Close();

  // Records dropped because the queue was full, since the start.
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  using Configs = std::map<std::string, std::shared_ptr<const ModelConfig>>;

  // The model's config if it samples this request, else nullptr.
  std::shared_ptr<const ModelConfig> SampledConfigOf(const std::string& model_name) const;

  std::atomic<bool> any_{false};
  mutable std::mutex config_mu_;
  Configs configs_;

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Record> queue_;
  size_t capacity_;
  bool closed_ = false;
  std::atomic<int64_t> dropped_{0};
};

// The PredictionLog of one request, serialized and framed as a TFRecord:
// LogMetadata (field 1) and the request and response under `type`'s field.
std::string MakePredictionLogRecord(ServerRequestLogger::LogType type, const ModelSpec& spec,
                                    const ServerRequestLogger::ModelConfig& config,
                                    int64_t timestamp_secs,
                                    const google::protobuf::MessageLite& request,
                                    const google::protobuf::MessageLite& response);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_CORE_SERVER_REQUEST_LOGGER_H_

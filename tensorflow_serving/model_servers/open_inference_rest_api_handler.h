// The Open Inference Protocol's REST API (/v2/...) as a transport-free
// request processor, beside upstream's /v1 (HttpRestApiHandler):
//
//   GET  /v2                                              server metadata
//   GET  /v2/health/live, /v2/health/ready                liveness, readiness
//   GET  /v2/models/<name>[/versions/<version>]           model metadata
//   GET  /v2/models/<name>[/versions/<version>]/ready     model readiness
//   GET  /v2/models/<name>[/versions/<version>]/config    Triton's model config
//   POST /v2/models/<name>[/versions/<version>]/infer     inference
//
// A version is a number, or else a version label. Inference runs on the
// Predict core (open_inference.h), so it shares the model's batcher with
// every other API; bodies are read and written by util/open_inference_json,
// with the binary tensor data extension. Not ready is 503 (a readiness
// probe's failure); errors are {"error": "..."} with /v1's HTTP mapping of
// the status code.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_OPEN_INFERENCE_REST_API_HANDLER_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_OPEN_INFERENCE_REST_API_HANDLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"

namespace re2 {
class RE2;
}

namespace tensorflow {
namespace serving {

// The header of the binary tensor data extension: the JSON part's length.
inline constexpr char kInferenceHeaderContentLength[] = "Inference-Header-Content-Length";

class OpenInferenceRestApiHandler {
 public:
  struct Options {
    // --rest_api_timeout_in_ms: a model run's timeout (<= 0: none).
    int64_t timeout_in_ms = 0;
    PredictOptions predict;
    // What ServerMetadata reports as the version.
    std::string server_version;
  };

  struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    // The JSON part's length when binary data follows it (-1: none).
    int64_t header_length = -1;
    std::string body;
  };
  using Done = std::function<void(Reply)>;

  // Whether `path` (without its query) is the protocol's: /v2 and below.
  static bool Handles(absl::string_view path);

  // `serving_map` must outlive the handler.
  OpenInferenceRestApiHandler(const ServingMap* serving_map, Options options);
  ~OpenInferenceRestApiHandler();

  // Answers one request (`path` without its query; `header_length` the
  // Inference-Header-Content-Length header, nullptr without one) with
  // `done`, called once, possibly on another thread.
  void ProcessRequest(absl::string_view method, absl::string_view path,
                      const std::string* header_length, std::string body, Done done) const;

 private:
  struct Call;
  void Infer(std::shared_ptr<Call> call, const std::string* header_length) const;

  const ServingMap* const serving_map_;
  Options options_;
  std::unique_ptr<re2::RE2> model_api_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_OPEN_INFERENCE_REST_API_HANDLER_H_

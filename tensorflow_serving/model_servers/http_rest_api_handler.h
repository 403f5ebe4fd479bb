// Upstream's REST API (/v1/models/...) as a transport-free request processor
// (upstream's model_servers/http_rest_api_handler.cc): the path selects the
// API with upstream's regular expressions, the body is read with RapidJSON
// (util/json_tensor.cc), and the request runs on the same cores as gRPC's
// (predict_util, classifier, regressor, get_model_metadata_impl), batching
// included. A model's status comes from the Python control plane.
// Errors are {"error": "..."} with upstream's HTTP mapping of the code.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_HTTP_REST_API_HANDLER_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_HTTP_REST_API_HANDLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/control_plane.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"

namespace re2 {
class RE2;
}

namespace tensorflow {
namespace serving {

// Upstream's kHTTPRestApiHandlerPathRegex: what the handler answers.
extern const char kHttpRestApiHandlerPathRegex[];

// Upstream's ToHTTPStatusCode.
int ToHttpStatusCode(const absl::Status& status);

// curl_easy_unescape, as upstream decodes the names and labels of a path:
// %XX sequences only ('+' stays), bytes kept as sent.
std::string DecodeArg(absl::string_view text);

class HttpRestApiHandler {
 public:
  struct Options {
    // --rest_api_timeout_in_ms: a model run's timeout, counted from when the
    // body has been read (<= 0: none).
    int64_t timeout_in_ms = 0;
    PredictOptions predict;
  };

  // `serving_map` and `control_plane` must outlive the handler.
  HttpRestApiHandler(const ServingMap* serving_map, ControlPlane* control_plane,
                     Options options);
  ~HttpRestApiHandler();

  // Answers one request (`uri_path`: path and query as sent) with
  // `done(http status, JSON body)`, called once, possibly on another thread.
  using Done = std::function<void(int http_status, std::string json)>;
  void ProcessRequest(absl::string_view method, absl::string_view uri_path, std::string body,
                      Done done) const;

 private:
  struct Call;
  void Predict(std::shared_ptr<Call> call) const;
  void Classify(std::shared_ptr<Call> call) const;
  void Regress(std::shared_ptr<Call> call) const;
  void ModelStatus(std::shared_ptr<Call> call) const;
  void ModelMetadata(std::shared_ptr<Call> call) const;

  const ServingMap* const serving_map_;
  ControlPlane* const control_plane_;
  const Options options_;
  std::unique_ptr<re2::RE2> prediction_api_;
  std::unique_ptr<re2::RE2> model_status_api_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_HTTP_REST_API_HANDLER_H_

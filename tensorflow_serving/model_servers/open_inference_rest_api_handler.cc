#include "tensorflow_serving/model_servers/open_inference_rest_api_handler.h"

#include <chrono>
#include <utility>

#include <re2/re2.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpc_service.pb.h"
#include "tensorflow_serving/model_servers/grpc_inference_service_impl.h"
#include "tensorflow_serving/model_servers/http_rest_api_handler.h"
#include "tensorflow_serving/servables/tensorflow/open_inference.h"
#include "tensorflow_serving/servables/tensorflow/util.h"
#include "tensorflow_serving/util/open_inference_json.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;
using Reply = OpenInferenceRestApiHandler::Reply;

// /v2/models/<name>[/versions/<version>][/ready|/infer|/config]
constexpr char kModelApiRegex[] = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?(?:/(ready|infer|config))?)";

Reply Json(int status, std::string body) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

Reply Error(const absl::Status& status) {
  return Json(ToHttpStatusCode(status), ErrorJson(status.message()));
}

Reply WrongMethod(absl::string_view method, absl::string_view path) {
  return Json(405, ErrorJson(absl::StrCat("Method not allowed: ", method, " ", path)));
}

}  // namespace

// One inference from its parsed path to its answer.
struct OpenInferenceRestApiHandler::Call {
  Clock::time_point start = Clock::now();
  std::string body;
  std::string model_name;
  std::string version;
  Done done;
  ModelSpec spec;
  std::shared_ptr<SavedModelBundle> bundle;
  inference::ModelInferRequest request;
  inference::ModelInferResponse response;

  // Answers, and records upstream's request_count and, for answers,
  // request_latency, as /v1 does.
  void Finish(const absl::Status& status, Reply reply) {
    if (status.ok()) {
      RecordRequestLatency(
          model_name, "ModelInfer", "REST",
          std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    } else {
      reply = Error(status);
    }
    RecordModelRequestCount(model_name, status);
    Done answer = std::move(done);
    answer(std::move(reply));
  }
};

bool OpenInferenceRestApiHandler::Handles(absl::string_view path) {
  return path == "/v2" || absl::StartsWith(path, "/v2/");
}

OpenInferenceRestApiHandler::OpenInferenceRestApiHandler(const ServingMap* serving_map,
                                                         Options options)
    : serving_map_(serving_map),
      options_(std::move(options)),
      model_api_(std::make_unique<re2::RE2>(kModelApiRegex)) {
  options_.predict.tensor_content = true;
}

OpenInferenceRestApiHandler::~OpenInferenceRestApiHandler() = default;

void OpenInferenceRestApiHandler::ProcessRequest(absl::string_view method,
                                                 absl::string_view path,
                                                 const std::string* header_length,
                                                 std::string body, Done done) const {
  const bool get = method == "GET";
  if (path == "/v2" || path == "/v2/") {
    if (!get) return done(WrongMethod(method, path));
    inference::ServerMetadataResponse metadata;
    metadata.set_name(kOpenInferenceServerName);
    metadata.set_version(options_.server_version);
    for (const char* extension : kOpenInferenceExtensions) metadata.add_extensions(extension);
    return done(Json(200, ServerMetadataJson(metadata)));
  }
  if (path == "/v2/health/live") {
    if (!get) return done(WrongMethod(method, path));
    return done(Json(200, R"({"live":true})"));
  }
  if (path == "/v2/health/ready") {
    if (!get) return done(WrongMethod(method, path));
    const bool ready = serving_map_->AllConfiguredModelsAvailable();
    return done(Json(ready ? 200 : 503, ready ? R"({"ready":true})" : R"({"ready":false})"));
  }
  std::string name, version, api;
  const re2::StringPiece piece(path.data(), path.size());
  if (!RE2::FullMatch(piece, *model_api_, &name, &version, &api)) {
    return done(Json(404, ErrorJson(absl::StrCat("Not found: ", method, " ", path))));
  }
  auto call = std::make_shared<Call>();
  call->model_name = DecodeArg(name);
  call->version = DecodeArg(version);
  call->done = std::move(done);
  call->body = std::move(body);
  if (api == "infer") {
    if (method != "POST") return call->done(WrongMethod(method, path));
    return Infer(std::move(call), header_length);
  }
  if (!get) return call->done(WrongMethod(method, path));
  int64_t number = 0;
  absl::Status status = MakeOpenInferenceModelSpec(call->model_name, call->version, &call->spec);
  if (status.ok() && api == "ready") {
    // Ready is AVAILABLE; whatever a request may name that is not (an
    // unknown model, version or label) is not ready.
    const bool ready = serving_map_->Find(call->spec, &call->bundle, &number).ok();
    return call->done(Json(ready ? 200 : 503, ModelReadyJson(call->model_name, ready)));
  }
  if (status.ok()) status = serving_map_->Find(call->spec, &call->bundle, &number);
  if (!status.ok()) return call->done(Error(status));
  if (api == "config") {
    inference::ModelConfig config;
    status = GetModelInferConfig(*call->bundle, call->model_name, &config);
    if (!status.ok()) return call->done(Error(status));
    return call->done(Json(200, ModelConfigJson(config)));
  }
  inference::ModelMetadataResponse metadata;
  status = GetModelInferMetadata(*call->bundle, call->model_name,
                                 serving_map_->AvailableVersions(call->model_name), &metadata);
  if (!status.ok()) return call->done(Error(status));
  call->done(Json(200, ModelMetadataJson(metadata)));
}

void OpenInferenceRestApiHandler::Infer(std::shared_ptr<Call> call,
                                        const std::string* header_length) const {
  int64_t json_length = -1;
  if (header_length != nullptr &&
      (!absl::SimpleAtoi(*header_length, &json_length) || json_length < 0)) {
    return call->Finish(absl::InvalidArgumentError(absl::StrCat(
                            kInferenceHeaderContentLength, " must be a non-negative integer, not '",
                            *header_length, "'")),
                        Reply());
  }
  absl::Status status = ParseInferRequestJson(call->body, json_length, &call->request);
  call->body.clear();
  call->body.shrink_to_fit();
  if (!status.ok()) return call->Finish(status, Reply());
  call->request.set_model_name(call->model_name);
  call->request.set_model_version(call->version);
  status = MakeOpenInferenceModelSpec(call->model_name, call->version, &call->spec);
  int64_t version = 0;
  if (status.ok()) status = serving_map_->Find(call->spec, &call->bundle, &version);
  if (!status.ok()) return call->Finish(status, Reply());
  // As /v1: the timeout starts once the body has been read.
  Clock::time_point deadline = Clock::time_point::max();
  if (options_.timeout_in_ms > 0) {
    deadline = call->start + std::chrono::milliseconds(options_.timeout_in_ms);
  }
  RunModelInfer(options_.predict, *call->bundle, version, call->spec, &call->request, deadline,
                &call->response, [call](absl::Status status) {
                  Reply reply;
                  if (status.ok()) {
                    status = WriteInferResponseJson(call->request, &call->response, &reply.body,
                                                    &reply.header_length);
                  }
                  if (reply.header_length >= 0) reply.content_type = "application/octet-stream";
                  call->Finish(status, std::move(reply));
                });
}

}  // namespace serving
}  // namespace tensorflow

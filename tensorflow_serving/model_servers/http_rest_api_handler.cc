#include "tensorflow_serving/model_servers/http_rest_api_handler.h"

#include <chrono>
#include <optional>
#include <utility>

#include <google/protobuf/util/json_util.h>
#include <re2/re2.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
#include "tensorflow_serving/apis/get_model_status.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"
#include "tensorflow_serving/core/server_request_logger.h"
#include "tensorflow_serving/servables/tensorflow/classifier.h"
#include "tensorflow_serving/servables/tensorflow/get_model_metadata_impl.h"
#include "tensorflow_serving/servables/tensorflow/regressor.h"
#include "tensorflow_serving/servables/tensorflow/util.h"
#include "tensorflow_serving/util/json_tensor.h"

namespace tensorflow {
namespace serving {

const char kHttpRestApiHandlerPathRegex[] = "(?i)/v1/.*";

namespace {

// Upstream's two API expressions (http_rest_api_util.cc); RE2's \d is ASCII.
constexpr char kPredictionApiRegex[] =
    R"((?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict))";
constexpr char kModelStatusApiRegex[] =
    R"((?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?)";

using Clock = SavedModelBundle::Clock;

std::string LowerCase(absl::string_view text) { return absl::AsciiStrToLower(text); }

// Upstream's ToJsonString of a message: protobuf's own printer, with
// whitespace and every field printed.
absl::Status ToJsonString(const google::protobuf::Message& message, bool preserve_names,
                          std::string* output) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = preserve_names;
  const auto status = google::protobuf::util::MessageToJsonString(message, output, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("Failed to convert proto to json. Error: ", status.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DecodeArg(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && absl::ascii_isxdigit(text[i + 1]) &&
        absl::ascii_isxdigit(text[i + 2])) {
      const auto hex = [](char c) {
        return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
      };
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

int ToHttpStatusCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;  // client closed request
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    default:
      return 500;
  }
}

// One request from its parsed path to its answer; shared by the callbacks
// that may finish it on another thread.
struct HttpRestApiHandler::Call {
  Clock::time_point start;
  Clock::time_point deadline = Clock::time_point::max();
  std::string body;
  std::string model_name;
  std::string verb;  // "predict", "classify", "regress"; "" for GET
  ModelSpec spec;
  Done done;

  // The request and response of whichever API runs, and the bundle it
  // runs on, kept until the answer.
  std::shared_ptr<SavedModelBundle> bundle;
  int64_t version = 0;
  PredictRequest predict_request;
  PredictResponse predict_response;
  JsonPredictRequestFormat format = JsonPredictRequestFormat::kInvalid;
  ClassificationRequest classification_request;
  ClassificationResponse classification_response;
  RegressionRequest regression_request;
  RegressionResponse regression_response;

  // Answers `json` (with OK) or the status's {"error": ...}, and records
  // upstream's request_count and, for answers, request_latency.
  void Finish(const absl::Status& status, std::string json) {
    if (status.ok()) {
      RecordRequestLatency(
          model_name, verb, "REST",
          std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    } else {
      json.clear();
      MakeJsonFromStatus(status, &json);
    }
    RecordModelRequestCount(model_name, status);
    Done reply = std::move(done);
    reply(ToHttpStatusCode(status), std::move(json));
  }
};

HttpRestApiHandler::HttpRestApiHandler(const ServingMap* serving_map,
                                       ControlPlane* control_plane, Options options)
    : serving_map_(serving_map),
      control_plane_(control_plane),
      options_(std::move(options)),
      prediction_api_(std::make_unique<re2::RE2>(kPredictionApiRegex)),
      model_status_api_(std::make_unique<re2::RE2>(kModelStatusApiRegex)) {}

HttpRestApiHandler::~HttpRestApiHandler() = default;

void HttpRestApiHandler::ProcessRequest(absl::string_view method, absl::string_view uri_path,
                                        std::string body, Done done) const {
  auto call = std::make_shared<Call>();
  call->start = Clock::now();
  call->done = std::move(done);
  call->body = std::move(body);
  std::string name, version, label, api;
  bool matched = false;
  const re2::StringPiece path(uri_path.data(), uri_path.size());
  if (method == "POST") {
    matched = RE2::FullMatch(path, *prediction_api_, &name, &version, &label, &api);
  } else if (method == "GET") {
    matched = RE2::FullMatch(path, *model_status_api_, &name, &version, &label, &api);
  }
  if (!matched) {
    return call->Finish(absl::InvalidArgumentError(
                            absl::StrCat("Malformed request: ", method, " ", uri_path)),
                        "");
  }
  call->model_name = DecodeArg(name);
  call->spec.set_name(call->model_name);
  if (!version.empty()) {
    int64_t number = 0;
    if (!absl::SimpleAtoi(version, &number)) {
      return call->Finish(absl::InvalidArgumentError(absl::StrCat(
                              "Failed to convert version: ", version, " to numeric.")),
                          "");
    }
    call->spec.mutable_version()->set_value(number);
  } else if (!label.empty()) {
    call->spec.set_version_label(DecodeArg(label));
  }
  // As upstream's RunOptions: the timeout starts once the body has been read.
  if (options_.timeout_in_ms > 0) {
    call->deadline = call->start + std::chrono::milliseconds(options_.timeout_in_ms);
  }
  api = LowerCase(api);
  if (method == "POST") {
    call->verb = api;
    if (api == "predict") return Predict(std::move(call));
    if (api == "classify") return Classify(std::move(call));
    return Regress(std::move(call));
  }
  if (call->model_name.empty()) {
    return call->Finish(absl::InvalidArgumentError("Missing model name in request."), "");
  }
  if (api == "metadata") return ModelMetadata(std::move(call));
  ModelStatus(std::move(call));
}

void HttpRestApiHandler::Predict(std::shared_ptr<Call> call) const {
  PredictRequest& request = call->predict_request;
  *request.mutable_model_spec() = call->spec;
  const ServingMap* serving_map = serving_map_;
  // Upstream's GetInfoMap: the signature's inputs, from a lookup of its own.
  const absl::Status filled = FillPredictRequestFromJson(
      call->body,
      [serving_map, &call](const std::string& signature_name,
                           google::protobuf::Map<std::string, TensorInfo>* infos) {
        std::shared_ptr<SavedModelBundle> bundle;
        int64_t version = 0;
        absl::Status status = serving_map->Find(call->spec, &bundle, &version);
        if (!status.ok()) return status;
        const std::string& name =
            signature_name.empty() ? kDefaultServingSignatureDefKey : signature_name;
        const SavedModelBundle::Signature* signature = bundle->FindSignature(name);
        if (signature == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("Serving signature name: \"", name, "\" not found in signature def"));
        }
        *infos = signature->def.inputs();
        return absl::OkStatus();
      },
      &request, &call->format);
  call->body.clear();
  if (!filled.ok()) return call->Finish(filled, "");
  absl::Status found = serving_map_->Find(request.model_spec(), &call->bundle, &call->version);
  if (!found.ok()) return call->Finish(found, "");
  const int64_t max_fill_bytes = options_.predict.max_tensor_fill_bytes;
  RunPredict(options_.predict, *call->bundle, call->version, request, call->deadline,
             &call->predict_response, [call, max_fill_bytes](absl::Status status) {
               std::string json;
               if (status.ok()) {
                 ServerRequestLogger::Get().MaybeLog(
                     ServerRequestLogger::LogType::kPredict,
                     call->predict_response.model_spec(), call->predict_request,
                     call->predict_response);
                 status = MakeJsonFromTensors(call->predict_response.outputs(), call->format,
                                              &json, max_fill_bytes);
               }
               call->Finish(status, std::move(json));
             });
}

void HttpRestApiHandler::Classify(std::shared_ptr<Call> call) const {
  ClassificationRequest& request = call->classification_request;
  *request.mutable_model_spec() = call->spec;
  const absl::Status filled = FillClassificationRequestFromJson(call->body, &request);
  call->body.clear();
  if (!filled.ok()) return call->Finish(filled, "");
  absl::Status found = serving_map_->Find(request.model_spec(), &call->bundle, &call->version);
  if (!found.ok()) return call->Finish(found, "");
  RunClassify(*call->bundle, call->version, request, call->deadline,
              &call->classification_response, [call](absl::Status status) {
                std::string json;
                if (status.ok()) {
                  ServerRequestLogger::Get().MaybeLog(
                      ServerRequestLogger::LogType::kClassify,
                      call->classification_response.model_spec(), call->classification_request,
                      call->classification_response);
                  status = MakeJsonFromClassificationResult(
                      call->classification_response.result(), &json);
                }
                call->Finish(status, std::move(json));
              });
}

void HttpRestApiHandler::Regress(std::shared_ptr<Call> call) const {
  RegressionRequest& request = call->regression_request;
  *request.mutable_model_spec() = call->spec;
  const absl::Status filled = FillRegressionRequestFromJson(call->body, &request);
  call->body.clear();
  if (!filled.ok()) return call->Finish(filled, "");
  absl::Status found = serving_map_->Find(request.model_spec(), &call->bundle, &call->version);
  if (!found.ok()) return call->Finish(found, "");
  RunRegress(*call->bundle, call->version, request, call->deadline, &call->regression_response,
             [call](absl::Status status) {
               std::string json;
               if (status.ok()) {
                 ServerRequestLogger::Get().MaybeLog(
                     ServerRequestLogger::LogType::kRegress, call->regression_response.model_spec(),
                     call->regression_request, call->regression_response);
                 status =
                     MakeJsonFromRegressionResult(call->regression_response.result(), &json);
               }
               call->Finish(status, std::move(json));
             });
}

void HttpRestApiHandler::ModelStatus(std::shared_ptr<Call> call) const {
  // As upstream, a label is not resolved: without a version every version
  // is reported.
  GetModelStatusRequest request;
  *request.mutable_model_spec() = call->spec;
  ControlPlane::Call status_call;
  status_call.method = "GetModelStatus";
  request.SerializeToString(&status_call.request);
  status_call.cancelled = [] { return false; };
  status_call.done = [call](absl::Status status, std::string response_bytes) {
    std::string json;
    if (status.ok()) {
      GetModelStatusResponse response;
      if (!response.ParseFromString(response_bytes)) {
        status = absl::InternalError("Could not parse the GetModelStatusResponse");
      } else {
        status = ToJsonString(response, /*preserve_names=*/false, &json);
      }
    }
    call->Finish(status, std::move(json));
  };
  control_plane_->Submit(std::move(status_call));
}

void HttpRestApiHandler::ModelMetadata(std::shared_ptr<Call> call) const {
  GetModelMetadataRequest request;
  *request.mutable_model_spec() = call->spec;
  request.add_metadata_field("signature_def");
  absl::Status status = ValidateGetModelMetadataRequest(request);
  std::shared_ptr<SavedModelBundle> bundle;
  int64_t version = 0;
  if (status.ok()) status = serving_map_->Find(request.model_spec(), &bundle, &version);
  GetModelMetadataResponse response;
  if (status.ok()) status = GetModelMetadata(*bundle, version, request, &response);
  if (!status.ok()) return call->Finish(status, "");
  // Upstream prints the model spec and the signatures separately (protobuf's
  // printer once kept no field names inside an Any) and joins them.
  SignatureDefMap signatures;
  auto packed = response.metadata().find("signature_def");
  if (packed == response.metadata().end() || !packed->second.UnpackTo(&signatures)) {
    return call->Finish(
        absl::InternalError("Failed to unpack 'Any' object to 'SignatureDefMap'."), "");
  }
  std::string model_spec_json, signatures_json;
  status = ToJsonString(response.model_spec(), /*preserve_names=*/true, &model_spec_json);
  if (status.ok()) {
    status = ToJsonString(signatures, /*preserve_names=*/true, &signatures_json);
  }
  if (!status.ok()) return call->Finish(status, "");
  call->Finish(absl::OkStatus(),
               absl::StrCat("{\n\"model_spec\":", model_spec_json, ",\n\"metadata\": {",
                            "\"signature_def\": ", signatures_json, "}\n}\n"));
}

}  // namespace serving
}  // namespace tensorflow

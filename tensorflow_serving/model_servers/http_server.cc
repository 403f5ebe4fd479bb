#include "tensorflow_serving/model_servers/http_server.h"

#include <string>
#include <utility>

#include <re2/re2.h>

#include "absl/strings/str_cat.h"

namespace tensorflow {
namespace serving {

namespace {

void AddCorsHeaders(net_http::HeaderList* headers) {
  headers->emplace_back("Access-Control-Allow-Origin", "*");
  headers->emplace_back("Access-Control-Allow-Methods", "POST, GET");
  headers->emplace_back("Access-Control-Allow-Headers", "Content-Type");
}

}  // namespace

RestServer::RestServer(const RestServerOptions& options, const ServingMap* serving_map,
                       ControlPlane* control_plane)
    : options_(options),
      control_plane_(control_plane),
      handler_(serving_map, control_plane, options.api),
      open_inference_(serving_map, options.open_inference) {}

absl::Status RestServer::Start(const RestServerOptions& options, const ServingMap* serving_map,
                               ControlPlane* control_plane, std::unique_ptr<RestServer>* server) {
  std::unique_ptr<RestServer> result(new RestServer(options, serving_map, control_plane));
  RestServer* raw = result.get();
  const absl::Status status = net_http::HttpServer::Start(
      options.http,
      [raw](net_http::HttpRequest request, net_http::ReplyFn reply) {
        raw->Dispatch(std::move(request), std::move(reply));
      },
      &result->http_);
  if (!status.ok()) return status;
  *server = std::move(result);
  return absl::OkStatus();
}

void RestServer::Dispatch(net_http::HttpRequest request, net_http::ReplyFn reply) const {
  const std::string& uri_path = request.uri_path;
  const std::string path = uri_path.substr(0, uri_path.find('?'));
  if (!options_.metrics_path.empty() && path == options_.metrics_path) {
    return Prometheus(request, std::move(reply));
  }
  static const re2::RE2* const kApiPath = new re2::RE2(kHttpRestApiHandlerPathRegex);
  const bool open_inference = OpenInferenceRestApiHandler::Handles(path);
  if (!open_inference && !RE2::FullMatch(uri_path, *kApiPath)) {
    return reply(net_http::ErrorResponse(404));
  }
  if (request.method == "OPTIONS") {
    // A CORS preflight: upstream answers it whether or not CORS support is
    // on, with no body and no Content-Type of its own.
    static const re2::RE2* const kOrigin = new re2::RE2("https?://");
    const std::string* origin = request.FindHeader("Origin");
    net_http::HttpResponse response;
    response.status =
        origin != nullptr && RE2::PartialMatch(*origin, *kOrigin) ? 200 : 400;
    if (options_.enable_cors) AddCorsHeaders(&response.headers);
    return reply(std::move(response));
  }
  if (open_inference) return OpenInference(std::move(request), path, std::move(reply));
  const bool cors = options_.enable_cors;
  handler_.ProcessRequest(request.method, uri_path, std::move(request.body),
                          [reply = std::move(reply), cors](int status, std::string json) {
                            net_http::HttpResponse response;
                            response.status = status;
                            response.headers.emplace_back("Content-Type", "application/json");
                            if (cors) AddCorsHeaders(&response.headers);
                            response.body = std::move(json);
                            reply(std::move(response));
                          });
}

void RestServer::OpenInference(net_http::HttpRequest request, const std::string& path,
                               net_http::ReplyFn reply) const {
  // The handler reads the header before it returns.
  const std::string* header_length = request.FindHeader(kInferenceHeaderContentLength);
  const bool cors = options_.enable_cors;
  open_inference_.ProcessRequest(
      request.method, path, header_length, std::move(request.body),
      [reply = std::move(reply), cors](OpenInferenceRestApiHandler::Reply answer) {
        net_http::HttpResponse response;
        response.status = answer.status;
        response.headers.emplace_back("Content-Type", std::move(answer.content_type));
        if (answer.header_length >= 0) {
          response.headers.emplace_back(kInferenceHeaderContentLength,
                                        std::to_string(answer.header_length));
        }
        if (cors) AddCorsHeaders(&response.headers);
        response.body = std::move(answer.body);
        reply(std::move(response));
      });
}

void RestServer::Prometheus(const net_http::HttpRequest& request,
                            net_http::ReplyFn reply) const {
  net_http::HttpResponse response;
  response.headers.emplace_back("Content-Type", "text/plain");
  if (request.uri_path != options_.metrics_path) {
    response.status = 400;
    response.body = absl::StrCat("Unexpected path: ", request.uri_path, ". Should be ",
                                 options_.metrics_path);
    return reply(std::move(response));
  }
  ControlPlane::Call call;
  call.method = "PrometheusPage";
  call.cancelled = [] { return false; };
  call.done = [reply = std::move(reply)](absl::Status status, std::string page) {
    net_http::HttpResponse response;
    response.headers.emplace_back("Content-Type", "text/plain");
    if (!status.ok()) {
      response.status = 503;
      response.body = std::string(status.message());
    } else {
      response.body = std::move(page);
    }
    reply(std::move(response));
  };
  control_plane_->Submit(std::move(call));
}

}  // namespace serving
}  // namespace tensorflow

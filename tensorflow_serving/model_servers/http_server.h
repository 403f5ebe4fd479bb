// The HTTP/REST front end (upstream's model_servers/http_server.cc): routes
// the Prometheus path (when monitoring enables it) to the metrics page,
// every path matching /v1/... to HttpRestApiHandler and /v2 and below (the
// Open Inference Protocol) to OpenInferenceRestApiHandler, with OPTIONS
// answering CORS preflights and, with --rest_api_enable_cors_support,
// upstream's CORS headers on every /v1 and /v2 reply; anything else gets
// evhttp's 404 page. The transport (connections, limits, deadlines, drain)
// is util/net_http.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_HTTP_SERVER_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tensorflow_serving/model_servers/control_plane.h"
#include "tensorflow_serving/model_servers/http_rest_api_handler.h"
#include "tensorflow_serving/model_servers/open_inference_rest_api_handler.h"
#include "tensorflow_serving/util/net_http/http_server.h"

namespace tensorflow {
namespace serving {

struct RestServerOptions {
  net_http::HttpServerOptions http;
  HttpRestApiHandler::Options api;
  OpenInferenceRestApiHandler::Options open_inference;
  bool enable_cors = false;
  // The Prometheus page's path; empty when monitoring does not export one.
  std::string metrics_path;
};

class RestServer {
 public:
  // `serving_map` and `control_plane` must outlive the server.
  static absl::Status Start(const RestServerOptions& options, const ServingMap* serving_map,
                            ControlPlane* control_plane, std::unique_ptr<RestServer>* server);

  int port() const { return http_->port(); }
  // Refuses new requests, waits up to `grace_seconds` for those in flight.
  bool Stop(double grace_seconds) { return http_->Stop(grace_seconds); }

 private:
  RestServer(const RestServerOptions& options, const ServingMap* serving_map,
             ControlPlane* control_plane);
  void Dispatch(net_http::HttpRequest request, net_http::ReplyFn reply) const;
  void Prometheus(const net_http::HttpRequest& request, net_http::ReplyFn reply) const;
  void OpenInference(net_http::HttpRequest request, const std::string& path,
                     net_http::ReplyFn reply) const;

  const RestServerOptions options_;
  ControlPlane* const control_plane_;
  HttpRestApiHandler handler_;
  OpenInferenceRestApiHandler open_inference_;
  std::unique_ptr<net_http::HttpServer> http_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_HTTP_SERVER_H_

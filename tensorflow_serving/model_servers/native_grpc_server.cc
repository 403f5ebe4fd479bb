#include "tensorflow_serving/model_servers/native_grpc_server.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <initializer_list>
#include <utility>

#include <google/protobuf/descriptor.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tensorflow_serving/model_servers/grpc_log.h"
#include "tensorflow_serving/servables/tensorflow/util.h"

namespace tensorflow {
namespace serving {

namespace {

std::shared_ptr<grpc::ServerCredentials> Credentials(const NativeGrpcServerOptions& options) {
  if (options.use_alts) {
    return grpc::experimental::AltsServerCredentials(
        grpc::experimental::AltsServerCredentialsOptions());
  }
  if (!options.use_ssl) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      options.client_verify ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_root_certs = options.custom_ca;
  ssl.pem_key_cert_pairs.push_back({options.server_key, options.server_cert});
  return grpc::SslServerCredentials(ssl);
}

// Adds `service`'s methods, each under `prefix` and its name.
template <typename Service>
void AddMethods(
    const Service* service, const std::string& prefix,
    std::initializer_list<std::pair<const char*, void (Service::*)(GrpcUnaryCall*) const>> named,
    std::unordered_map<std::string, std::function<void(GrpcUnaryCall*)>>* methods) {
  for (const auto& [name, method] : named) {
    (*methods)[prefix + name] = [service, method = method](GrpcUnaryCall* call) {
      (service->*method)(call);
    };
  }
}

}  // namespace

// Upstream's names for the health service and the services' full names,
// which health clients usually ask for.
constexpr const char* kHealthServices[] = {"",
                                           "ModelService",
                                           "PredictionService",
                                           "tensorflow.serving.ModelService",
                                           "tensorflow.serving.PredictionService"};

absl::Status NativeGrpcServer::Start(const NativeGrpcServerOptions& options,
                                     std::shared_ptr<const ServingMap> serving_map,
                                     ControlPlane* control_plane,
                                     std::unique_ptr<NativeGrpcServer>* out) {
  SetSignatureMethodNameCheckFeature(options.enable_signature_method_name_check);
  std::unique_ptr<NativeGrpcServer> server(new NativeGrpcServer());
  NativeGrpcServer* const dispatcher = server.get();
  server->calls_ = std::make_unique<GrpcCallSource>(
      [dispatcher](GrpcUnaryCall* call) { dispatcher->Dispatch(call); });
  server->model_service_ = std::make_unique<ModelServiceBridge>(control_plane);
  server->prediction_service_ =
      std::make_unique<PredictionServiceImpl>(serving_map, options.predict);
  server->inference_service_ = std::make_unique<GrpcInferenceServiceImpl>(
      std::move(serving_map), options.predict, options.server_version);
  grpc::EnableDefaultHealthCheckService(options.enable_health_check_service);

  grpc::ServerBuilder builder;
  const std::shared_ptr<grpc::ServerCredentials> credentials = Credentials(options);
  server->bound_ports_.assign(options.addresses.size(), 0);
  for (size_t i = 0; i < options.addresses.size(); ++i) {
    builder.AddListeningPort(options.addresses[i], credentials, &server->bound_ports_[i]);
  }
  server->methods_ = server->Methods();
  builder.RegisterAsyncGenericService(server->calls_->service());
  for (int i = 0; i < std::max(options.threads, 1); ++i) {
    server->queues_.push_back(builder.AddCompletionQueue());
  }
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  // A port in use is an error, never shared with another server.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // No channelz service is registered, so its per-stream and per-call
  // bookkeeping (counters, timestamps) would be read by nobody.
  // --grpc_channel_arguments may turn it on.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  for (const auto& [key, value] : options.int_channel_arguments) {
    builder.AddChannelArgument(key, value);
  }
  for (const auto& [key, value] : options.string_channel_arguments) {
    builder.AddChannelArgument(key, value);
  }
  std::string unbound;  // the first address not listened on, if any
  {
    GrpcLogCapture grpc_log;
    server->server_ = builder.BuildAndStart();
    for (size_t i = 0; i < options.addresses.size() && unbound.empty(); ++i) {
      const bool is_unix = absl::StartsWith(options.addresses[i], "unix:");
      if (server->server_ == nullptr || (!is_unix && server->bound_ports_[i] == 0)) {
        unbound = options.addresses[i];
      }
    }
    if (server->server_ == nullptr && unbound.empty()) unbound = "anything";
    // A port in use: the error returned below says it in one line, and gRPC
    // core's error tree (~1,500 characters) adds nothing to it. Whatever else
    // gRPC core said (another reason a bind failed, a warning) is written.
    if (unbound.empty() || !grpc_log.Contains("Address already in use")) grpc_log.Replay();
  }
  if (!unbound.empty()) {
    if (server->server_ != nullptr) server->Stop(0);
    return absl::UnavailableError(
        absl::StrCat("Failed to start gRPC server: could not bind ", unbound, " (port in use?)"));
  }
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    for (const char* name : kHealthServices) health->SetServingStatus(name, true);
  }
  for (const auto& queue : server->queues_) {
    GrpcCallSource* calls = server->calls_.get();
    grpc::ServerCompletionQueue* cq = queue.get();
    server->threads_.emplace_back([calls, cq] { calls->Serve(cq); });
  }
  *out = std::move(server);
  return absl::OkStatus();
}

NativeGrpcServer::~NativeGrpcServer() { Stop(0); }

void NativeGrpcServer::EnterGracefulShutdown() {
  if (server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) health->Shutdown();
}

void NativeGrpcServer::Stop(double grace_seconds) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(grace_seconds * 1000)));
  // Calls cancelled by the shutdown may still be answered (by a batch
  // thread, say), and their answers go through the queues.
  calls_->WaitForNoCalls();
  for (const auto& queue : queues_) queue->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  server_->Wait();
  server_.reset();
  queues_.clear();
}

std::unordered_map<std::string, NativeGrpcServer::Method> NativeGrpcServer::Methods() {
  std::unordered_map<std::string, Method> methods;
  // Every method of the three services, so that the ones not served here
  // (the rest of Triton's service) are answered as a grpc++ service answers
  // a method it does not implement.
  for (const char* service : {"tensorflow.serving.PredictionService",
                              "tensorflow.serving.ModelService",
                              "inference.GRPCInferenceService"}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    for (int i = 0; descriptor != nullptr && i < descriptor->method_count(); ++i) {
      methods[absl::StrCat("/", service, "/", descriptor->method(i)->name())] =
          [](GrpcUnaryCall* call) {
            call->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""));
          };
    }
  }
  AddMethods(prediction_service_.get(), "/tensorflow.serving.PredictionService/",
             {{"Predict", &PredictionServiceImpl::Predict},
              {"Classify", &PredictionServiceImpl::Classify},
              {"Regress", &PredictionServiceImpl::Regress},
              {"MultiInference", &PredictionServiceImpl::MultiInference},
              {"GetModelMetadata", &PredictionServiceImpl::GetModelMetadata}},
             &methods);
  AddMethods(inference_service_.get(), "/inference.GRPCInferenceService/",
             {{"ServerLive", &GrpcInferenceServiceImpl::ServerLive},
              {"ServerReady", &GrpcInferenceServiceImpl::ServerReady},
              {"ModelReady", &GrpcInferenceServiceImpl::ModelReady},
              {"ServerMetadata", &GrpcInferenceServiceImpl::ServerMetadata},
              {"ModelMetadata", &GrpcInferenceServiceImpl::ModelMetadata},
              {"ModelInfer", &GrpcInferenceServiceImpl::ModelInfer},
              {"ModelConfig", &GrpcInferenceServiceImpl::ModelConfig}},
             &methods);
  const ModelServiceBridge* model = model_service_.get();
  for (const char* method : {"GetModelStatus", "HandleReloadConfigRequest"}) {
    methods[absl::StrCat("/tensorflow.serving.ModelService/", method)] =
        [model, method](GrpcUnaryCall* call) { model->Handle(method, call); };
  }
  return methods;
}

void NativeGrpcServer::Dispatch(GrpcUnaryCall* call) {
  const auto method = methods_.find(call->method());
  if (method == methods_.end()) {
    // What gRPC answers for a method no service registers.
    call->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "Method not found!"));
    return;
  }
  method->second(call);
}

}  // namespace serving
}  // namespace tensorflow

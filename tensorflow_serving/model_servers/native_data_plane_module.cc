// _native_data_plane: the Python binding of the native data plane, driven by
// native_data_plane.py. It exposes just what the Python control plane needs:
//
//   load_tensorflow(path) -> version   resolve the C API of the loaded library
//   Bundle(abi_id, session, operations, signature_defs, run_options,
//          deadline_run_options, batching)
//       .retire()                      wait until no request holds the bundle
//       .unsupported(signature)        why its requests cannot be served
//   set_versions(name, {version: Bundle}); set_labels(name, {label: version});
//   set_unavailable(name, (reason, [loading versions]) or None)
//   Server(options).start() -> ([gRPC ports], REST port)
//       .next_control_call() -> ControlCall (.method, .request, .remaining(),
//                                .cancelled(), .finish(code, message, body))
//       .enter_graceful_shutdown() / .stop(grace)
//   metric_families(); enable_metrics({sampler: bucket limits}); drain_metrics()
//
// Nothing here runs on the request path: requests never enter Python.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tensorflow_serving/batching/batching_session.h"
#include "tensorflow_serving/core/server_request_logger.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/control_plane.h"
#include "tensorflow_serving/model_servers/http_server.h"
#include "tensorflow_serving/model_servers/native_grpc_server.h"
#include "tensorflow_serving/model_servers/pybind_conduit.h"
#include "tensorflow_serving/servables/tensorflow/classifier.h"
#include "tensorflow_serving/servables/tensorflow/multi_inference.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"
#include "tensorflow_serving/servables/tensorflow/regressor.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {
namespace {

std::unique_ptr<TfCApi> api;
// How warmup's Predicts decode and write tensors: the server's options.
PredictOptions warmup_predict_options;
// One per process, as the model server has one manager.
std::shared_ptr<ServingMap> serving_map = std::make_shared<ServingMap>();

PyObject* SetError(const absl::Status& status) {
  PyErr_SetString(PyExc_RuntimeError, std::string(status.message()).c_str());
  return nullptr;
}

bool ToString(PyObject* object, std::string* out) {
  Py_ssize_t size = 0;
  const char* data = nullptr;
  if (PyUnicode_Check(object)) {
    data = PyUnicode_AsUTF8AndSize(object, &size);
  } else if (PyBytes_Check(object)) {
    char* bytes = nullptr;
    if (PyBytes_AsStringAndSize(object, &bytes, &size) == 0) data = bytes;
  } else {
    PyErr_Format(PyExc_TypeError, "expected str or bytes, got %s", Py_TYPE(object)->tp_name);
  }
  if (data == nullptr) return false;
  out->assign(data, size);
  return true;
}

// The options dict's `key`, which must be there: server_options.py and
// batching_parameters.py give every default, none is repeated here.
PyObject* Required(PyObject* options, const char* key) {
  PyObject* value = PyDict_GetItemString(options, key);  // borrowed
  if (value == nullptr) PyErr_Format(PyExc_KeyError, "server options lack '%s'", key);
  return value;
}

bool RequiredInt(PyObject* options, const char* key, int64_t* out) {
  PyObject* value = Required(options, key);
  if (value == nullptr) return false;
  *out = PyLong_AsLongLong(value);
  return !(*out == -1 && PyErr_Occurred());
}

bool RequiredBool(PyObject* options, const char* key, bool* out) {
  PyObject* value = Required(options, key);
  if (value == nullptr) return false;
  const int truth = PyObject_IsTrue(value);
  if (truth < 0) return false;
  *out = truth != 0;
  return true;
}

bool RequiredString(PyObject* options, const char* key, std::string* out) {
  PyObject* value = Required(options, key);
  return value != nullptr && ToString(value, out);
}

bool ParseBatchingOptions(PyObject* dict, BatchingOptions* options) {
  if (!PyDict_Check(dict)) {
    PyErr_SetString(PyExc_TypeError, "batching options must be a dict");
    return false;
  }
  int64_t threads = 0;
  PyObject* execution = Required(dict, "max_execution_batch_size");
  if (execution == nullptr ||
      !RequiredInt(dict, "max_batch_size", &options->max_batch_size) ||
      !RequiredInt(dict, "batch_timeout_micros", &options->batch_timeout_micros) ||
      !RequiredInt(dict, "max_enqueued_batches", &options->max_enqueued_batches) ||
      !RequiredInt(dict, "num_batch_threads", &threads) ||
      !RequiredBool(dict, "pad_variable_length_inputs", &options->pad_variable_length_inputs) ||
      !RequiredBool(dict, "enable_large_batch_splitting",
                    &options->enable_large_batch_splitting) ||
      !RequiredString(dict, "thread_pool_name", &options->thread_pool_name)) {
    return false;
  }
  options->num_batch_threads = static_cast<int>(threads);
  options->max_execution_batch_size = 0;  // None: max_batch_size
  if (execution != Py_None) {
    options->max_execution_batch_size = PyLong_AsLongLong(execution);
    if (options->max_execution_batch_size == -1 && PyErr_Occurred()) return false;
  }
  PyObject* sizes = Required(dict, "allowed_batch_sizes");
  if (sizes == nullptr) return false;
  PyObject* iterator = PyObject_GetIter(sizes);
  if (iterator == nullptr) return false;
  while (PyObject* item = PyIter_Next(iterator)) {
    options->allowed_batch_sizes.push_back(PyLong_AsLongLong(item));
    Py_DECREF(item);
  }
  Py_DECREF(iterator);
  return !PyErr_Occurred();
}

// ---------------------------------------------------------------- Bundle

struct RetireState {
  std::mutex mu;
  std::condition_variable cv;
  bool destroyed = false;
};

struct BundleObject {
  PyObject_HEAD
  std::shared_ptr<SavedModelBundle>* bundle;
  std::shared_ptr<RetireState>* retire;
  const SavedModelBundle* raw;
};

void Bundle_dealloc(BundleObject* self) {
  delete self->bundle;
  delete self->retire;
  Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

int Bundle_init(BundleObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"abi_id",      "session",
                                 "operations",  "signature_defs",
                                 "run_options", "deadline_run_options",
                                 "batching",    nullptr};
  const char* abi_id = nullptr;
  PyObject* session_object = nullptr;
  PyObject* operations_dict = nullptr;
  Py_buffer signature_defs;
  Py_buffer run_options;
  Py_buffer deadline_run_options;
  PyObject* batching = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sOO!y*y*y*|O", const_cast<char**>(kwlist),
                                   &abi_id, &session_object, &PyDict_Type, &operations_dict,
                                   &signature_defs, &run_options, &deadline_run_options,
                                   &batching)) {
    return -1;
  }
  const std::string defs(static_cast<const char*>(signature_defs.buf), signature_defs.len);
  std::string options(static_cast<const char*>(run_options.buf), run_options.len);
  std::string deadline_options(static_cast<const char*>(deadline_run_options.buf),
                               deadline_run_options.len);
  PyBuffer_Release(&signature_defs);
  PyBuffer_Release(&run_options);
  PyBuffer_Release(&deadline_run_options);
  if (api == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "load_tensorflow() has not been called");
    return -1;
  }
  auto* session = static_cast<TF_Session*>(
      BorrowPointer(session_object, ConduitType::kSession, abi_id));
  if (session == nullptr) return -1;
  std::map<std::string, TF_Operation*> operations;
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t position = 0;
  while (PyDict_Next(operations_dict, &position, &key, &value)) {
    std::string name;
    if (!ToString(key, &name)) return -1;
    auto* operation =
        static_cast<TF_Operation*>(BorrowPointer(value, ConduitType::kOperation, abi_id));
    if (operation == nullptr) return -1;
    operations[name] = operation;
  }
  BatchingOptions batching_options;
  if (batching != Py_None && !ParseBatchingOptions(batching, &batching_options)) return -1;

  std::unique_ptr<SavedModelBundle> bundle;
  const absl::Status status =
      SavedModelBundle::Create(api.get(), session, defs, operations, std::move(options),
                               std::move(deadline_options), &bundle);
  if (!status.ok()) {
    SetError(status);
    return -1;
  }
  SavedModelBundle* raw = bundle.get();
  if (batching != Py_None) raw->EnableBatching(batching_options);
  auto retire = std::make_shared<RetireState>();
  raw->set_on_destroy([retire] {
    std::lock_guard<std::mutex> lock(retire->mu);
    retire->destroyed = true;
    retire->cv.notify_all();
  });
  delete self->bundle;
  delete self->retire;
  self->bundle = new std::shared_ptr<SavedModelBundle>(std::move(bundle));
  self->retire = new std::shared_ptr<RetireState>(std::move(retire));
  self->raw = raw;
  return 0;
}

PyObject* Bundle_retire(BundleObject* self, PyObject*) {
  if (self->bundle == nullptr || self->retire == nullptr) Py_RETURN_NONE;
  std::shared_ptr<SavedModelBundle> bundle = std::move(*self->bundle);
  std::shared_ptr<RetireState> retire = *self->retire;
  Py_BEGIN_ALLOW_THREADS
  serving_map->Remove(self->raw);
  bundle.reset();
  std::unique_lock<std::mutex> lock(retire->mu);
  retire->cv.wait(lock, [&] { return retire->destroyed; });
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

PyObject* Bundle_unsupported(BundleObject* self, PyObject* args) {
  const char* name = nullptr;
  if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
  if (self->bundle == nullptr || *self->bundle == nullptr) Py_RETURN_NONE;
  const SavedModelBundle::Signature* sig = (*self->bundle)->FindSignature(name);
  if (sig == nullptr || sig->supported) Py_RETURN_NONE;
  return PyUnicode_FromString(sig->why_unsupported.c_str());
}

// Runs one request through a core, as a client's request runs (batching
// included), and waits for it: warmup replays its records this way.
template <typename Request, typename Response, typename Run>
absl::Status RunAndWait(const std::string& bytes, std::string* out, Run run) {
  Request request;
  if (!request.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("Could not parse the request");
  }
  Response response;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  absl::Status result;
  run(request, &response, [&](absl::Status status) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(status);
    finished = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  if (result.ok()) response.SerializeToString(out);
  return result;
}

// run(method, request, version) -> (code, message, response): method is
// Predict, Classify, Regress or MultiInference; code 0 when it succeeded.
PyObject* Bundle_run(BundleObject* self, PyObject* args) {
  const char* method = nullptr;
  Py_buffer request;
  long long version = 0;
  if (!PyArg_ParseTuple(args, "sy*L", &method, &request, &version)) return nullptr;
  const std::string bytes(static_cast<const char*>(request.buf), request.len);
  PyBuffer_Release(&request);
  if (self->bundle == nullptr || *self->bundle == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "the bundle was retired");
    return nullptr;
  }
  const std::shared_ptr<SavedModelBundle> bundle = *self->bundle;
  const std::string name(method);
  const auto none = SavedModelBundle::Clock::time_point::max();
  absl::Status status;
  std::string response;
  Py_BEGIN_ALLOW_THREADS
  if (name == "Predict") {
    PredictOptions options = warmup_predict_options;
    status = RunAndWait<PredictRequest, PredictResponse>(
        bytes, &response, [&](const PredictRequest& r, PredictResponse* out, RunDone done) {
          RunPredict(options, *bundle, version, r, none, out, std::move(done));
        });
  } else if (name == "Classify") {
    status = RunAndWait<ClassificationRequest, ClassificationResponse>(
        bytes, &response,
        [&](const ClassificationRequest& r, ClassificationResponse* out, RunDone done) {
          RunClassify(*bundle, version, r, none, out, std::move(done));
        });
  } else if (name == "Regress") {
    status = RunAndWait<RegressionRequest, RegressionResponse>(
        bytes, &response,
        [&](const RegressionRequest& r, RegressionResponse* out, RunDone done) {
          RunRegress(*bundle, version, r, none, out, std::move(done));
        });
  } else if (name == "MultiInference") {
    status = RunAndWait<MultiInferenceRequest, MultiInferenceResponse>(
        bytes, &response,
        [&](const MultiInferenceRequest& r, MultiInferenceResponse* out, RunDone done) {
          RunMultiInference(*bundle, version, r, none, out, std::move(done));
        });
  } else {
    status = absl::UnimplementedError(absl::StrCat("No such method: ", name));
  }
  Py_END_ALLOW_THREADS
  return Py_BuildValue("(isy#)", static_cast<int>(status.code()),
                       std::string(status.message()).c_str(), response.data(),
                       static_cast<Py_ssize_t>(response.size()));
}

PyMethodDef bundle_methods[] = {
    {"run", reinterpret_cast<PyCFunction>(Bundle_run), METH_VARARGS,
     "run(method, request, version) -> (code, message, response), as a request runs."},
    {"retire", reinterpret_cast<PyCFunction>(Bundle_retire), METH_NOARGS,
     "Stops serving the bundle natively; returns once no request holds it."},
    {"unsupported", reinterpret_cast<PyCFunction>(Bundle_unsupported), METH_VARARGS,
     "Why requests on a signature cannot be served, or None."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject BundleType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ----------------------------------------------------------- ControlCall

// A call the native plane hands to Python (see control_plane.h). Answered
// once, by finish(); one dropped unanswered is answered INTERNAL.
struct ControlCallObject {
  PyObject_HEAD
  ControlPlane::Call* call;
};

void ControlCall_dealloc(ControlCallObject* self) {
  if (self->call != nullptr) {
    ControlPlane::Call call = std::move(*self->call);
    delete self->call;
    self->call = nullptr;
    Py_BEGIN_ALLOW_THREADS
    call.done(absl::InternalError("The control plane dropped the call"), "");
    Py_END_ALLOW_THREADS
  }
  Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

PyObject* ControlCall_method(ControlCallObject* self, void*) {
  if (self->call == nullptr) Py_RETURN_NONE;
  return PyUnicode_FromString(self->call->method.c_str());
}

PyObject* ControlCall_request(ControlCallObject* self, void*) {
  if (self->call == nullptr) return PyBytes_FromString("");
  return PyBytes_FromStringAndSize(self->call->request.data(),
                                   static_cast<Py_ssize_t>(self->call->request.size()));
}

PyObject* ControlCall_remaining(ControlCallObject* self, PyObject*) {
  if (self->call == nullptr || self->call->deadline == ControlPlane::Clock::time_point::max()) {
    Py_RETURN_NONE;
  }
  return PyFloat_FromDouble(
      std::chrono::duration<double>(self->call->deadline - ControlPlane::Clock::now()).count());
}

PyObject* ControlCall_cancelled(ControlCallObject* self, PyObject*) {
  if (self->call == nullptr) Py_RETURN_TRUE;
  return PyBool_FromLong(self->call->cancelled());
}

PyObject* ControlCall_finish(ControlCallObject* self, PyObject* args) {
  int code = 0;
  const char* message = "";
  Py_buffer body;
  if (!PyArg_ParseTuple(args, "isy*", &code, &message, &body)) return nullptr;
  std::string bytes(static_cast<const char*>(body.buf), body.len);
  PyBuffer_Release(&body);
  if (self->call == nullptr) Py_RETURN_NONE;  // answered already
  ControlPlane::Call call = std::move(*self->call);
  delete self->call;
  self->call = nullptr;
  const absl::Status status(static_cast<absl::StatusCode>(code), message);
  Py_BEGIN_ALLOW_THREADS
  call.done(status, std::move(bytes));
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

PyGetSetDef control_call_getset[] = {
    {"method", reinterpret_cast<getter>(ControlCall_method), nullptr,
     "GetModelStatus, HandleReloadConfigRequest or PrometheusPage.", nullptr},
    {"request", reinterpret_cast<getter>(ControlCall_request), nullptr,
     "The serialized request (b'' for the page).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef control_call_methods[] = {
    {"remaining", reinterpret_cast<PyCFunction>(ControlCall_remaining), METH_NOARGS,
     "Seconds left before the caller's deadline, or None."},
    {"cancelled", reinterpret_cast<PyCFunction>(ControlCall_cancelled), METH_NOARGS,
     "Whether the caller has gone away."},
    {"finish", reinterpret_cast<PyCFunction>(ControlCall_finish), METH_VARARGS,
     "finish(code, message, body): the answer (code 0: body is the response)."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject ControlCallType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ---------------------------------------------------------------- Server

struct ServerObject {
  PyObject_HEAD
  NativeGrpcServerOptions* grpc_options;
  RestServerOptions* rest_options;  // nullptr: no REST API
  ControlPlane* control_plane;
  std::unique_ptr<NativeGrpcServer>* grpc;
  std::unique_ptr<RestServer>* rest;
};

void StopServers(ServerObject* self, double grace) {
  // Both listeners drain at once; the control plane answers what they ask
  // until both have stopped.
  std::thread rest_stop;
  if (self->rest != nullptr && *self->rest != nullptr) {
    RestServer* rest = self->rest->get();
    rest_stop = std::thread([rest, grace] { rest->Stop(grace); });
  }
  if (self->grpc != nullptr && *self->grpc != nullptr) (*self->grpc)->Stop(grace);
  if (rest_stop.joinable()) rest_stop.join();
  if (self->control_plane != nullptr) self->control_plane->Close();
}

void Server_dealloc(ServerObject* self) {
  Py_BEGIN_ALLOW_THREADS
  StopServers(self, 0);
  Py_END_ALLOW_THREADS
  delete self->rest;
  delete self->grpc;
  delete self->control_plane;
  delete self->rest_options;
  delete self->grpc_options;
  Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

bool StringList(PyObject* options, const char* key, std::vector<std::string>* out) {
  PyObject* list = Required(options, key);
  if (list == nullptr) return false;
  PyObject* iterator = PyObject_GetIter(list);
  if (iterator == nullptr) return false;
  while (PyObject* item = PyIter_Next(iterator)) {
    std::string text;
    const bool ok = ToString(item, &text);
    Py_DECREF(item);
    if (!ok) break;
    out->push_back(std::move(text));
  }
  Py_DECREF(iterator);
  return !PyErr_Occurred();
}

// Server(options): `options` is server_options.Options as a dict, plus
// grpc_addresses ([str]), grpc_threads (int), grpc_int_channel_arguments ([(str, int)]),
// grpc_str_channel_arguments ([(str, str)]), ssl ((key, cert, ca,
// client_verify) or None), metrics_path (str, "" for none) and
// server_version (str, what the Open Inference Protocol's ServerMetadata
// reports).
int Server_init(ServerObject* self, PyObject* args, PyObject*) {
  PyObject* options = nullptr;
  if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &options)) return -1;
  auto grpc = std::make_unique<NativeGrpcServerOptions>();
  int64_t max_fill_bytes = 0;
  if (!StringList(options, "grpc_addresses", &grpc->addresses) ||
      !RequiredBool(options, "enable_grpc_healthcheck_service",
                    &grpc->enable_health_check_service) ||
      !RequiredBool(options, "use_alts_credentials", &grpc->use_alts) ||
      !RequiredBool(options, "enable_signature_method_name_check",
                    &grpc->enable_signature_method_name_check) ||
      !RequiredBool(options, "enable_serialization_as_tensor_content",
                    &grpc->predict.tensor_content) ||
      !RequiredBool(options, "enforce_session_run_timeout",
                    &grpc->predict.enforce_session_run_timeout) ||
      !RequiredInt(options, "max_tensor_fill_bytes", &max_fill_bytes) ||
      !RequiredString(options, "server_version", &grpc->server_version)) {
    return -1;
  }
  int64_t grpc_threads = 0;
  if (!RequiredInt(options, "grpc_threads", &grpc_threads)) return -1;
  grpc->threads = static_cast<int>(grpc_threads);
  grpc->predict.max_tensor_fill_bytes = max_fill_bytes;
  PyObject* int_args = Required(options, "grpc_int_channel_arguments");
  PyObject* str_args = Required(options, "grpc_str_channel_arguments");
  PyObject* ssl = Required(options, "ssl");
  if (int_args == nullptr || str_args == nullptr || ssl == nullptr) return -1;
  for (Py_ssize_t i = 0; i < PySequence_Size(int_args); ++i) {
    PyObject* item = PySequence_GetItem(int_args, i);
    const char* key = nullptr;
    int value = 0;
    const bool ok = item != nullptr && PyArg_ParseTuple(item, "si", &key, &value);
    if (ok) grpc->int_channel_arguments.emplace_back(key, value);
    Py_XDECREF(item);
    if (!ok) return -1;
  }
  for (Py_ssize_t i = 0; i < PySequence_Size(str_args); ++i) {
    PyObject* item = PySequence_GetItem(str_args, i);
    const char* key = nullptr;
    const char* value = nullptr;
    const bool ok = item != nullptr && PyArg_ParseTuple(item, "ss", &key, &value);
    if (ok) grpc->string_channel_arguments.emplace_back(key, value);
    Py_XDECREF(item);
    if (!ok) return -1;
  }
  if (ssl != Py_None) {
    const char* key = nullptr;
    const char* cert = nullptr;
    const char* ca = nullptr;
    int verify = 0;
    if (!PyArg_ParseTuple(ssl, "sssp", &key, &cert, &ca, &verify)) return -1;
    grpc->use_ssl = true;
    grpc->server_key = key;
    grpc->server_cert = cert;
    grpc->custom_ca = ca;
    grpc->client_verify = verify != 0;
  }

  std::unique_ptr<RestServerOptions> rest;
  int64_t http_port = 0;
  if (!RequiredInt(options, "http_port", &http_port)) return -1;
  if (http_port > 0) {
    rest = std::make_unique<RestServerOptions>();
    int64_t threads = 0, connections = 0;
    if (!RequiredInt(options, "http_num_threads", &threads) ||
        !RequiredInt(options, "http_max_connections", &connections) ||
        !RequiredInt(options, "http_max_body_bytes", &rest->http.max_body_bytes) ||
        !RequiredInt(options, "http_read_timeout_in_ms", &rest->http.read_timeout_ms) ||
        !RequiredInt(options, "http_timeout_in_ms", &rest->api.timeout_in_ms) ||
        !RequiredBool(options, "http_enable_cors", &rest->enable_cors) ||
        !RequiredString(options, "metrics_path", &rest->metrics_path)) {
      return -1;
    }
    rest->http.port = static_cast<int>(http_port);
    rest->http.num_threads = static_cast<int>(threads);
    rest->http.max_connections = static_cast<int>(connections);
    rest->api.predict = grpc->predict;
    rest->open_inference.predict = grpc->predict;
    rest->open_inference.timeout_in_ms = rest->api.timeout_in_ms;
    rest->open_inference.server_version = grpc->server_version;
  }
  warmup_predict_options = grpc->predict;
  delete self->grpc_options;
  delete self->rest_options;
  self->grpc_options = grpc.release();
  self->rest_options = rest.release();
  if (self->control_plane == nullptr) self->control_plane = new ControlPlane();
  if (self->grpc == nullptr) self->grpc = new std::unique_ptr<NativeGrpcServer>();
  if (self->rest == nullptr) self->rest = new std::unique_ptr<RestServer>();
  return 0;
}

// start() -> ([bound gRPC port per address], REST port or 0).
PyObject* Server_start(ServerObject* self, PyObject*) {
  if (self->grpc_options == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "Server is not initialized");
    return nullptr;
  }
  absl::Status status;
  Py_BEGIN_ALLOW_THREADS
  if (!self->grpc_options->addresses.empty()) {
    status = NativeGrpcServer::Start(*self->grpc_options, serving_map, self->control_plane,
                                     self->grpc);
  }
  if (status.ok() && self->rest_options != nullptr) {
    status = RestServer::Start(*self->rest_options, serving_map.get(), self->control_plane,
                               self->rest);
    if (!status.ok()) StopServers(self, 0);
  }
  Py_END_ALLOW_THREADS
  if (!status.ok()) return SetError(status);
  std::vector<int> ports;
  if (*self->grpc != nullptr) ports = (*self->grpc)->bound_ports();
  PyObject* grpc_ports = PyList_New(static_cast<Py_ssize_t>(ports.size()));
  for (size_t i = 0; i < ports.size(); ++i) {
    PyList_SET_ITEM(grpc_ports, static_cast<Py_ssize_t>(i), PyLong_FromLong(ports[i]));
  }
  const int rest_port = *self->rest != nullptr ? (*self->rest)->port() : 0;
  return Py_BuildValue("(Ni)", grpc_ports, rest_port);
}

PyObject* Server_next_control_call(ServerObject* self, PyObject*) {
  if (self->control_plane == nullptr) Py_RETURN_NONE;
  ControlPlane::Call call;
  bool got = false;
  Py_BEGIN_ALLOW_THREADS
  got = self->control_plane->Next(&call);
  Py_END_ALLOW_THREADS
  if (!got) Py_RETURN_NONE;
  auto* object = PyObject_New(ControlCallObject, &ControlCallType);
  if (object == nullptr) {
    call.done(absl::InternalError("Out of memory"), "");
    return nullptr;
  }
  object->call = new ControlPlane::Call(std::move(call));
  return reinterpret_cast<PyObject*>(object);
}

PyObject* Server_enter_graceful_shutdown(ServerObject* self, PyObject*) {
  if (self->grpc != nullptr && *self->grpc != nullptr) (*self->grpc)->EnterGracefulShutdown();
  Py_RETURN_NONE;
}

PyObject* Server_stop(ServerObject* self, PyObject* args) {
  double grace = 0;
  if (!PyArg_ParseTuple(args, "d", &grace)) return nullptr;
  Py_BEGIN_ALLOW_THREADS
  StopServers(self, grace);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

PyMethodDef server_methods[] = {
    {"start", reinterpret_cast<PyCFunction>(Server_start), METH_NOARGS,
     "Binds and starts serving: ([gRPC port per address], REST port or 0)."},
    {"next_control_call", reinterpret_cast<PyCFunction>(Server_next_control_call), METH_NOARGS,
     "Waits for the next call for the control plane; None once stopped."},
    {"enter_graceful_shutdown",
     reinterpret_cast<PyCFunction>(Server_enter_graceful_shutdown), METH_NOARGS,
     "Health checks answer NOT_SERVING from now on."},
    {"stop", reinterpret_cast<PyCFunction>(Server_stop), METH_VARARGS,
     "Stops accepting; waits up to `grace` seconds for requests in flight."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject ServerType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ---------------------------------------------------------------- module

PyObject* LoadTensorflow(PyObject*, PyObject* args) {
  const char* path = nullptr;
  if (!PyArg_ParseTuple(args, "s", &path)) return nullptr;
  if (api == nullptr) {
    // Debian builds abseil with Mutex deadlock detection on, which gRPC's
    // every lock then pays for (a graph of lock orders); upstream's builds
    // have it off.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    std::unique_ptr<TfCApi> loaded;
    const absl::Status status = TfCApi::Load(path, /*load_if_absent=*/false, &loaded);
    if (!status.ok()) return SetError(status);
    api = std::move(loaded);
  }
  return PyUnicode_FromString(api->Version());
}

PyObject* SetVersions(PyObject*, PyObject* args) {
  const char* name = nullptr;
  PyObject* versions = nullptr;
  if (!PyArg_ParseTuple(args, "sO!", &name, &PyDict_Type, &versions)) return nullptr;
  ServingMap::Versions map;
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t position = 0;
  while (PyDict_Next(versions, &position, &key, &value)) {
    const long long version = PyLong_AsLongLong(key);
    if (version == -1 && PyErr_Occurred()) return nullptr;
    if (!PyObject_TypeCheck(value, &BundleType)) {
      PyErr_SetString(PyExc_TypeError, "set_versions() values must be Bundles");
      return nullptr;
    }
    auto* bundle = reinterpret_cast<BundleObject*>(value);
    if (bundle->bundle != nullptr && *bundle->bundle != nullptr) {
      map[version] = *bundle->bundle;
    }
  }
  const std::string model(name);
  Py_BEGIN_ALLOW_THREADS
  serving_map->SetVersions(model, std::move(map));
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

PyObject* SetLabels(PyObject*, PyObject* args) {
  const char* name = nullptr;
  PyObject* labels = nullptr;
  if (!PyArg_ParseTuple(args, "sO!", &name, &PyDict_Type, &labels)) return nullptr;
  std::map<std::string, int64_t> map;
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t position = 0;
  while (PyDict_Next(labels, &position, &key, &value)) {
    std::string label;
    if (!ToString(key, &label)) return nullptr;
    const long long version = PyLong_AsLongLong(value);
    if (version == -1 && PyErr_Occurred()) return nullptr;
    map[label] = version;
  }
  serving_map->SetLabels(name, std::move(map));
  Py_RETURN_NONE;
}

// set_unavailable(name, None) once a model is no longer configured, or
// set_unavailable(name, (latest_reason, [loading versions])).
PyObject* SetUnavailable(PyObject*, PyObject* args) {
  const char* name = nullptr;
  PyObject* why = nullptr;
  if (!PyArg_ParseTuple(args, "sO", &name, &why)) return nullptr;
  std::optional<ServingMap::Unavailable> unavailable;
  if (why != Py_None) {
    const char* reason = nullptr;
    PyObject* loading = nullptr;
    if (!PyArg_ParseTuple(why, "sO", &reason, &loading)) return nullptr;
    unavailable.emplace();
    unavailable->latest_reason = reason;
    PyObject* iterator = PyObject_GetIter(loading);
    if (iterator == nullptr) return nullptr;
    while (PyObject* item = PyIter_Next(iterator)) {
      unavailable->loading_versions.insert(PyLong_AsLongLong(item));
      Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return nullptr;
  }
  serving_map->SetUnavailable(name, std::move(unavailable));
  Py_RETURN_NONE;
}

// set_request_logging(name, None) when a model logs nothing, or
// set_request_logging(name, (filename_prefix, sampling_rate, [saved_model_tags])).
PyObject* SetRequestLogging(PyObject*, PyObject* args) {
  const char* name = nullptr;
  PyObject* config = nullptr;
  if (!PyArg_ParseTuple(args, "sO", &name, &config)) return nullptr;
  std::optional<ServerRequestLogger::ModelConfig> model_config;
  if (config != Py_None) {
    const char* prefix = nullptr;
    double rate = 0;
    PyObject* tags = nullptr;
    if (!PyArg_ParseTuple(config, "sdO", &prefix, &rate, &tags)) return nullptr;
    model_config.emplace();
    model_config->filename_prefix = prefix;
    model_config->sampling_rate = rate;
    PyObject* iterator = PyObject_GetIter(tags);
    if (iterator == nullptr) return nullptr;
    while (PyObject* item = PyIter_Next(iterator)) {
      std::string tag;
      const bool ok = ToString(item, &tag);
      Py_DECREF(item);
      if (!ok) break;
      model_config->saved_model_tags.push_back(std::move(tag));
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return nullptr;
  }
  ServerRequestLogger::Get().Update(name, std::move(model_config));
  Py_RETURN_NONE;
}

// next_request_logs(timeout_seconds, max_records): {filename_prefix:
// [TFRecord bytes]} queued by then (maybe none), in order per prefix, or None
// once closed and drained.
PyObject* NextRequestLogs(PyObject*, PyObject* args) {
  double timeout = 0;
  int max_records = 0;
  if (!PyArg_ParseTuple(args, "di", &timeout, &max_records)) return nullptr;
  std::optional<std::vector<ServerRequestLogger::Record>> records;
  Py_BEGIN_ALLOW_THREADS
  records = ServerRequestLogger::Get().Next(
      std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)),
      static_cast<size_t>(std::max(max_records, 1)));
  Py_END_ALLOW_THREADS
  if (!records.has_value()) Py_RETURN_NONE;
  PyObject* result = PyDict_New();
  if (result == nullptr) return nullptr;
  for (const ServerRequestLogger::Record& record : *records) {
    PyObject* prefix = PyUnicode_DecodeUTF8(
        record.filename_prefix.data(), static_cast<Py_ssize_t>(record.filename_prefix.size()),
        "replace");
    PyObject* bytes = PyBytes_FromStringAndSize(
        record.tfrecord.data(), static_cast<Py_ssize_t>(record.tfrecord.size()));
    PyObject* list = prefix == nullptr ? nullptr : PyDict_GetItemWithError(result, prefix);
    if (list == nullptr && prefix != nullptr && !PyErr_Occurred()) {
      list = PyList_New(0);
      if (list != nullptr && PyDict_SetItem(result, prefix, list) < 0) Py_CLEAR(list);
      Py_XDECREF(list);  // the dict holds it
    }
    const bool ok = list != nullptr && bytes != nullptr && PyList_Append(list, bytes) == 0;
    Py_XDECREF(prefix);
    Py_XDECREF(bytes);
    if (!ok) {
      Py_DECREF(result);
      return nullptr;
    }
  }
  return result;
}

PyObject* CloseRequestLogs(PyObject*, PyObject*) {
  ServerRequestLogger::Get().Close();
  Py_RETURN_NONE;
}

PyObject* RequestLogsDropped(PyObject*, PyObject*) {
  return PyLong_FromLongLong(ServerRequestLogger::Get().dropped());
}

// [(name, description, (label names), None | (scale, growth_factor,
// bucket_count))]: the families the native side records (None: a counter).
PyObject* MetricFamilies(PyObject*, PyObject*) {
  const std::vector<Metrics::Family> families = Metrics::Get().families();
  PyObject* result = PyList_New(static_cast<Py_ssize_t>(families.size()));
  for (size_t i = 0; i < families.size(); ++i) {
    const Metrics::Family& family = families[i];
    PyObject* labels = PyTuple_New(static_cast<Py_ssize_t>(family.label_names.size()));
    for (size_t j = 0; j < family.label_names.size(); ++j) {
      PyTuple_SET_ITEM(labels, static_cast<Py_ssize_t>(j),
                       PyUnicode_FromString(family.label_names[j].c_str()));
    }
    PyObject* buckets = family.sampler
                            ? Py_BuildValue("(ddi)", family.scale, family.growth_factor,
                                            family.bucket_count)
                            : (Py_INCREF(Py_None), Py_None);
    PyList_SET_ITEM(result, static_cast<Py_ssize_t>(i),
                    Py_BuildValue("(ssNN)", family.name.c_str(), family.description.c_str(),
                                  labels, buckets));
  }
  return result;
}

PyObject* EnableMetrics(PyObject*, PyObject* args) {
  PyObject* samplers = nullptr;
  if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &samplers)) return nullptr;
  std::map<std::string, std::vector<double>> limits;
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t position = 0;
  while (PyDict_Next(samplers, &position, &key, &value)) {
    std::string name;
    if (!ToString(key, &name)) return nullptr;
    PyObject* iterator = PyObject_GetIter(value);
    if (iterator == nullptr) return nullptr;
    std::vector<double>& family = limits[name];
    while (PyObject* item = PyIter_Next(iterator)) {
      family.push_back(PyFloat_AsDouble(item));
      Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return nullptr;
  }
  Metrics::Get().Enable(std::move(limits));
  Py_RETURN_NONE;
}

PyObject* Labels(const Metrics::Labels& labels) {
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(labels.size()));
  for (size_t i = 0; i < labels.size(); ++i) {
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i),
                     PyUnicode_DecodeUTF8(labels[i].data(),
                                          static_cast<Py_ssize_t>(labels[i].size()),
                                          "replace"));
  }
  return tuple;
}

// {family: {labels: count}} and {family: {labels: (bucket_counts, sum, count)}}.
PyObject* DrainMetrics(PyObject*, PyObject*) {
  Metrics::Snapshot snapshot;
  Py_BEGIN_ALLOW_THREADS
  snapshot = Metrics::Get().Drain();
  Py_END_ALLOW_THREADS
  PyObject* counters = PyDict_New();
  for (const auto& [family, cells] : snapshot.counters) {
    PyObject* dict = PyDict_New();
    for (const auto& [labels, value] : cells) {
      PyObject* k = Labels(labels);
      PyObject* v = PyLong_FromLongLong(value);
      PyDict_SetItem(dict, k, v);
      Py_DECREF(k);
      Py_DECREF(v);
    }
    PyDict_SetItemString(counters, family.c_str(), dict);
    Py_DECREF(dict);
  }
  PyObject* samplers = PyDict_New();
  for (const auto& [family, cells] : snapshot.samplers) {
    PyObject* dict = PyDict_New();
    for (const auto& [labels, cell] : cells) {
      PyObject* buckets = PyList_New(static_cast<Py_ssize_t>(cell.bucket_counts.size()));
      for (size_t i = 0; i < cell.bucket_counts.size(); ++i) {
        PyList_SET_ITEM(buckets, static_cast<Py_ssize_t>(i),
                        PyLong_FromLongLong(cell.bucket_counts[i]));
      }
      PyObject* k = Labels(labels);
      PyObject* v = Py_BuildValue("(NdL)", buckets, cell.sum,
                                  static_cast<long long>(cell.count));
      PyDict_SetItem(dict, k, v);
      Py_DECREF(k);
      Py_DECREF(v);
    }
    PyDict_SetItemString(samplers, family.c_str(), dict);
    Py_DECREF(dict);
  }
  return Py_BuildValue("(NN)", counters, samplers);
}

PyMethodDef module_methods[] = {
    {"load_tensorflow", LoadTensorflow, METH_VARARGS,
     "Resolves the TensorFlow C API from the loaded library at `path`; returns its version."},
    {"set_versions", SetVersions, METH_VARARGS,
     "Replaces the natively served versions of a model: {version: Bundle}."},
    {"set_labels", SetLabels, METH_VARARGS,
     "Replaces the version labels of a model: {label: version}."},
    {"set_unavailable", SetUnavailable, METH_VARARGS,
     "What ServerCore says of a configured model that serves nothing (None: not configured)."},
    {"metric_families", MetricFamilies, METH_NOARGS,
     "[(name, description, labels, None | (scale, growth, count))] recorded natively."},
    {"enable_metrics", EnableMetrics, METH_VARARGS,
     "Starts recording metrics; takes {sampler family: bucket limits}."},
    {"drain_metrics", DrainMetrics, METH_NOARGS,
     "(counters, samplers) recorded since the last drain."},
    {"set_request_logging", SetRequestLogging, METH_VARARGS,
     "A model's request logging: None, or (filename_prefix, sampling_rate, tags)."},
    {"next_request_logs", NextRequestLogs, METH_VARARGS,
     "{filename_prefix: [PredictionLog bytes]} queued within the timeout; None once closed."},
    {"close_request_logs", CloseRequestLogs, METH_NOARGS,
     "Queues no more records; next_request_logs drains the rest, then returns None."},
    {"request_logs_dropped", RequestLogsDropped, METH_NOARGS,
     "Records dropped because the queue was full, since the start."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_native_data_plane",
                          "The native data plane (see native_data_plane.py).",
                          -1, module_methods};

}  // namespace
}  // namespace serving
}  // namespace tensorflow

extern "C" __attribute__((visibility("default"))) PyObject* PyInit__native_data_plane() {
  using namespace tensorflow::serving;  // NOLINT
  BundleType.tp_name = "_native_data_plane.Bundle";
  BundleType.tp_basicsize = sizeof(BundleObject);
  BundleType.tp_flags = Py_TPFLAGS_DEFAULT;
  BundleType.tp_doc = "A loaded version the native plane may serve.";
  BundleType.tp_new = PyType_GenericNew;
  BundleType.tp_init = reinterpret_cast<initproc>(Bundle_init);
  BundleType.tp_dealloc = reinterpret_cast<destructor>(Bundle_dealloc);
  BundleType.tp_methods = bundle_methods;
  ControlCallType.tp_name = "_native_data_plane.ControlCall";
  ControlCallType.tp_basicsize = sizeof(ControlCallObject);
  ControlCallType.tp_flags = Py_TPFLAGS_DEFAULT;
  ControlCallType.tp_doc = "A call the native plane hands to the control plane.";
  ControlCallType.tp_dealloc = reinterpret_cast<destructor>(ControlCall_dealloc);
  ControlCallType.tp_methods = control_call_methods;
  ControlCallType.tp_getset = control_call_getset;
  ServerType.tp_name = "_native_data_plane.Server";
  ServerType.tp_basicsize = sizeof(ServerObject);
  ServerType.tp_flags = Py_TPFLAGS_DEFAULT;
  ServerType.tp_doc = "The native gRPC and HTTP/REST listeners.";
  ServerType.tp_new = PyType_GenericNew;
  ServerType.tp_init = reinterpret_cast<initproc>(Server_init);
  ServerType.tp_dealloc = reinterpret_cast<destructor>(Server_dealloc);
  ServerType.tp_methods = server_methods;
  if (PyType_Ready(&BundleType) < 0 || PyType_Ready(&ServerType) < 0 ||
      PyType_Ready(&ControlCallType) < 0) {
    return nullptr;
  }
  PyObject* module = PyModule_Create(&module_def);
  if (module == nullptr) return nullptr;
  Py_INCREF(&BundleType);
  Py_INCREF(&ServerType);
  if (PyModule_AddObject(module, "Bundle", reinterpret_cast<PyObject*>(&BundleType)) < 0 ||
      PyModule_AddObject(module, "Server", reinterpret_cast<PyObject*>(&ServerType)) < 0) {
    Py_DECREF(module);
    return nullptr;
  }
  return module;
}

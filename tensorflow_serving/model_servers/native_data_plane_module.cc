// _native_data_plane: the Python binding of the native data plane, driven by
// native_data_plane.py. It exposes just what the Python control plane needs:
//
//   load_tensorflow(path) -> version   resolve the C API of the loaded library
//   Bundle(abi_id, session, operations, signature_defs, run_options,
//          deadline_run_options, batching)
//       .retire()                      wait until no request holds the bundle
//       .not_native()                  {signature: why Python serves it}
//   set_versions(name, {version: Bundle}); set_labels(name, {label: version})
//   Server(python_target, addresses, int_args, str_args, method_name_check,
//          tensor_content, enforce_session_run_timeout, max_tensor_fill_bytes,
//          ssl).start() / .stop(grace) / .counts()
//   enable_metrics({sampler: bucket limits}); drain_metrics()
//
// Nothing here runs on the request path: requests never enter Python.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "tensorflow_serving/batching/batching_session.h"
#include "tensorflow_serving/core/serving_map.h"
#include "tensorflow_serving/model_servers/native_grpc_server.h"
#include "tensorflow_serving/model_servers/pybind_conduit.h"
#include "tensorflow_serving/servables/tensorflow/predict_util.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"
#include "tensorflow_serving/util/monitoring.h"

namespace tensorflow {
namespace serving {
namespace {

std::unique_ptr<TfCApi> api;
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

bool GetInt(PyObject* dict, const char* key, int64_t* out) {
  PyObject* value = PyDict_GetItemString(dict, key);  // borrowed
  if (value == nullptr || value == Py_None) return true;
  *out = PyLong_AsLongLong(value);
  return !(*out == -1 && PyErr_Occurred());
}

bool GetBool(PyObject* dict, const char* key, bool* out) {
  PyObject* value = PyDict_GetItemString(dict, key);
  if (value == nullptr || value == Py_None) return true;
  const int truth = PyObject_IsTrue(value);
  if (truth < 0) return false;
  *out = truth != 0;
  return true;
}

bool ParseBatchingOptions(PyObject* dict, BatchingOptions* options) {
  if (!PyDict_Check(dict)) {
    PyErr_SetString(PyExc_TypeError, "batching options must be a dict");
    return false;
  }
  int64_t threads = options->num_batch_threads;
  if (!GetInt(dict, "max_batch_size", &options->max_batch_size) ||
      !GetInt(dict, "batch_timeout_micros", &options->batch_timeout_micros) ||
      !GetInt(dict, "max_enqueued_batches", &options->max_enqueued_batches) ||
      !GetInt(dict, "num_batch_threads", &threads) ||
      !GetBool(dict, "pad_variable_length_inputs", &options->pad_variable_length_inputs) ||
      !GetBool(dict, "enable_large_batch_splitting", &options->enable_large_batch_splitting) ||
      !GetInt(dict, "max_execution_batch_size", &options->max_execution_batch_size)) {
    return false;
  }
  options->num_batch_threads = static_cast<int>(threads);
  PyObject* name = PyDict_GetItemString(dict, "thread_pool_name");
  if (name != nullptr && name != Py_None && !ToString(name, &options->thread_pool_name)) {
    return false;
  }
  PyObject* sizes = PyDict_GetItemString(dict, "allowed_batch_sizes");
  if (sizes != nullptr && sizes != Py_None) {
    PyObject* iterator = PyObject_GetIter(sizes);
    if (iterator == nullptr) return false;
    while (PyObject* item = PyIter_Next(iterator)) {
      options->allowed_batch_sizes.push_back(PyLong_AsLongLong(item));
      Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return false;
  }
  return true;
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

PyObject* Bundle_not_native(BundleObject* self, PyObject* args) {
  const char* name = nullptr;
  if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
  if (self->bundle == nullptr || *self->bundle == nullptr) Py_RETURN_NONE;
  const SavedModelBundle::Signature* sig = (*self->bundle)->FindSignature(name);
  if (sig == nullptr || sig->native) Py_RETURN_NONE;
  return PyUnicode_FromString(sig->why_not_native.c_str());
}

PyMethodDef bundle_methods[] = {
    {"retire", reinterpret_cast<PyCFunction>(Bundle_retire), METH_NOARGS,
     "Stops serving the bundle natively; returns once no request holds it."},
    {"not_native", reinterpret_cast<PyCFunction>(Bundle_not_native), METH_VARARGS,
     "Why a signature is left to the Python plane, or None."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject BundleType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ---------------------------------------------------------------- Server

struct ServerObject {
  PyObject_HEAD
  NativeGrpcServerOptions* options;
  std::unique_ptr<NativeGrpcServer>* server;
};

void Server_dealloc(ServerObject* self) {
  if (self->server != nullptr && *self->server != nullptr) {
    Py_BEGIN_ALLOW_THREADS
    (*self->server)->Stop(0);
    Py_END_ALLOW_THREADS
  }
  delete self->server;
  delete self->options;
  Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

int Server_init(ServerObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"python_target",
                                 "addresses",
                                 "int_args",
                                 "str_args",
                                 "method_name_check",
                                 "tensor_content",
                                 "enforce_session_run_timeout",
                                 "max_tensor_fill_bytes",
                                 "ssl",
                                 nullptr};
  const char* target = nullptr;
  PyObject* addresses = nullptr;
  PyObject* int_args = nullptr;
  PyObject* str_args = nullptr;
  int method_name_check = 0;
  int tensor_content = 0;
  int enforce_timeout = 1;
  long long max_fill_bytes = 64 << 20;
  PyObject* ssl = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sO!O!O!pppL|O", const_cast<char**>(kwlist),
                                   &target, &PyList_Type, &addresses, &PyList_Type, &int_args,
                                   &PyList_Type, &str_args, &method_name_check,
                                   &tensor_content, &enforce_timeout, &max_fill_bytes, &ssl)) {
    return -1;
  }
  auto options = std::make_unique<NativeGrpcServerOptions>();
  options->python_target = target;
  options->enable_signature_method_name_check = method_name_check != 0;
  options->predict.tensor_content = tensor_content != 0;
  options->predict.enforce_session_run_timeout = enforce_timeout != 0;
  options->predict.max_tensor_fill_bytes = max_fill_bytes;
  for (Py_ssize_t i = 0; i < PyList_Size(addresses); ++i) {
    std::string address;
    if (!ToString(PyList_GetItem(addresses, i), &address)) return -1;
    options->addresses.push_back(address);
  }
  for (Py_ssize_t i = 0; i < PyList_Size(int_args); ++i) {
    const char* key = nullptr;
    int value = 0;
    if (!PyArg_ParseTuple(PyList_GetItem(int_args, i), "si", &key, &value)) return -1;
    options->int_channel_arguments.emplace_back(key, value);
  }
  for (Py_ssize_t i = 0; i < PyList_Size(str_args); ++i) {
    const char* key = nullptr;
    const char* value = nullptr;
    if (!PyArg_ParseTuple(PyList_GetItem(str_args, i), "ss", &key, &value)) return -1;
    options->string_channel_arguments.emplace_back(key, value);
  }
  if (ssl != Py_None) {
    const char* key = nullptr;
    const char* cert = nullptr;
    const char* ca = nullptr;
    int verify = 0;
    if (!PyArg_ParseTuple(ssl, "sssp", &key, &cert, &ca, &verify)) return -1;
    options->use_ssl = true;
    options->server_key = key;
    options->server_cert = cert;
    options->custom_ca = ca;
    options->client_verify = verify != 0;
  }
  delete self->options;
  self->options = options.release();
  if (self->server == nullptr) self->server = new std::unique_ptr<NativeGrpcServer>();
  return 0;
}

PyObject* Server_start(ServerObject* self, PyObject*) {
  if (self->options == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "Server is not initialized");
    return nullptr;
  }
  absl::Status status;
  Py_BEGIN_ALLOW_THREADS
  status = NativeGrpcServer::Start(*self->options, serving_map, self->server);
  Py_END_ALLOW_THREADS
  if (!status.ok()) return SetError(status);
  const std::vector<int>& ports = (*self->server)->bound_ports();
  PyObject* result = PyList_New(static_cast<Py_ssize_t>(ports.size()));
  for (size_t i = 0; i < ports.size(); ++i) {
    PyList_SET_ITEM(result, static_cast<Py_ssize_t>(i), PyLong_FromLong(ports[i]));
  }
  return result;
}

PyObject* Server_stop(ServerObject* self, PyObject* args) {
  double grace = 0;
  if (!PyArg_ParseTuple(args, "d", &grace)) return nullptr;
  if (self->server != nullptr && *self->server != nullptr) {
    Py_BEGIN_ALLOW_THREADS
    (*self->server)->Stop(grace);
    Py_END_ALLOW_THREADS
  }
  Py_RETURN_NONE;
}

PyObject* Server_counts(ServerObject* self, PyObject*) {
  if (self->server == nullptr || *self->server == nullptr) return PyDict_New();
  const NativeGrpcServer::Counts counts = (*self->server)->counts();
  PyObject* result = PyDict_New();
  for (int m = 0; m < PredictionServiceImpl::kNumMethods; ++m) {
    const auto method = static_cast<PredictionServiceImpl::Method>(m);
    PyObject* pair = Py_BuildValue("(KK)", static_cast<unsigned long long>(counts.native[m]),
                                   static_cast<unsigned long long>(counts.relayed[m]));
    PyDict_SetItemString(result, PredictionServiceImpl::MethodName(method), pair);
    Py_DECREF(pair);
  }
  PyObject* other = PyLong_FromUnsignedLongLong(counts.other_relayed);
  PyDict_SetItemString(result, "other_relayed", other);
  Py_DECREF(other);
  return result;
}

PyMethodDef server_methods[] = {
    {"start", reinterpret_cast<PyCFunction>(Server_start), METH_NOARGS,
     "Binds and starts serving; returns the bound port of each address."},
    {"stop", reinterpret_cast<PyCFunction>(Server_stop), METH_VARARGS,
     "Stops accepting calls; waits up to `grace` seconds for calls in flight."},
    {"counts", reinterpret_cast<PyCFunction>(Server_counts), METH_NOARGS,
     "{method: (native, relayed), ..., 'other_relayed': n}: calls so far."},
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

PyObject* Clear(PyObject*, PyObject*) {
  Py_BEGIN_ALLOW_THREADS
  serving_map->Clear();
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
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
  Monitoring::Get().Enable(std::move(limits));
  Py_RETURN_NONE;
}

PyObject* Labels(const Monitoring::Labels& labels) {
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
  Monitoring::Snapshot snapshot;
  Py_BEGIN_ALLOW_THREADS
  snapshot = Monitoring::Get().Drain();
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
    {"clear", Clear, METH_NOARGS, "Forgets every model."},
    {"enable_metrics", EnableMetrics, METH_VARARGS,
     "Starts recording metrics; takes {sampler family: bucket limits}."},
    {"drain_metrics", DrainMetrics, METH_NOARGS,
     "(counters, samplers) recorded since the last drain."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_native_data_plane",
                          "The native gRPC data plane (see native_data_plane.py).",
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
  ServerType.tp_name = "_native_data_plane.Server";
  ServerType.tp_basicsize = sizeof(ServerObject);
  ServerType.tp_flags = Py_TPFLAGS_DEFAULT;
  ServerType.tp_doc = "The native gRPC listener.";
  ServerType.tp_new = PyType_GenericNew;
  ServerType.tp_init = reinterpret_cast<initproc>(Server_init);
  ServerType.tp_dealloc = reinterpret_cast<destructor>(Server_dealloc);
  ServerType.tp_methods = server_methods;
  if (PyType_Ready(&BundleType) < 0 || PyType_Ready(&ServerType) < 0) return nullptr;
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

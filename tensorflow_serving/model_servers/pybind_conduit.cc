#include "tensorflow_serving/model_servers/pybind_conduit.h"

#include <typeinfo>

// pybind11 matches C++ types by their type_info name ("10TF_Session"), so
// these stand-ins (never instantiated, hidden from other libraries) name the
// C API's opaque structs. This file must not include the C API headers.
struct __attribute__((visibility("hidden"))) TF_Session {
  int unused;
};
struct __attribute__((visibility("hidden"))) TF_Operation {
  int unused;
};

namespace tensorflow {
namespace serving {

void* BorrowPointer(PyObject* object, ConduitType type, const char* abi_id) {
  const std::type_info& info =
      type == ConduitType::kSession ? typeid(TF_Session) : typeid(TF_Operation);
  PyObject* capsule = PyCapsule_New(const_cast<std::type_info*>(&info),
                                    typeid(std::type_info).name(), nullptr);
  if (capsule == nullptr) return nullptr;
  PyObject* result = PyObject_CallMethod(object, "_pybind11_conduit_v1_", "yOy", abi_id,
                                         capsule, "raw_pointer_ephemeral");
  Py_DECREF(capsule);
  if (result == nullptr) return nullptr;
  void* pointer = nullptr;
  if (PyCapsule_CheckExact(result)) {
    pointer = PyCapsule_GetPointer(result, PyCapsule_GetName(result));
  }
  Py_DECREF(result);
  if (pointer == nullptr && !PyErr_Occurred()) {
    PyErr_Format(PyExc_TypeError, "cannot borrow the %s inside a %s (pybind11 ABI %s)",
                 type == ConduitType::kSession ? "TF_Session" : "TF_Operation",
                 Py_TYPE(object)->tp_name, abi_id);
  }
  return pointer;
}

}  // namespace serving
}  // namespace tensorflow

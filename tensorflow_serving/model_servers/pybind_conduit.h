// Borrows the C pointer inside a TensorFlow Python object (a TF_Session or a
// TF_Operation) through pybind11's cross-extension "conduit" protocol
// (_pybind11_conduit_v1_), which TensorFlow's pybind11 modules implement for
// exactly this: handing their C++ objects to other extension modules.

#ifndef TENSORFLOW_SERVING_MODEL_SERVERS_PYBIND_CONDUIT_H_
#define TENSORFLOW_SERVING_MODEL_SERVERS_PYBIND_CONDUIT_H_

#include <Python.h>

namespace tensorflow {
namespace serving {

enum class ConduitType { kSession, kOperation };

// The pointer, or nullptr with a Python exception set. `abi_id` is the
// pybind11 platform ABI id TensorFlow's modules were built with (the
// native_data_plane.py side reads it from pybind11's internals key).
void* BorrowPointer(PyObject* object, ConduitType type, const char* abi_id);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_MODEL_SERVERS_PYBIND_CONDUIT_H_

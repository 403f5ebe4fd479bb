// A TfCApi whose tensors are plain heap buffers, for C++ tests of the code
// that only moves tensor bytes around (encoders, batching) without
// TensorFlow. Sessions are not faked: the tests pass their own run function.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_FAKE_TF_C_API_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_FAKE_TF_C_API_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"

namespace tensorflow {
namespace serving {

// The fake C API (a process-wide instance).
const TfCApi& FakeTfCApi();

// A tensor of `dtype` and `dims` holding `values` (numeric) or `strings`.
TfTensor FakeTensor(TF_DataType dtype, const std::vector<int64_t>& dims,
                    const std::vector<float>& values);
TfTensor FakeStringTensor(const std::vector<int64_t>& dims,
                          const std::vector<std::string>& strings);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_FAKE_TF_C_API_H_

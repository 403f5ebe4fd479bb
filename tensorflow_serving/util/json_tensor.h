// JSON <-> tensors for the REST API (upstream's util/json_tensor.h).
//
// Request bodies are read with RapidJSON 1.1.0, the library and version
// upstream's server uses, with upstream's flags (iterative, so any nesting
// depth is safe; NaN and Infinity accepted; anything after the root value
// ignored), so parse errors, their offsets and every number mean what they
// mean to upstream. Answers are written with RapidJSON's PrettyWriter in
// upstream's layout, floats with upstream's six-digits-when-they-round-trip
// rule.
//
// Predict requests come in two layouts: row ("instances": one entry per
// example, stacked into one tensor per input) and columnar ("inputs": one
// value per named input). Each JSON value becomes a tensor of the dtype the
// signature's TensorInfo declares (a float input takes any number, an int32
// input only integers that fit, a string input text or {"b64": ...}); shapes
// come from the JSON nesting and are not compared with the signature. The
// answer mirrors the request: "predictions" for rows, "outputs" for columns;
// string outputs whose alias ends in "_bytes" are written as {"b64": ...}.
//
// Where upstream's order is a protobuf map's (unspecified), names are taken
// in sorted order, so answers never depend on hashing.
//
// Every function here is safe on hostile input: nothing recurses on the
// JSON's nesting, nothing is allocated for a shape before the values that
// justify it have been read, and a declared output shape is filled only up to
// a byte limit.

#ifndef TENSORFLOW_SERVING_UTIL_JSON_TENSOR_H_
#define TENSORFLOW_SERVING_UTIL_JSON_TENSOR_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"

namespace tensorflow {
namespace serving {

// The layout of a predict request, which its answer repeats.
enum class JsonPredictRequestFormat {
  kInvalid,
  kRow,       // {"instances": [...]} -> {"predictions": [...]}
  kColumnar,  // {"inputs": ...} -> {"outputs": ...}
};

// The signature's inputs, keyed by alias, for a signature name ("" for the
// default signature). Its error is returned as is.
using TensorInfoMapGetter = std::function<absl::Status(
    const std::string& signature_name, google::protobuf::Map<std::string, TensorInfo>* infos)>;

// Fills `request`'s model_spec.signature_name (when the body names one) and
// inputs from a predict body, and sets `format` to its layout. Errors are
// INVALID_ARGUMENT with upstream's texts, UNIMPLEMENTED for an input dtype
// JSON cannot carry, or whatever `get_tensorinfo_map` returns.
//
// An input nested deeper than TensorFlow or the server can hold still comes
// back as a TensorProto of that rank; decoding it is what refuses it
// ("tensor parsing error: <alias>"), as for any other request.
absl::Status FillPredictRequestFromJson(absl::string_view json,
                                        const TensorInfoMapGetter& get_tensorinfo_map,
                                        PredictRequest* request,
                                        JsonPredictRequestFormat* format);

// Fills a classify or regress request's model_spec.signature_name (when the
// body names one) and its input: "examples" become tf.Examples, "context"
// (optional) their shared context.
absl::Status FillClassificationRequestFromJson(absl::string_view json,
                                               ClassificationRequest* request);
absl::Status FillRegressionRequestFromJson(absl::string_view json, RegressionRequest* request);


// Writes a predict answer's JSON from its outputs (a PredictResponse's
// `outputs`), in `format`'s layout, in alias order. Each output is read as
// TensorFlow's Tensor::FromProto reads it: from tensor_content when present,
// else from its typed *_val field, a short one filled with its last value. A
// fill beyond `max_fill_bytes` (negative: no limit), a shape TensorFlow would
// refuse or content of the wrong size is INVALID_ARGUMENT "tensor parsing
// error: <alias>", before anything is written; a dtype JSON cannot carry is
// upstream's "Failed to write JSON value for tensor type: <dtype>".
absl::Status MakeJsonFromTensors(const google::protobuf::Map<std::string, TensorProto>& tensors,
                                 JsonPredictRequestFormat format, std::string* json,
                                 int64_t max_fill_bytes);

// {"results": [[[label, score], ...], ...]}, one list per example.
absl::Status MakeJsonFromClassificationResult(const ClassificationResult& result,
                                              std::string* json);

// {"results": [value, ...]}, one value per example.
absl::Status MakeJsonFromRegressionResult(const RegressionResult& result, std::string* json);

// Appends {"error": <status's message>} to `json`; nothing for an OK status.
void MakeJsonFromStatus(const absl::Status& status, std::string* json);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_JSON_TENSOR_H_

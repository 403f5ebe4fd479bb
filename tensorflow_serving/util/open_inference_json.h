// The Open Inference Protocol's REST bodies (inference_rest.md) <-> its
// gRPC messages, on RapidJSON, with the binary tensor data extension:
// a request whose Inference-Header-Content-Length header gives the length
// of its JSON part carries, after it, the bytes of every input whose
// parameters give binary_data_size, in input order; a response carries, after
// its JSON, the bytes of every output the request asked for as binary
// (output parameter binary_data, or request parameter binary_data_output).
//
// Tensor data always lands in raw_input_contents / comes from
// raw_output_contents: fixed-size elements little-endian, BYTES elements each
// a 4-byte little-endian length and its bytes (also their binary format).
// JSON `data` may be nested or flat, in row-major order; its values must be
// of the datatype (integers in range for integer types, booleans for BOOL,
// strings for BYTES); FP16 data must be binary.

#ifndef TENSORFLOW_SERVING_UTIL_OPEN_INFERENCE_JSON_H_
#define TENSORFLOW_SERVING_UTIL_OPEN_INFERENCE_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpc_service.pb.h"
#include "model_config.pb.h"

namespace tensorflow {
namespace serving {

// Request parameters of the binary tensor data extension.
inline constexpr char kBinaryDataParameter[] = "binary_data";
inline constexpr char kBinaryDataOutputParameter[] = "binary_data_output";
inline constexpr char kBinaryDataSizeParameter[] = "binary_data_size";

// Parses an inference request body (`header_length` < 0: all JSON) into
// `request`, whose model name and version the caller sets from the path.
// INVALID_ARGUMENT, saying what is wrong, for anything malformed.
absl::Status ParseInferRequestJson(absl::string_view body, int64_t header_length,
                                   inference::ModelInferRequest* request);

// The response body for `request`'s answer `response` (whose raw output
// contents it consumes). `header_length` is set to the JSON part's length
// when binary data follows it, else to -1.
absl::Status WriteInferResponseJson(const inference::ModelInferRequest& request,
                                    inference::ModelInferResponse* response, std::string* body,
                                    int64_t* header_length);

std::string ServerMetadataJson(const inference::ServerMetadataResponse& metadata);
std::string ModelMetadataJson(const inference::ModelMetadataResponse& metadata);
// Triton's JSON of the fields GetModelInferConfig sets (name, platform,
// max_batch_size, input and output with name, data_type and dims).
std::string ModelConfigJson(const inference::ModelConfig& config);
// {"name": name, "ready": ready}.
std::string ModelReadyJson(const std::string& name, bool ready);
// {"error": message}.
std::string ErrorJson(absl::string_view message);

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_OPEN_INFERENCE_JSON_H_

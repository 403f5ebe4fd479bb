#include "tensorflow_serving/servables/tensorflow/open_inference.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow_serving/batching/batching_session.h"
#include "tensorflow_serving/core/server_request_logger.h"

namespace tensorflow {
namespace serving {

namespace {

struct DatatypeInfo {
  DataType dtype;
  const char* name;
  int size;  // bytes per element of raw data; 0: length-prefixed
  inference::DataType config_type;
};

constexpr DatatypeInfo kDatatypes[] = {
    {DT_BOOL, "BOOL", 1, inference::TYPE_BOOL},
    {DT_UINT8, "UINT8", 1, inference::TYPE_UINT8},
    {DT_UINT16, "UINT16", 2, inference::TYPE_UINT16},
    {DT_UINT32, "UINT32", 4, inference::TYPE_UINT32},
    {DT_UINT64, "UINT64", 8, inference::TYPE_UINT64},
    {DT_INT8, "INT8", 1, inference::TYPE_INT8},
    {DT_INT16, "INT16", 2, inference::TYPE_INT16},
    {DT_INT32, "INT32", 4, inference::TYPE_INT32},
    {DT_INT64, "INT64", 8, inference::TYPE_INT64},
    {DT_HALF, "FP16", 2, inference::TYPE_FP16},
    {DT_FLOAT, "FP32", 4, inference::TYPE_FP32},
    {DT_DOUBLE, "FP64", 8, inference::TYPE_FP64},
    {DT_STRING, "BYTES", 0, inference::TYPE_STRING},
};

const DatatypeInfo* InfoOf(DataType dtype) {
  for (const DatatypeInfo& info : kDatatypes) {
    if (info.dtype == dtype) return &info;
  }
  return nullptr;
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

absl::Status NoDatatype(const char* kind, const std::string& name, DataType dtype) {
  return absl::UnimplementedError(absl::StrCat(
      kind, " '", name, "' is ", DataType_Name(dtype),
      ", which has no Open Inference Protocol datatype",
      std::strcmp(kind, "output") == 0
          ? "; request the other outputs by name to leave it out"
          : ""));
}

// The number of elements of `shape`, or an error for a negative dimension or
// a count that does not fit.
absl::Status ElementCount(const std::string& name,
                          const google::protobuf::RepeatedField<int64_t>& shape,
                          int64_t* count) {
  *count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "': shape ", ShapeString(shape), " has a negative dimension"));
    }
    if (dim > 0 && *count > INT64_MAX / 16 / dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", name, "': shape ", ShapeString(shape), " is too large"));
    }
    *count *= dim;
  }
  return absl::OkStatus();
}

absl::Status WrongSize(const std::string& name, const char* what, size_t got,
                       const DatatypeInfo& info,
                       const google::protobuf::RepeatedField<int64_t>& shape, int64_t needed) {
  return absl::InvalidArgumentError(absl::StrCat("input '", name, "': ", got, " ", what,
                                                 " for shape ", ShapeString(shape), " of ",
                                                 info.name, ", which needs ", needed));
}

uint32_t LittleEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | static_cast<uint32_t>(u[1]) << 8 |
         static_cast<uint32_t>(u[2]) << 16 | static_cast<uint32_t>(u[3]) << 24;
}

void AppendLittleEndian32(uint32_t value, std::string* out) {
  const char bytes[4] = {static_cast<char>(value), static_cast<char>(value >> 8),
                         static_cast<char>(value >> 16), static_cast<char>(value >> 24)};
  out->append(bytes, 4);
}

// Raw v2 data into `tensor`: fixed-size elements as tensor_content (moved),
// BYTES elements (each a 4-byte little-endian length, then the bytes) as
// string_val.
absl::Status FromRaw(const inference::ModelInferRequest::InferInputTensor& input,
                     const DatatypeInfo& info, int64_t count, std::string* raw,
                     TensorProto* tensor) {
  const std::string& name = input.name();
  if (info.size > 0) {
    const uint64_t needed = static_cast<uint64_t>(count) * info.size;
    if (raw->size() != needed) {
      return WrongSize(name, "bytes of raw data", raw->size(), info, input.shape(),
                       static_cast<int64_t>(needed));
    }
    if (info.dtype == DT_BOOL) {
      for (char c : *raw) {
        if (c != 0 && c != 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("input '", name, "': BOOL data must be bytes 0 or 1"));
        }
      }
    }
    *tensor->mutable_tensor_content() = std::move(*raw);
    return absl::OkStatus();
  }
  auto* strings = tensor->mutable_string_val();
  size_t at = 0;
  while (at < raw->size()) {
    if (strings->size() == count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "': raw BYTES data holds more than the ", count,
          " elements of shape ", ShapeString(input.shape())));
    }
    if (raw->size() - at < 4 || raw->size() - at - 4 < LittleEndian32(raw->data() + at)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "': raw BYTES data ends inside element ", strings->size(),
          " (each element is a 4-byte little-endian length and that many bytes)"));
    }
    const uint32_t length = LittleEndian32(raw->data() + at);
    strings->Add()->assign(raw->data() + at + 4, length);
    at += 4 + static_cast<size_t>(length);
  }
  if (strings->size() != count) {
    return WrongSize(name, "elements of raw BYTES data", strings->size(), info, input.shape(),
                     count);
  }
  return absl::OkStatus();
}

template <typename From, typename To>
absl::Status CopyValues(const std::string& name, const char* field,
                        const google::protobuf::RepeatedField<From>& values, int64_t count,
                        const DatatypeInfo& info,
                        const google::protobuf::RepeatedField<int64_t>& shape,
                        google::protobuf::RepeatedField<To>* out, int64_t low, int64_t high) {
  if (values.size() != count) {
    return WrongSize(name, absl::StrCat("values in ", field).c_str(), values.size(), info,
                     shape, count);
  }
  for (From value : values) {
    if (static_cast<long double>(value) < low || static_cast<long double>(value) > high) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "': ", value,
                                                     " is out of the range of ", info.name));
    }
  }
  out->Reserve(values.size());
  for (From value : values) out->AddAlreadyReserved(static_cast<To>(value));
  return absl::OkStatus();
}

template <typename T>
absl::Status MoveValues(const std::string& name, const char* field,
                        google::protobuf::RepeatedField<T>* values, int64_t count,
                        const DatatypeInfo& info,
                        const google::protobuf::RepeatedField<int64_t>& shape,
                        google::protobuf::RepeatedField<T>* out) {
  if (values->size() != count) {
    return WrongSize(name, absl::StrCat("values in ", field).c_str(), values->size(), info,
                     shape, count);
  }
  out->Swap(values);
  return absl::OkStatus();
}

// Typed v2 contents (InferTensorContents) into the TensorProto field of the
// same element type.
absl::Status FromContents(inference::ModelInferRequest::InferInputTensor* input,
                          const DatatypeInfo& info, int64_t count, TensorProto* tensor) {
  const std::string& name = input->name();
  const auto& shape = input->shape();
  inference::InferTensorContents* contents = input->mutable_contents();
  switch (info.dtype) {
    case DT_BOOL:
      return MoveValues(name, "bool_contents", contents->mutable_bool_contents(), count, info,
                        shape, tensor->mutable_bool_val());
    case DT_INT8:
      return CopyValues(name, "int_contents", contents->int_contents(), count, info, shape,
                        tensor->mutable_int_val(), INT8_MIN, INT8_MAX);
    case DT_INT16:
      return CopyValues(name, "int_contents", contents->int_contents(), count, info, shape,
                        tensor->mutable_int_val(), INT16_MIN, INT16_MAX);
    case DT_INT32:
      return MoveValues(name, "int_contents", contents->mutable_int_contents(), count, info,
                        shape, tensor->mutable_int_val());
    case DT_INT64:
      return MoveValues(name, "int64_contents", contents->mutable_int64_contents(), count,
                        info, shape, tensor->mutable_int64_val());
    case DT_UINT8:
      return CopyValues(name, "uint_contents", contents->uint_contents(), count, info, shape,
                        tensor->mutable_int_val(), 0, UINT8_MAX);
    case DT_UINT16:
      return CopyValues(name, "uint_contents", contents->uint_contents(), count, info, shape,
                        tensor->mutable_int_val(), 0, UINT16_MAX);
    case DT_UINT32:
      return MoveValues(name, "uint_contents", contents->mutable_uint_contents(), count, info,
                        shape, tensor->mutable_uint32_val());
    case DT_UINT64:
      return MoveValues(name, "uint64_contents", contents->mutable_uint64_contents(), count,
                        info, shape, tensor->mutable_uint64_val());
    case DT_FLOAT:
      return MoveValues(name, "fp32_contents", contents->mutable_fp32_contents(), count, info,
                        shape, tensor->mutable_float_val());
    case DT_DOUBLE:
      return MoveValues(name, "fp64_contents", contents->mutable_fp64_contents(), count, info,
                        shape, tensor->mutable_double_val());
    case DT_STRING:
      if (contents->bytes_contents_size() != count) {
        return WrongSize(name, "values in bytes_contents", contents->bytes_contents_size(),
                         info, shape, count);
      }
      tensor->mutable_string_val()->Swap(contents->mutable_bytes_contents());
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "': ", info.name,
          " data has no typed contents field; send it as raw_input_contents"));
  }
}

// TensorFlow's string list encoding (every length as a varint32, then the
// bytes) into v2's raw BYTES (each element a 4-byte little-endian length,
// then its bytes).
bool StringListToRaw(const std::string& content, int64_t count, std::string* raw) {
  std::vector<uint32_t> lengths;
  lengths.reserve(static_cast<size_t>(count));
  size_t at = 0;
  for (int64_t i = 0; i < count; ++i) {
    uint32_t value = 0;
    int shift = 0;
    while (true) {
      if (at >= content.size() || shift > 28) return false;
      const auto byte = static_cast<unsigned char>(content[at++]);
      value |= static_cast<uint32_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
      shift += 7;
    }
    lengths.push_back(value);
  }
  raw->clear();
  raw->reserve(content.size() - at + 4 * lengths.size());
  for (uint32_t length : lengths) {
    if (content.size() - at < length) return false;
    AppendLittleEndian32(length, raw);
    raw->append(content, at, length);
    at += length;
  }
  return at == content.size();
}

absl::Status AddTensorMetadata(const char* kind, const std::string& name,
                               const TensorInfo& info,
                               inference::ModelMetadataResponse::TensorMetadata* tensor) {
  if (info.encoding_case() != TensorInfo::kName) {
    return Unsupported(absl::StrCat(kind, " '", name, "': a sparse or composite tensor"));
  }
  const char* datatype = OpenInferenceDatatype(info.dtype());
  if (datatype == nullptr) return NoDatatype(kind, name, info.dtype());
  tensor->set_name(name);
  tensor->set_datatype(datatype);
  if (info.tensor_shape().unknown_rank()) {
    tensor->add_shape(-1);
  } else {
    for (const auto& dim : info.tensor_shape().dim()) tensor->add_shape(dim.size());
  }
  return absl::OkStatus();
}

template <typename Map>
std::vector<std::string> SortedKeys(const Map& map) {
  std::vector<std::string> keys;
  keys.reserve(map.size());
  for (const auto& entry : map) keys.push_back(entry.first);
  std::sort(keys.begin(), keys.end());
  return keys;
}

template <typename Tensor>
absl::Status AddConfigTensor(const char* kind, const std::string& name, const TensorInfo& info,
                             bool batch_dim, Tensor* tensor) {
  inference::ModelMetadataResponse::TensorMetadata metadata;
  absl::Status status = AddTensorMetadata(kind, name, info, &metadata);
  if (!status.ok()) return status;
  tensor->set_name(name);
  tensor->set_data_type(InfoOf(info.dtype())->config_type);
  for (int i = batch_dim ? 1 : 0; i < metadata.shape_size(); ++i) {
    tensor->add_dims(metadata.shape(i));
  }
  return absl::OkStatus();
}

absl::Status DefaultSignature(const SavedModelBundle& bundle,
                              const SavedModelBundle::Signature** signature) {
  *signature = bundle.FindSignature(kDefaultServingSignatureDefKey);
  if (*signature == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Serving signature key \"", kDefaultServingSignatureDefKey, "\" not found."));
  }
  return absl::OkStatus();
}

// One ModelInfer while its Predict runs.
struct ModelInferCall {
  PredictRequest predict;
  PredictResponse predict_response;
  std::vector<std::string> output_names;
  const inference::ModelInferRequest* request;
  inference::ModelInferResponse* response;
  int64_t version;
  RunDone done;
};

}  // namespace

const char* OpenInferenceDatatype(DataType dtype) {
  const DatatypeInfo* info = InfoOf(dtype);
  return info == nullptr ? nullptr : info->name;
}

DataType DataTypeOfOpenInferenceDatatype(absl::string_view datatype) {
  for (const DatatypeInfo& info : kDatatypes) {
    if (datatype == info.name) return info.dtype;
  }
  return DT_INVALID;
}

int OpenInferenceElementSize(DataType dtype) {
  const DatatypeInfo* info = InfoOf(dtype);
  return info == nullptr ? 0 : info->size;
}

absl::Status MakeOpenInferenceModelSpec(const std::string& name, const std::string& version,
                                        ModelSpec* spec) {
  spec->Clear();
  spec->set_name(name);
  if (version.empty()) return absl::OkStatus();
  if (std::all_of(version.begin(), version.end(), absl::ascii_isdigit)) {
    int64_t number = 0;
    if (!absl::SimpleAtoi(version, &number)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Failed to convert version: ", version, " to numeric."));
    }
    spec->mutable_version()->set_value(number);
  } else {
    spec->set_version_label(version);
  }
  return absl::OkStatus();
}

absl::Status ToPredictRequest(const ModelSpec& spec, inference::ModelInferRequest* request,
                              PredictRequest* predict, std::vector<std::string>* output_names) {
  predict->Clear();
  *predict->mutable_model_spec() = spec;
  auto signature = request->parameters().find(kSignatureNameParameter);
  if (signature != request->parameters().end()) {
    if (signature->second.parameter_choice_case() != inference::InferParameter::kStringParam) {
      return absl::InvalidArgumentError("the parameter signature_name must be a string");
    }
    predict->mutable_model_spec()->set_signature_name(signature->second.string_param());
  }
  const bool raw = request->raw_input_contents_size() > 0;
  if (raw && request->raw_input_contents_size() != request->inputs_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_input_contents has ", request->raw_input_contents_size(),
                     " entries for ", request->inputs_size(), " inputs"));
  }
  auto* inputs = predict->mutable_inputs();
  for (int i = 0; i < request->inputs_size(); ++i) {
    inference::ModelInferRequest::InferInputTensor* input = request->mutable_inputs(i);
    const std::string& name = input->name();
    if (name.empty()) return absl::InvalidArgumentError("an input has no name");
    const DatatypeInfo* info = InfoOf(DataTypeOfOpenInferenceDatatype(input->datatype()));
    if (info == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", name, "': '", input->datatype(),
                       "' is not an Open Inference Protocol datatype"));
    }
    int64_t count = 0;
    absl::Status status = ElementCount(name, input->shape(), &count);
    if (!status.ok()) return status;
    if (inputs->count(name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "' is given twice"));
    }
    TensorProto& tensor = (*inputs)[name];
    tensor.set_dtype(info->dtype);
    for (int64_t dim : input->shape()) tensor.mutable_tensor_shape()->add_dim()->set_size(dim);
    if (raw) {
      if (input->has_contents()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input '", name, "' has contents, and the request raw_input_contents"));
      }
      status = FromRaw(*input, *info, count, request->mutable_raw_input_contents(i), &tensor);
    } else {
      status = FromContents(input, *info, count, &tensor);
    }
    if (!status.ok()) return status;
  }
  output_names->clear();
  for (const auto& output : request->outputs()) {
    output_names->push_back(output.name());
    predict->add_output_filter(output.name());
  }
  return absl::OkStatus();
}

absl::Status FromPredictResponse(const std::vector<std::string>& output_names,
                                 PredictResponse* predict,
                                 inference::ModelInferResponse* response) {
  auto* outputs = predict->mutable_outputs();
  const std::vector<std::string> names =
      output_names.empty() ? SortedKeys(*outputs) : output_names;
  for (const std::string& name : names) {
    auto it = outputs->find(name);
    if (it == outputs->end()) return absl::UnknownError("Predict internal error");
    TensorProto& tensor = it->second;
    const char* datatype = OpenInferenceDatatype(tensor.dtype());
    if (datatype == nullptr) return NoDatatype("output", name, tensor.dtype());
    inference::ModelInferResponse::InferOutputTensor* output = response->add_outputs();
    output->set_name(name);
    output->set_datatype(datatype);
    int64_t count = 1;
    for (const auto& dim : tensor.tensor_shape().dim()) {
      output->add_shape(dim.size());
      count *= dim.size();
    }
    std::string* raw = response->add_raw_output_contents();
    if (tensor.dtype() == DT_STRING) {
      if (!StringListToRaw(tensor.tensor_content(), count, raw)) {
        return absl::UnknownError("Predict internal error");
      }
    } else {
      raw->swap(*tensor.mutable_tensor_content());
    }
  }
  return absl::OkStatus();
}

void RunModelInfer(const PredictOptions& options, const SavedModelBundle& bundle,
                   int64_t version, const ModelSpec& spec,
                   inference::ModelInferRequest* request,
                   SavedModelBundle::Clock::time_point deadline,
                   inference::ModelInferResponse* response, RunDone done) {
  auto call = std::make_unique<ModelInferCall>();
  absl::Status status =
      ToPredictRequest(spec, request, &call->predict, &call->output_names);
  if (!status.ok()) return done(status);
  call->request = request;
  call->response = response;
  call->version = version;
  call->done = std::move(done);
  ModelInferCall* raw = call.release();
  // The run may complete on a batch thread, and before RunPredict returns.
  RunPredict(options, bundle, version, raw->predict, deadline, &raw->predict_response,
             [raw](absl::Status status) {
               std::unique_ptr<ModelInferCall> owned(raw);
               if (status.ok()) {
                 // Logged as the Predict it ran, which a warmup file replays.
                 ServerRequestLogger::Get().MaybeLog(
                     ServerRequestLogger::LogType::kPredict,
                     owned->predict_response.model_spec(), owned->predict,
                     owned->predict_response);
                 status = FromPredictResponse(owned->output_names, &owned->predict_response,
                                              owned->response);
               }
               if (status.ok()) {
                 owned->response->set_model_name(owned->request->model_name());
                 owned->response->set_model_version(absl::StrCat(owned->version));
                 owned->response->set_id(owned->request->id());
               } else {
                 owned->response->Clear();
               }
               RunDone done = std::move(owned->done);
               owned.reset();
               done(status);
             });
}

absl::Status ModelMetadataOfSignature(const std::string& name,
                                      const std::vector<int64_t>& versions,
                                      const SignatureDef& signature,
                                      inference::ModelMetadataResponse* response) {
  response->Clear();
  response->set_name(name);
  for (int64_t version : versions) response->add_versions(absl::StrCat(version));
  response->set_platform(kOpenInferencePlatform);
  for (const std::string& key : SortedKeys(signature.inputs())) {
    absl::Status status =
        AddTensorMetadata("input", key, signature.inputs().at(key), response->add_inputs());
    if (!status.ok()) return status;
  }
  for (const std::string& key : SortedKeys(signature.outputs())) {
    absl::Status status =
        AddTensorMetadata("output", key, signature.outputs().at(key), response->add_outputs());
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status ModelConfigOfSignature(const std::string& name, const SignatureDef& signature,
                                    int64_t max_batch_size, inference::ModelConfig* config) {
  config->Clear();
  config->set_name(name);
  config->set_platform(kOpenInferencePlatform);
  config->set_max_batch_size(static_cast<int32_t>(std::min<int64_t>(max_batch_size, INT32_MAX)));
  const bool batch_dim = max_batch_size > 0;
  for (const std::string& key : SortedKeys(signature.inputs())) {
    absl::Status status = AddConfigTensor("input", key, signature.inputs().at(key), batch_dim,
                                          config->add_input());
    if (!status.ok()) return status;
  }
  for (const std::string& key : SortedKeys(signature.outputs())) {
    absl::Status status = AddConfigTensor("output", key, signature.outputs().at(key),
                                          batch_dim, config->add_output());
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status GetModelInferMetadata(const SavedModelBundle& bundle, const std::string& name,
                                   const std::vector<int64_t>& versions,
                                   inference::ModelMetadataResponse* response) {
  const SavedModelBundle::Signature* signature = nullptr;
  absl::Status status = DefaultSignature(bundle, &signature);
  if (!status.ok()) return status;
  return ModelMetadataOfSignature(name, versions, signature->def, response);
}

absl::Status GetModelInferConfig(const SavedModelBundle& bundle, const std::string& name,
                                 inference::ModelConfig* config) {
  const SavedModelBundle::Signature* signature = nullptr;
  absl::Status status = DefaultSignature(bundle, &signature);
  if (!status.ok()) return status;
  int64_t max_batch_size = 0;
  if (signature->batchable) {
    const BatchingSession* batching = bundle.batching_session();
    max_batch_size = batching != nullptr ? batching->options().max_batch_size : INT32_MAX;
  }
  return ModelConfigOfSignature(name, signature->def, max_batch_size, config);
}

}  // namespace serving
}  // namespace tensorflow

#include "tensorflow_serving/util/open_inference_json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tensorflow_serving/servables/tensorflow/open_inference.h"

namespace tensorflow {
namespace serving {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int kMaxDepth = 64;  // nesting of `data`, as numpy's dimensions

template <typename... Args>
absl::Status Bad(const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(args...));
}

std::string Str(const rapidjson::Value& value) {
  return std::string(value.GetString(), value.GetStringLength());
}

absl::Status ParseParameters(const rapidjson::Value& object, const std::string& where,
                             google::protobuf::Map<std::string, inference::InferParameter>* out) {
  if (!object.IsObject()) return Bad(where, "'parameters' must be an object");
  for (const auto& member : object.GetObject()) {
    const std::string name = Str(member.name);
    inference::InferParameter& parameter = (*out)[name];
    const rapidjson::Value& value = member.value;
    if (value.IsBool()) {
      parameter.set_bool_param(value.GetBool());
    } else if (value.IsInt64()) {
      parameter.set_int64_param(value.GetInt64());
    } else if (value.IsUint64()) {
      parameter.set_uint64_param(value.GetUint64());
    } else if (value.IsNumber()) {
      parameter.set_double_param(value.GetDouble());
    } else if (value.IsString()) {
      parameter.set_string_param(Str(value));
    } else {
      return Bad(where, "parameter '", name, "' must be a string, a number or a boolean");
    }
  }
  return absl::OkStatus();
}

template <typename T>
void Append(T value, std::string* raw) {
  raw->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Flattens an input's JSON `data` into raw little-endian elements.
class DataReader {
 public:
  DataReader(const std::string& name, DataType dtype, std::string* raw)
      : name_(name), dtype_(dtype), raw_(raw) {}

  absl::Status Read(const rapidjson::Value& value, int depth) {
    if (!value.IsArray()) return Element(value);
    if (depth >= kMaxDepth) {
      return Bad("input '", name_, "': 'data' nests deeper than ", kMaxDepth, " levels");
    }
    for (const auto& item : value.GetArray()) {
      absl::Status status = Read(item, depth + 1);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  int64_t count() const { return count_; }

 private:
  absl::Status NotA(const char* what) const {
    return Bad("input '", name_, "': element ", count_, " of 'data' is not ", what, " (",
               OpenInferenceDatatype(dtype_), ")");
  }

  template <typename T>
  absl::Status Signed(const rapidjson::Value& value) {
    if (!value.IsInt64()) return NotA("an integer");
    const int64_t v = value.GetInt64();
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      return NotA("in range");
    }
    Append(static_cast<T>(v), raw_);
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Unsigned(const rapidjson::Value& value) {
    if (!value.IsUint64()) return NotA("a non-negative integer");
    const uint64_t v = value.GetUint64();
    if (v > std::numeric_limits<T>::max()) return NotA("in range");
    Append(static_cast<T>(v), raw_);
    return absl::OkStatus();
  }

  absl::Status Element(const rapidjson::Value& value) {
    absl::Status status;
    switch (dtype_) {
      case DT_BOOL:
        if (!value.IsBool()) return NotA("a boolean");
        raw_->push_back(value.GetBool() ? 1 : 0);
        break;
      case DT_INT8:
        status = Signed<int8_t>(value);
        break;
      case DT_INT16:
        status = Signed<int16_t>(value);
        break;
      case DT_INT32:
        status = Signed<int32_t>(value);
        break;
      case DT_INT64:
        status = Signed<int64_t>(value);
        break;
      case DT_UINT8:
        status = Unsigned<uint8_t>(value);
        break;
      case DT_UINT16:
        status = Unsigned<uint16_t>(value);
        break;
      case DT_UINT32:
        status = Unsigned<uint32_t>(value);
        break;
      case DT_UINT64:
        status = Unsigned<uint64_t>(value);
        break;
      case DT_FLOAT:
        if (!value.IsNumber()) return NotA("a number");
        Append(static_cast<float>(value.GetDouble()), raw_);
        break;
      case DT_DOUBLE:
        if (!value.IsNumber()) return NotA("a number");
        Append(value.GetDouble(), raw_);
        break;
      case DT_STRING: {
        if (!value.IsString()) return NotA("a string");
        const uint32_t length = value.GetStringLength();
        Append(length, raw_);
        raw_->append(value.GetString(), length);
        break;
      }
      default:  // FP16: JSON has no way to say which half a number is
        return Bad("input '", name_, "': ", OpenInferenceDatatype(dtype_),
                   " data must be sent as binary data");
    }
    if (!status.ok()) return status;
    ++count_;
    return absl::OkStatus();
  }

  const std::string& name_;
  const DataType dtype_;
  std::string* const raw_;
  int64_t count_ = 0;
};

absl::Status ParseInput(const rapidjson::Value& value, int index, absl::string_view binary,
                        size_t* binary_used, inference::ModelInferRequest* request) {
  if (!value.IsObject()) return Bad("input ", index, " is not an object");
  inference::ModelInferRequest::InferInputTensor* input = request->add_inputs();
  auto name = value.FindMember("name");
  if (name == value.MemberEnd() || !name->value.IsString()) {
    return Bad("input ", index, " has no 'name' string");
  }
  input->set_name(Str(name->value));
  const std::string where = absl::StrCat("input '", input->name(), "': ");
  auto datatype = value.FindMember("datatype");
  if (datatype == value.MemberEnd() || !datatype->value.IsString()) {
    return Bad(where, "no 'datatype' string");
  }
  input->set_datatype(Str(datatype->value));
  const DataType dtype = DataTypeOfOpenInferenceDatatype(input->datatype());
  if (dtype == DT_INVALID) {
    return Bad(where, "'", input->datatype(), "' is not an Open Inference Protocol datatype");
  }
  auto shape = value.FindMember("shape");
  if (shape == value.MemberEnd() || !shape->value.IsArray()) {
    return Bad(where, "no 'shape' array");
  }
  int64_t count = 1;
  for (const auto& dim : shape->value.GetArray()) {
    if (!dim.IsInt64() || dim.GetInt64() < 0) {
      return Bad(where, "'shape' must hold non-negative integers");
    }
    const int64_t size = dim.GetInt64();
    if (size > 0 && count > std::numeric_limits<int64_t>::max() / 16 / size) {
      return Bad(where, "'shape' is too large");
    }
    count *= size;
    input->add_shape(size);
  }
  auto parameters = value.FindMember("parameters");
  if (parameters != value.MemberEnd()) {
    absl::Status status = ParseParameters(parameters->value, where, input->mutable_parameters());
    if (!status.ok()) return status;
  }
  std::string* raw = request->add_raw_input_contents();
  auto data = value.FindMember("data");
  auto binary_size = input->parameters().find(kBinaryDataSizeParameter);
  if (binary_size != input->parameters().end()) {
    const inference::InferParameter& size = binary_size->second;
    int64_t bytes = -1;
    if (size.parameter_choice_case() == inference::InferParameter::kInt64Param) {
      bytes = size.int64_param();
    } else if (size.parameter_choice_case() == inference::InferParameter::kUint64Param &&
               size.uint64_param() <= static_cast<uint64_t>(INT64_MAX)) {
      bytes = static_cast<int64_t>(size.uint64_param());
    }
    if (bytes < 0) return Bad(where, "binary_data_size must be a non-negative integer");
    if (data != value.MemberEnd()) return Bad(where, "both 'data' and binary_data_size");
    if (static_cast<uint64_t>(bytes) > binary.size() - *binary_used) {
      return Bad(where, "binary_data_size ", bytes, " goes beyond the ",
                 binary.size() - *binary_used, " bytes of binary data left");
    }
    raw->assign(binary.data() + *binary_used, static_cast<size_t>(bytes));
    *binary_used += static_cast<size_t>(bytes);
    return absl::OkStatus();
  }
  if (data == value.MemberEnd()) return Bad(where, "no 'data' and no binary_data_size");
  const int size = OpenInferenceElementSize(dtype);
  if (size > 0 && count <= (64 << 20)) raw->reserve(static_cast<size_t>(count) * size);
  DataReader reader(input->name(), dtype, raw);
  absl::Status status = reader.Read(data->value, 0);
  if (!status.ok()) return status;
  if (reader.count() != count) {
    return Bad(where, reader.count(), " values in 'data' for shape [",
               absl::StrJoin(input->shape(), ","), "] of ", input->datatype(), ", which needs ",
               count);
  }
  return absl::OkStatus();
}

void WriteFloat(double value, bool single, Writer* writer) {
  if (std::isnan(value)) {
    writer->RawValue("NaN", 3, rapidjson::kNumberType);
  } else if (std::isinf(value)) {
    if (value > 0) {
      writer->RawValue("Infinity", 8, rapidjson::kNumberType);
    } else {
      writer->RawValue("-Infinity", 9, rapidjson::kNumberType);
    }
  } else if (single) {
    // The shortest text that reads back as the same float.
    char text[32];
    const auto result = std::to_chars(text, text + sizeof(text), static_cast<float>(value));
    writer->RawValue(text, result.ptr - text, rapidjson::kNumberType);
  } else {
    writer->Double(value);
  }
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {  // zero or subnormal
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)
                                 : sign | ((exponent + 112) << 23) | (mantissa << 13);
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

template <typename T>
T Load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// Writes raw output bytes as a flat JSON array of the datatype's values.
absl::Status WriteData(const inference::ModelInferResponse::InferOutputTensor& output,
                       const std::string& raw, Writer* writer) {
  const DataType dtype = DataTypeOfOpenInferenceDatatype(output.datatype());
  const size_t size = OpenInferenceElementSize(dtype);
  if (size > 0 && raw.size() % size != 0) return absl::UnknownError("Predict internal error");
  const char* p = raw.data();
  const char* end = p + raw.size();
  writer->StartArray();
  if (dtype == DT_STRING) {
    while (end - p >= 4) {
      const uint32_t length = Load<uint32_t>(p);
      p += 4;
      if (static_cast<size_t>(end - p) < length) break;
      writer->String(p, length);
      p += length;
    }
    if (p != end) return absl::UnknownError("Predict internal error");
  }
  for (; dtype != DT_STRING && p < end; p += size) {
    switch (dtype) {
      case DT_BOOL:
        writer->Bool(*p != 0);
        break;
      case DT_INT8:
        writer->Int(Load<int8_t>(p));
        break;
      case DT_INT16:
        writer->Int(Load<int16_t>(p));
        break;
      case DT_INT32:
        writer->Int(Load<int32_t>(p));
        break;
      case DT_INT64:
        writer->Int64(Load<int64_t>(p));
        break;
      case DT_UINT8:
        writer->Uint(Load<uint8_t>(p));
        break;
      case DT_UINT16:
        writer->Uint(Load<uint16_t>(p));
        break;
      case DT_UINT32:
        writer->Uint(Load<uint32_t>(p));
        break;
      case DT_UINT64:
        writer->Uint64(Load<uint64_t>(p));
        break;
      case DT_HALF:
        WriteFloat(HalfToFloat(Load<uint16_t>(p)), true, writer);
        break;
      case DT_FLOAT:
        WriteFloat(Load<float>(p), true, writer);
        break;
      case DT_DOUBLE:
        WriteFloat(Load<double>(p), false, writer);
        break;
      default:
        return absl::UnknownError("Predict internal error");
    }
  }
  writer->EndArray();
  return absl::OkStatus();
}

void Key(const char* key, Writer* writer) { writer->Key(key); }

void String(const std::string& value, Writer* writer) {
  writer->String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool IsTrue(const google::protobuf::Map<std::string, inference::InferParameter>& parameters,
            const char* name) {
  auto it = parameters.find(name);
  return it != parameters.end() &&
         it->second.parameter_choice_case() == inference::InferParameter::kBoolParam &&
         it->second.bool_param();
}

}  // namespace

absl::Status ParseInferRequestJson(absl::string_view body, int64_t header_length,
                                   inference::ModelInferRequest* request) {
  absl::string_view json = body;
  absl::string_view binary;
  if (header_length >= 0) {
    if (static_cast<uint64_t>(header_length) > body.size()) {
      return Bad("Inference-Header-Content-Length ", header_length, " exceeds the body's ",
                 body.size(), " bytes");
    }
    json = body.substr(0, static_cast<size_t>(header_length));
    binary = body.substr(static_cast<size_t>(header_length));
  }
  rapidjson::Document document;
  document.Parse<rapidjson::kParseNanAndInfFlag>(json.data(), json.size());
  if (document.HasParseError()) {
    return Bad("JSON parse error: ", rapidjson::GetParseError_En(document.GetParseError()),
               " (at offset ", document.GetErrorOffset(), ")");
  }
  if (!document.IsObject()) return Bad("the request must be a JSON object");
  auto id = document.FindMember("id");
  if (id != document.MemberEnd()) {
    if (!id->value.IsString()) return Bad("'id' must be a string");
    request->set_id(Str(id->value));
  }
  auto parameters = document.FindMember("parameters");
  if (parameters != document.MemberEnd()) {
    absl::Status status =
        ParseParameters(parameters->value, "the request: ", request->mutable_parameters());
    if (!status.ok()) return status;
  }
  auto inputs = document.FindMember("inputs");
  if (inputs == document.MemberEnd() || !inputs->value.IsArray()) {
    return Bad("the request has no 'inputs' array");
  }
  size_t binary_used = 0;
  int index = 0;
  for (const auto& input : inputs->value.GetArray()) {
    absl::Status status = ParseInput(input, index++, binary, &binary_used, request);
    if (!status.ok()) return status;
  }
  if (binary_used != binary.size()) {
    return Bad(binary.size() - binary_used, " bytes of binary data are claimed by no input");
  }
  auto outputs = document.FindMember("outputs");
  if (outputs != document.MemberEnd()) {
    if (!outputs->value.IsArray()) return Bad("'outputs' must be an array");
    for (const auto& value : outputs->value.GetArray()) {
      auto name = value.IsObject() ? value.FindMember("name") : value.MemberEnd();
      if (!value.IsObject() || name == value.MemberEnd() || !name->value.IsString()) {
        return Bad("every requested output must be an object with a 'name' string");
      }
      inference::ModelInferRequest::InferRequestedOutputTensor* output = request->add_outputs();
      output->set_name(Str(name->value));
      auto output_parameters = value.FindMember("parameters");
      if (output_parameters != value.MemberEnd()) {
        absl::Status status =
            ParseParameters(output_parameters->value,
                            absl::StrCat("output '", output->name(), "': "),
                            output->mutable_parameters());
        if (!status.ok()) return status;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status WriteInferResponseJson(const inference::ModelInferRequest& request,
                                    inference::ModelInferResponse* response, std::string* body,
                                    int64_t* header_length) {
  const bool all_binary = IsTrue(request.parameters(), kBinaryDataOutputParameter);
  std::map<std::string, bool> binary_outputs;
  for (const auto& output : request.outputs()) {
    binary_outputs[output.name()] = IsTrue(output.parameters(), kBinaryDataParameter);
  }
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key("model_name", &writer);
  String(response->model_name(), &writer);
  Key("model_version", &writer);
  String(response->model_version(), &writer);
  if (!response->id().empty()) {
    Key("id", &writer);
    String(response->id(), &writer);
  }
  Key("outputs", &writer);
  writer.StartArray();
  std::string binary;
  bool any_binary = false;
  for (int i = 0; i < response->outputs_size(); ++i) {
    const auto& output = response->outputs(i);
    std::string* raw = response->mutable_raw_output_contents(i);
    auto requested = binary_outputs.find(output.name());
    const bool as_binary = requested != binary_outputs.end() ? requested->second : all_binary;
    writer.StartObject();
    Key("name", &writer);
    String(output.name(), &writer);
    Key("datatype", &writer);
    String(output.datatype(), &writer);
    Key("shape", &writer);
    writer.StartArray();
    for (int64_t dim : output.shape()) writer.Int64(dim);
    writer.EndArray();
    if (as_binary) {
      any_binary = true;
      Key("parameters", &writer);
      writer.StartObject();
      Key(kBinaryDataSizeParameter, &writer);
      writer.Uint64(raw->size());
      writer.EndObject();
      binary.append(*raw);
    } else {
      Key("data", &writer);
      absl::Status status = WriteData(output, *raw, &writer);
      if (!status.ok()) return status;
    }
    raw->clear();
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  *body = Finish(buffer);
  *header_length = -1;
  if (any_binary) {
    *header_length = static_cast<int64_t>(body->size());
    body->append(binary);
  }
  return absl::OkStatus();
}

std::string ServerMetadataJson(const inference::ServerMetadataResponse& metadata) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key("name", &writer);
  String(metadata.name(), &writer);
  Key("version", &writer);
  String(metadata.version(), &writer);
  Key("extensions", &writer);
  writer.StartArray();
  for (const std::string& extension : metadata.extensions()) String(extension, &writer);
  writer.EndArray();
  writer.EndObject();
  return Finish(buffer);
}

namespace {

void WriteTensors(const char* key,
                  const google::protobuf::RepeatedPtrField<
                      inference::ModelMetadataResponse::TensorMetadata>& tensors,
                  Writer* writer) {
  Key(key, writer);
  writer->StartArray();
  for (const auto& tensor : tensors) {
    writer->StartObject();
    Key("name", writer);
    String(tensor.name(), writer);
    Key("datatype", writer);
    String(tensor.datatype(), writer);
    Key("shape", writer);
    writer->StartArray();
    for (int64_t dim : tensor.shape()) writer->Int64(dim);
    writer->EndArray();
    writer->EndObject();
  }
  writer->EndArray();
}

template <typename Tensor>
void WriteConfigTensors(const char* key,
                        const google::protobuf::RepeatedPtrField<Tensor>& tensors,
                        Writer* writer) {
  Key(key, writer);
  writer->StartArray();
  for (const auto& tensor : tensors) {
    writer->StartObject();
    Key("name", writer);
    String(tensor.name(), writer);
    Key("data_type", writer);
    String(inference::DataType_Name(tensor.data_type()), writer);
    Key("dims", writer);
    writer->StartArray();
    for (int64_t dim : tensor.dims()) writer->Int64(dim);
    writer->EndArray();
    writer->EndObject();
  }
  writer->EndArray();
}

}  // namespace

std::string ModelMetadataJson(const inference::ModelMetadataResponse& metadata) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key("name", &writer);
  String(metadata.name(), &writer);
  Key("versions", &writer);
  writer.StartArray();
  for (const std::string& version : metadata.versions()) String(version, &writer);
  writer.EndArray();
  Key("platform", &writer);
  String(metadata.platform(), &writer);
  WriteTensors("inputs", metadata.inputs(), &writer);
  WriteTensors("outputs", metadata.outputs(), &writer);
  writer.EndObject();
  return Finish(buffer);
}

std::string ModelConfigJson(const inference::ModelConfig& config) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key("name", &writer);
  String(config.name(), &writer);
  Key("platform", &writer);
  String(config.platform(), &writer);
  Key("max_batch_size", &writer);
  writer.Int(config.max_batch_size());
  WriteConfigTensors("input", config.input(), &writer);
  WriteConfigTensors("output", config.output(), &writer);
  writer.EndObject();
  return Finish(buffer);
}

std::string ModelReadyJson(const std::string& name, bool ready) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key("name", &writer);
  String(name, &writer);
  Key("ready", &writer);
  writer.Bool(ready);
  writer.EndObject();
  return Finish(buffer);
}

std::string ErrorJson(absl::string_view message) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key("error", &writer);
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  return Finish(buffer);
}

}  // namespace serving
}  // namespace tensorflow

#include "tensorflow_serving/util/json_tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "rapidjson/document.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "tensorflow/core/example/example.pb.h"
#include "tensorflow/core/example/feature.pb.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"

namespace tensorflow {
namespace serving {

namespace {

constexpr char kSignatureNameKey[] = "signature_name";
constexpr char kInstancesKey[] = "instances";
constexpr char kInputsKey[] = "inputs";
constexpr char kContextKey[] = "context";
constexpr char kExamplesKey[] = "examples";
constexpr char kPredictionsKey[] = "predictions";
constexpr char kOutputsKey[] = "outputs";
constexpr char kResultsKey[] = "results";
constexpr char kErrorKey[] = "error";
constexpr char kBase64Key[] = "b64";
constexpr char kBytesSuffix[] = "_bytes";

// Upstream's: any depth without recursion, NaN/Inf, and the body may go on
// after its root value.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseNanAndInfFlag |
                                 rapidjson::kParseStopWhenDoneFlag;

// Values quoted in error messages are cut after this many bytes.
constexpr size_t kMaxDebugStringBytes = 256;

using JsonValue = rapidjson::Value;
using DebugWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;
using TensorInfoMap = google::protobuf::Map<std::string, TensorInfo>;

// ------------------------------------------------------------ quoting values

// A SAX handler that forwards to a PrettyWriter while its output is shorter
// than the limit, then stops the walk (a value of any size or depth costs at
// most the limit).
class LimitedWriter {
 public:
  LimitedWriter(const rapidjson::StringBuffer& buffer, DebugWriter* writer)
      : buffer_(buffer), writer_(writer) {}

  bool Null() { return Room() && writer_->Null(); }
  bool Bool(bool b) { return Room() && writer_->Bool(b); }
  bool Int(int i) { return Room() && writer_->Int(i); }
  bool Uint(unsigned u) { return Room() && writer_->Uint(u); }
  bool Int64(int64_t i) { return Room() && writer_->Int64(i); }
  bool Uint64(uint64_t u) { return Room() && writer_->Uint64(u); }
  bool Double(double d) { return Room() && writer_->Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Room() && writer_->String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return Room() && writer_->Key(s, n, copy);
  }
  bool StartObject() { return Room() && writer_->StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return Room() && writer_->EndObject(n); }
  bool StartArray() { return Room() && writer_->StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return Room() && writer_->EndArray(n); }

 private:
  bool Room() const { return buffer_.GetSize() < kMaxDebugStringBytes; }

  const rapidjson::StringBuffer& buffer_;
  DebugWriter* const writer_;
};

// A value as upstream quotes it in errors: arrays on one line, at most about
// kMaxDebugStringBytes (possibly cut mid-token).
std::string DebugString(const JsonValue& value) {
  rapidjson::StringBuffer buffer;
  DebugWriter writer(buffer);
  writer.SetFormatOptions(rapidjson::kFormatSingleLineArray);
  LimitedWriter limited(buffer, &writer);
  value.Accept(limited);
  return std::string(buffer.GetString(), buffer.GetSize());
}

const char* TypeString(const JsonValue& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "Null";
    case rapidjson::kFalseType:
      return "False";
    case rapidjson::kTrueType:
      return "True";
    case rapidjson::kObjectType:
      return "Object";
    case rapidjson::kArrayType:
      return "Array";
    case rapidjson::kStringType:
      return "String";
    case rapidjson::kNumberType:
      return "Number";
  }
  return "Unknown";
}

// TensorFlow's DataTypeString: "float", "int32", "float_ref", "INVALID".
std::string DataTypeString(int dtype) {
  constexpr int kRefOffset = 100;
  if (dtype > kRefOffset) return DataTypeString(dtype - kRefOffset) + "_ref";
  if (dtype == DT_INVALID) return "INVALID";
  if (DataType_IsValid(dtype)) {
    // Every non-reference DataType's name is DT_ and its string in capitals.
    return absl::AsciiStrToLower(DataType_Name(static_cast<DataType>(dtype)).substr(3));
  }
  return absl::StrCat("unknown dtype enum (", dtype, ")");
}

// The name of an object member as upstream reads it: a C string, so up to
// its first NUL.
std::string MemberName(const JsonValue& name) { return std::string(name.GetString()); }

// ------------------------------------------------------------------ errors

template <typename... Args>
absl::Status FormatError(const JsonValue& value, const Args&... args) {
  return absl::InvalidArgumentError(
      absl::StrCat("JSON Value: ", DebugString(value), " ", args...));
}

absl::Status TypeError(const JsonValue& value, DataType dtype) {
  return absl::InvalidArgumentError(absl::StrCat("JSON Value: ", DebugString(value),
                                                 " Type: ", TypeString(value),
                                                 " is not of expected type: ",
                                                 DataTypeString(dtype)));
}

// ----------------------------------------------------------------- parsing

absl::Status ParseJson(absl::string_view json, rapidjson::Document* doc) {
  if (json.empty()) {
    return absl::InvalidArgumentError("JSON Parse error: The document is empty");
  }
  // A memory stream: the body need not end in a NUL, and one inside it ends
  // the input there, as it does for upstream.
  rapidjson::MemoryStream bytes(json.data(), json.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
  if (doc->ParseStream<kParseFlags>(stream).HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JSON Parse error: ", rapidjson::GetParseError_En(doc->GetParseError()),
        " at offset: ", doc->GetErrorOffset()));
  }
  if (!doc->IsObject()) return FormatError(*doc, "Is not object");
  return absl::OkStatus();
}

// Sets the request's signature name from "signature_name", if present.
template <typename Request>
absl::Status FillSignature(const rapidjson::Document& doc, Request* request) {
  const auto it = doc.FindMember(kSignatureNameKey);
  if (it == doc.MemberEnd()) return absl::OkStatus();
  if (!it->value.IsString()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JSON Value: ", DebugString(doc), " not formatted correctly. '", kSignatureNameKey,
        "' key must be a string value."));
  }
  request->mutable_model_spec()->set_signature_name(it->value.GetString(),
                                                    it->value.GetStringLength());
  return absl::OkStatus();
}

// ------------------------------------------------------------------- base64

// {"b64": "<string>"} and nothing else.
bool IsBase64Object(const JsonValue& value) {
  if (!value.IsObject() || value.MemberCount() != 1) return false;
  const auto it = value.FindMember(kBase64Key);
  return it != value.MemberEnd() && it->value.IsString();
}

absl::Status DecodeBase64Object(const JsonValue& value, std::string* decoded) {
  if (!IsBase64Object(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JSON Value: ", DebugString(value), " not formatted correctly for base64 data"));
  }
  const JsonValue& text = value.FindMember(kBase64Key)->value;
  if (!absl::Base64Unescape(absl::string_view(text.GetString(), text.GetStringLength()),
                            decoded)) {
    return absl::InvalidArgumentError("Unable to base64 decode");
  }
  return absl::OkStatus();
}

// ----------------------------------------------------- JSON value -> tensor

// Appends one leaf of a tensor (a scalar, or a {"b64": ...} object for
// strings) as `dtype`.
absl::Status AddLeaf(const JsonValue& value, DataType dtype, TensorProto* tensor) {
  if (value.IsObject()) {
    if (dtype == DT_STRING) return DecodeBase64Object(value, tensor->add_string_val());
    return TypeError(value, dtype);
  }
  switch (dtype) {
    case DT_FLOAT:
      if (!value.IsNumber()) return TypeError(value, dtype);
      // Through double, as RapidJSON's GetFloat: integers and doubles alike.
      tensor->add_float_val(value.GetFloat());
      break;
    case DT_DOUBLE:
      if (!value.IsNumber()) return TypeError(value, dtype);
      tensor->add_double_val(value.GetDouble());
      break;
    case DT_INT32:
    case DT_INT16:
    case DT_INT8:
    case DT_UINT8:
      // int_val carries int32s; TensorFlow narrows them when it decodes.
      if (!value.IsInt()) return TypeError(value, dtype);
      tensor->add_int_val(value.GetInt());
      break;
    case DT_STRING:
      if (!value.IsString()) return TypeError(value, dtype);
      tensor->add_string_val(value.GetString(), value.GetStringLength());
      break;
    case DT_INT64:
      if (!value.IsInt64()) return TypeError(value, dtype);
      tensor->add_int64_val(value.GetInt64());
      break;
    case DT_BOOL:
      if (!value.IsBool()) return TypeError(value, dtype);
      tensor->add_bool_val(value.GetBool());
      break;
    case DT_UINT32:
      if (!value.IsUint()) return TypeError(value, dtype);
      tensor->add_uint32_val(value.GetUint());
      break;
    case DT_UINT64:
      if (!value.IsUint64()) return TypeError(value, dtype);
      tensor->add_uint64_val(value.GetUint64());
      break;
    default:
      return absl::UnimplementedError(absl::StrCat("Conversion of JSON Value: ",
                                                   DebugString(value),
                                                   " to type: ", DataTypeString(dtype)));
  }
  return absl::OkStatus();
}

// The shape a value claims: the sizes of the lists along its first elements.
std::vector<int64_t> DenseShape(const JsonValue& value) {
  std::vector<int64_t> dims;
  const JsonValue* v = &value;
  while (v->IsArray()) {
    dims.push_back(v->Size());
    if (v->Empty()) break;
    v = &(*v)[0];
  }
  return dims;
}

// Reserves room for `n` more values in the field `dtype` is written to. `n`
// must already be bounded by what the body holds.
void ReserveValues(DataType dtype, int64_t n, TensorProto* tensor) {
  const auto reserve = [n](auto* field) {
    const int64_t total = std::min<int64_t>(static_cast<int64_t>(field->size()) + n,
                                            std::numeric_limits<int>::max());
    field->Reserve(static_cast<int>(total));
  };
  switch (dtype) {
    case DT_FLOAT:
      reserve(tensor->mutable_float_val());
      break;
    case DT_DOUBLE:
      reserve(tensor->mutable_double_val());
      break;
    case DT_INT32:
    case DT_INT16:
    case DT_INT8:
    case DT_UINT8:
      reserve(tensor->mutable_int_val());
      break;
    case DT_STRING:
      reserve(tensor->mutable_string_val());
      break;
    case DT_INT64:
      reserve(tensor->mutable_int64_val());
      break;
    case DT_BOOL:
      reserve(tensor->mutable_bool_val());
      break;
    case DT_UINT32:
      reserve(tensor->mutable_uint32_val());
      break;
    case DT_UINT64:
      reserve(tensor->mutable_uint64_val());
      break;
    default:
      break;
  }
}

// What a request's tensors are filled from: a body of `body_size` bytes.
// Reservations never exceed the values such a body can hold, so a shape it
// merely claims (its first elements' sizes) is never allocated.
struct FillContext {
  size_t body_size = 0;

  // Every number, true or false takes at least one byte and a separator,
  // every string two quotes and a separator.
  int64_t MaxValues(DataType dtype) const {
    return static_cast<int64_t>(body_size / (dtype == DT_STRING ? 3 : 2) + 1);
  }
};

// Appends the leaves of `value` (in row-major order) to `tensor` as `dtype`,
// checking that every list is where `dims` says and of its size, and counts
// them. The walk uses its own stack: JSON of any depth is safe.
absl::Status FillValues(const JsonValue& value, const std::vector<int64_t>& dims,
                        DataType dtype, TensorProto* tensor, int64_t* count) {
  const size_t rank = dims.size();
  if (!value.IsArray()) {
    if (rank != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JSON Value: ", DebugString(value),
          " found at incorrect level: 1 in the JSON DOM. Expected at level: ", rank));
    }
    absl::Status status = AddLeaf(value, dtype, tensor);
    if (status.ok()) ++*count;
    return status;
  }
  // `value` is a list at level 0 with dims[0] elements (DenseShape says so).
  struct Level {
    JsonValue::ConstValueIterator next;
    JsonValue::ConstValueIterator end;
  };
  std::vector<Level> stack;
  stack.push_back({value.Begin(), value.End()});
  while (!stack.empty()) {
    const size_t level = stack.size();  // of the items in stack.back()
    Level& top = stack.back();
    if (level == rank) {
      // The innermost lists hold the leaves: the common case, in one loop.
      for (; top.next != top.end; ++top.next) {
        const JsonValue& item = *top.next;
        if (item.IsArray()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "Encountered list at unexpected level: ", level, " expected < ", rank));
        }
        absl::Status status = AddLeaf(item, dtype, tensor);
        if (!status.ok()) return status;
        ++*count;
      }
      stack.pop_back();
      continue;
    }
    if (top.next == top.end) {
      stack.pop_back();
      continue;
    }
    const JsonValue& item = *top.next++;
    if (!item.IsArray()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JSON Value: ", DebugString(item), " found at incorrect level: ", level + 1,
          " in the JSON DOM. Expected at level: ", rank));
    }
    if (static_cast<int64_t>(item.Size()) != dims[level]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Encountered list at unexpected size: ", item.Size(), " at level: ", level,
          " expected size: ", dims[level]));
    }
    stack.push_back({item.Begin(), item.End()});
  }
  return absl::OkStatus();
}

// The number of values a shape claims, saturating at `limit`.
int64_t ClaimedValues(const std::vector<int64_t>& dims, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d == 0) return 0;
    if (n > limit / d) return limit;
    n *= d;
  }
  return std::min(n, limit);
}

void SetShape(const std::vector<int64_t>& dims, TensorProto* tensor) {
  TensorShapeProto* shape = tensor->mutable_tensor_shape();
  shape->Clear();
  for (int64_t d : dims) shape->add_dim()->set_size(d);
}

// One columnar input: `value` becomes the whole tensor.
absl::Status FillTensor(const JsonValue& value, DataType dtype, const FillContext& context,
                        TensorProto* tensor) {
  tensor->set_dtype(dtype);
  const std::vector<int64_t> dims = DenseShape(value);
  SetShape(dims, tensor);
  ReserveValues(dtype, ClaimedValues(dims, context.MaxValues(dtype)), tensor);
  int64_t unused_count = 0;
  return FillValues(value, dims, dtype, tensor, &unused_count);
}

std::string ShapeString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

// The input names of a signature, sorted.
std::vector<std::string> SortedNames(const TensorInfoMap& infos) {
  std::vector<std::string> names;
  names.reserve(infos.size());
  for (const auto& entry : infos) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  return names;
}

// Row format: every instance's value for one input, stacked.
struct StackedInput {
  TensorProto* tensor = nullptr;
  DataType dtype = DT_INVALID;
  bool seen = false;
  int64_t size = 0;             // values per instance
  std::vector<int64_t> shape;   // of each instance
  int64_t last_instance = -1;   // the last instance that named this input
};

class InstancesReader {
 public:
  InstancesReader(const TensorInfoMap& infos, const FillContext& context,
                  google::protobuf::Map<std::string, TensorProto>* tensors)
      : context_(context), tensors_(tensors) {
    for (const auto& entry : infos) {
      StackedInput& input = inputs_[entry.first];
      input.dtype = entry.second.dtype();
    }
  }

  // Adds one instance's value for input `name` (upstream's AddInstanceItem).
  absl::Status Add(const JsonValue& value, const std::string& name, int64_t instance,
                   int64_t num_instances) {
    const auto it = inputs_.find(name);
    if (it == inputs_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON object: does not have named input: ", name));
    }
    StackedInput& input = it->second;
    if (input.tensor == nullptr) input.tensor = &(*tensors_)[name];
    input.last_instance = instance;
    std::vector<int64_t> shape = DenseShape(value);
    if (!input.seen) {
      // Room for every instance like this one, within what the body holds.
      std::vector<int64_t> all_instances = {num_instances};
      all_instances.insert(all_instances.end(), shape.begin(), shape.end());
      ReserveValues(input.dtype, ClaimedValues(all_instances, context_.MaxValues(input.dtype)),
                    input.tensor);
    }
    int64_t size = 0;
    absl::Status status = FillValues(value, shape, input.dtype, input.tensor, &size);
    if (!status.ok()) return status;
    if (!input.seen) {
      input.seen = true;
      input.size = size;
      input.shape = std::move(shape);
    } else if (input.size != size) {
      return absl::InvalidArgumentError(
          absl::StrCat("Expecting tensor size: ", input.size, " but got: ", size));
    } else if (input.shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Expecting shape ", ShapeString(input.shape), " but got: ", ShapeString(shape)));
    }
    return absl::OkStatus();
  }

  // How many of the signature's inputs `instance` named.
  size_t NamedBy(int64_t instance) const {
    size_t n = 0;
    for (const auto& entry : inputs_) n += entry.second.last_instance == instance ? 1 : 0;
    return n;
  }

  size_t num_inputs() const { return inputs_.size(); }

  // Gives each tensor its dtype and shape: [instances] + an instance's.
  void Finish(int64_t num_instances) {
    for (auto& entry : inputs_) {
      StackedInput& input = entry.second;
      if (input.tensor == nullptr) continue;
      input.tensor->set_dtype(input.dtype);
      TensorShapeProto* shape = input.tensor->mutable_tensor_shape();
      shape->Clear();
      shape->add_dim()->set_size(num_instances);
      for (int64_t d : input.shape) shape->add_dim()->set_size(d);
    }
  }

 private:
  const FillContext& context_;
  google::protobuf::Map<std::string, TensorProto>* const tensors_;
  std::unordered_map<std::string, StackedInput> inputs_;
};

// A member of "instances" that holds named inputs (an object, but not a
// {"b64": ...} value).
bool IsInputsObject(const JsonValue& value) {
  return value.IsObject() && !IsBase64Object(value);
}

absl::Status FillFromInstances(const JsonValue& instances, const TensorInfoMap& infos,
                               const FillContext& context,
                               google::protobuf::Map<std::string, TensorProto>* tensors) {
  const JsonValue& first = instances[0];
  if (!first.IsObject() && infos.size() > 1) {
    return absl::InvalidArgumentError(
        "instances is a plain list, but expecting list of objects as multiple input "
        "tensors required as per tensorinfo_map");
  }
  const bool named = IsInputsObject(first);
  const std::vector<std::string> names = SortedNames(infos);
  const int64_t num_instances = instances.Size();
  InstancesReader reader(infos, context, tensors);
  int64_t i = 0;
  for (const JsonValue& instance : instances.GetArray()) {
    if (named) {
      if (!IsInputsObject(instance)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Expecting object but got list at item ", i, " of input list"));
      }
      for (const auto& member : instance.GetObject()) {
        const std::string name = MemberName(member.name);
        absl::Status status = reader.Add(member.value, name, i, num_instances);
        if (!status.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Failed to process element: ", i, " key: ", name, " of '",
                           kInstancesKey, "' list. Error: ", status.ToString()));
        }
      }
      // Every member named a known input; all of them must be there.
      if (reader.NamedBy(i) != reader.num_inputs()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Failed to process element: ", i, " of '", kInstancesKey,
            "' list. JSON object: ", DebugString(instance),
            " keys must be equal to: ", absl::StrJoin(names, ",")));
      }
    } else {
      if (IsInputsObject(instance)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Expecting value/list but got object at item ", i, " of input list"));
      }
      absl::Status status = reader.Add(instance, names.front(), i, num_instances);
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Failed to process element: ", i, " of '", kInstancesKey,
                         "' list. Error: ", status.ToString()));
      }
    }
    ++i;
  }
  reader.Finish(num_instances);
  return absl::OkStatus();
}

absl::Status FillFromInputs(const JsonValue& inputs, const TensorInfoMap& infos,
                            const FillContext& context,
                            google::protobuf::Map<std::string, TensorProto>* tensors) {
  const std::vector<std::string> names = SortedNames(infos);
  if (!inputs.IsObject() || IsBase64Object(inputs)) {
    if (infos.size() > 1) {
      return absl::InvalidArgumentError(
          "inputs is a plain value/list, but expecting an object as multiple input "
          "tensors required as per tensorinfo_map");
    }
    const std::string& name = names.front();
    return FillTensor(inputs, infos.at(name).dtype(), context, &(*tensors)[name]);
  }
  for (const std::string& name : names) {
    // Looked up as a C string, as upstream does.
    const auto it = inputs.FindMember(name.c_str());
    if (it == inputs.MemberEnd()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Missing named input: ", name, " in '", kInputsKey, "' object."));
    }
    absl::Status status = FillTensor(it->value, infos.at(name).dtype(), context,
                                     &(*tensors)[name]);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// ------------------------------------------------------ JSON -> tf.Example

const char* KindName(Feature::KindCase kind) {
  switch (kind) {
    case Feature::kBytesList:
      return "bytes";
    case Feature::kFloatList:
      return "float";
    case Feature::kInt64List:
      return "int64";
    case Feature::KIND_NOT_SET:
      break;
  }
  return "UNKNOWN";
}

// Whether a value of `kind` may be added: a feature holds one kind.
absl::Status CheckKind(const std::string& name, const Feature& feature,
                       Feature::KindCase kind) {
  if (feature.kind_case() == Feature::KIND_NOT_SET || feature.kind_case() == kind) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("Unexpected element type in feature: ",
                                                 name, " expecting type: ",
                                                 KindName(feature.kind_case())));
}

absl::Status UnexpectedFeatureValue(const std::string& name, const JsonValue& value) {
  return absl::InvalidArgumentError(absl::StrCat(
      "Feature: ", name, " has element with unexpected JSON type: ", TypeString(value)));
}

absl::Status AddValueToFeature(const JsonValue& value, const std::string& name,
                               Feature* feature) {
  absl::Status status;
  switch (value.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kArrayType:
      return UnexpectedFeatureValue(name, value);
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      status = CheckKind(name, *feature, Feature::kInt64List);
      if (!status.ok()) return status;
      feature->mutable_int64_list()->add_value(value.GetBool() ? 1 : 0);
      return absl::OkStatus();
    case rapidjson::kObjectType:
      if (!IsBase64Object(value)) return UnexpectedFeatureValue(name, value);
      status = CheckKind(name, *feature, Feature::kBytesList);
      if (!status.ok()) return status;
      return DecodeBase64Object(value, feature->mutable_bytes_list()->add_value());
    case rapidjson::kStringType:
      status = CheckKind(name, *feature, Feature::kBytesList);
      if (!status.ok()) return status;
      feature->mutable_bytes_list()->add_value(value.GetString(), value.GetStringLength());
      return absl::OkStatus();
    case rapidjson::kNumberType:
      if (value.IsDouble()) {
        status = CheckKind(name, *feature, Feature::kFloatList);
        if (!status.ok()) return status;
        feature->mutable_float_list()->add_value(value.GetFloat());
        return absl::OkStatus();
      }
      status = CheckKind(name, *feature, Feature::kInt64List);
      if (!status.ok()) return status;
      if (!value.IsInt64()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Feature: ", name, " has uint64_t element. Only int64_t is supported."));
      }
      feature->mutable_int64_list()->add_value(value.GetInt64());
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status MakeExample(const JsonValue& value, Example* example) {
  if (!value.IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Example must be JSON object but got JSON ", TypeString(value)));
  }
  auto* features = example->mutable_features()->mutable_feature();
  for (const auto& member : value.GetObject()) {
    const std::string name = MemberName(member.name);
    // A repeated name replaces the feature, as upstream assigns each one.
    Feature& feature = (*features)[name];
    feature.Clear();
    if (member.value.IsArray()) {
      for (const JsonValue& item : member.value.GetArray()) {
        absl::Status status = AddValueToFeature(item, name, &feature);
        if (!status.ok()) return status;
      }
    } else {
      absl::Status status = AddValueToFeature(member.value, name, &feature);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

template <typename Request>
absl::Status FillExamplesRequest(absl::string_view json, Request* request) {
  rapidjson::Document doc;
  absl::Status status = ParseJson(json, &doc);
  if (!status.ok()) return status;
  status = FillSignature(doc, request);
  if (!status.ok()) return status;
  Input* input = request->mutable_input();
  bool has_context = false;
  auto it = doc.FindMember(kContextKey);
  if (it != doc.MemberEnd()) {
    status = MakeExample(it->value,
                         input->mutable_example_list_with_context()->mutable_context());
    if (!status.ok()) return status;
    has_context = true;
  }
  it = doc.FindMember(kExamplesKey);
  if (it == doc.MemberEnd()) {
    return FormatError(doc, "When method is classify, key '", kExamplesKey,
                       "' is expected and was not found");
  }
  if (!it->value.IsArray()) {
    return FormatError(doc, "Expecting '", kExamplesKey, "' value to be an list/array");
  }
  if (it->value.Empty()) {
    return FormatError(doc, "'", kExamplesKey, "' value is an empty array");
  }
  for (const JsonValue& value : it->value.GetArray()) {
    Example* example = has_context ? input->mutable_example_list_with_context()->add_examples()
                                   : input->mutable_example_list()->add_examples();
    status = MakeExample(value, example);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// ------------------------------------------- predict bodies without a DOM

// Numbers in arrival order, in blocks that grow geometrically: no copies as
// they grow, and no more memory than twice what they hold.
class NumberBlocks {
 public:
  void Add(double value) {
    if (blocks_.empty() || used_ == capacity_) {
      capacity_ = blocks_.empty() ? 1024 : std::min<size_t>(2 * capacity_, 1 << 20);
      blocks_.emplace_back(new double[capacity_]);
      used_ = 0;
    }
    blocks_.back()[used_++] = value;
    ++size_;
  }

  size_t size() const { return size_; }

  template <typename Fn>
  void ForEach(Fn fn) const {
    size_t capacity = 1024;
    for (size_t b = 0; b < blocks_.size(); ++b) {
      const size_t n = b + 1 == blocks_.size() ? used_ : capacity;
      for (size_t i = 0; i < n; ++i) fn(blocks_[b][i]);
      capacity = std::min<size_t>(2 * capacity, 1 << 20);
    }
  }

 private:
  std::vector<std::unique_ptr<double[]>> blocks_;
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t size_ = 0;
};

// The common predict body read in one pass of RapidJSON's reader, with no
// DOM: a root object whose first "instances" or "inputs" is one dense tensor
// of numbers (lists of equal sizes at every level, no empty list, or a single
// number for "inputs"), whose first "signature_name", if any, is a string,
// and which has not both keys. Other members are skipped unread. For such a
// body the DOM path could only succeed, with exactly these values (a
// number's double, as RapidJSON's GetDouble gives it) and this shape; for
// any other body, or a malformed one, Read declines and the DOM path gives
// the answer.
class NumericBody : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, NumericBody> {
 public:
  bool Read(absl::string_view json) {
    rapidjson::MemoryStream bytes(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
    rapidjson::Reader reader;
    return !reader.Parse<kParseFlags>(stream, *this).IsError() && captured_ &&
           !(seen_instances_ && seen_inputs_);
  }

  bool has_signature() const { return has_signature_; }
  const std::string& signature() const { return signature_; }
  bool row() const { return row_; }
  // The sizes of the lists at each level; empty for a single number.
  const std::vector<int64_t>& dims() const { return dims_; }
  const NumberBlocks& values() const { return values_; }

  // RapidJSON's handler events; false stops the reader (and declines).
  bool Null() { return Scalar(false, 0); }
  bool Bool(bool) { return Scalar(false, 0); }
  bool Int(int i) { return Scalar(true, i); }
  bool Uint(unsigned u) { return Scalar(true, u); }
  bool Int64(int64_t i) { return Scalar(true, static_cast<double>(i)); }
  bool Uint64(uint64_t u) { return Scalar(true, static_cast<double>(u)); }
  bool Double(double d) { return Scalar(true, d); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1 && member_ == Member::kSignature) {
      has_signature_ = true;
      signature_.assign(s, n);
      return true;
    }
    return Scalar(false, 0);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) member_ = Classify(absl::string_view(s, n));
    return !(seen_instances_ && seen_inputs_);
  }
  bool StartObject() {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (capturing_ || (depth_ == 1 && member_ != Member::kOther)) return false;
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    if (depth_ == 0 || (depth_ == 1 && member_ == Member::kSignature)) return false;
    if (depth_ == 1 && (member_ == Member::kInstances || member_ == Member::kInputs)) {
      capturing_ = true;
      capture_depth_ = 2;
      row_ = member_ == Member::kInstances;
    }
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType count) {
    if (capturing_) {
      if (count == 0) return false;
      const size_t level = depth_ - capture_depth_;
      if (level >= dims_.size()) dims_.resize(level + 1, 0);
      if (dims_[level] == 0) {
        dims_[level] = count;
      } else if (dims_[level] != static_cast<int64_t>(count)) {
        return false;
      }
      if (depth_ == capture_depth_) {
        capturing_ = false;
        captured_ = true;
      }
    }
    --depth_;
    return true;
  }

 private:
  enum class Member { kOther, kSignature, kInstances, kInputs };

  // Only the first of a repeated name counts, as for FindMember.
  Member Classify(absl::string_view name) {
    if (name == kSignatureNameKey && !seen_signature_) {
      seen_signature_ = true;
      return Member::kSignature;
    }
    if (name == kInstancesKey) {
      const bool first = !seen_instances_;
      seen_instances_ = true;
      return first ? Member::kInstances : Member::kOther;
    }
    if (name == kInputsKey) {
      const bool first = !seen_inputs_;
      seen_inputs_ = true;
      return first ? Member::kInputs : Member::kOther;
    }
    return Member::kOther;
  }

  bool Scalar(bool is_number, double value) {
    if (capturing_) {
      if (!is_number) return false;
      // Every number at the same depth: the depth of the first.
      const int64_t depth = static_cast<int64_t>(depth_ - capture_depth_) + 1;
      if (leaf_depth_ < 0) {
        leaf_depth_ = depth;
      } else if (leaf_depth_ != depth) {
        return false;
      }
      values_.Add(value);
      return true;
    }
    if (depth_ == 0) return false;  // the root is no object
    if (depth_ == 1) {
      switch (member_) {
        case Member::kSignature:
        case Member::kInstances:
          return false;
        case Member::kInputs:
          if (!is_number) return false;
          values_.Add(value);
          captured_ = true;
          return true;
        case Member::kOther:
          break;
      }
    }
    return true;
  }

  size_t depth_ = 0;  // open containers
  Member member_ = Member::kOther;  // of the value at depth 1 being read
  bool seen_signature_ = false;
  bool seen_instances_ = false;
  bool seen_inputs_ = false;
  bool capturing_ = false;
  bool captured_ = false;
  size_t capture_depth_ = 0;  // depth_ inside the tensor's outer list
  int64_t leaf_depth_ = -1;
  bool has_signature_ = false;
  std::string signature_;
  bool row_ = false;
  std::vector<int64_t> dims_;
  NumberBlocks values_;
};

void FillFloatingTensor(const NumericBody& body, DataType dtype, TensorProto* tensor) {
  tensor->set_dtype(dtype);
  SetShape(body.dims(), tensor);
  const int n = static_cast<int>(std::min<size_t>(body.values().size(),
                                                  std::numeric_limits<int>::max()));
  if (dtype == DT_FLOAT) {
    auto* field = tensor->mutable_float_val();
    field->Reserve(n);
    // Through double, as RapidJSON's GetFloat.
    body.values().ForEach([field](double v) { field->Add(static_cast<float>(v)); });
  } else {
    auto* field = tensor->mutable_double_val();
    field->Reserve(n);
    body.values().ForEach([field](double v) { field->Add(v); });
  }
}

// The DOM path: every body. `known_infos` is the signature's inputs when
// they have already been looked up.
absl::Status FillPredictRequestFromDom(absl::string_view json,
                                       const TensorInfoMapGetter& get_tensorinfo_map,
                                       const TensorInfoMap* known_infos, PredictRequest* request,
                                       JsonPredictRequestFormat* format) {
  rapidjson::Document doc;
  absl::Status status = ParseJson(json, &doc);
  if (!status.ok()) return status;
  status = FillSignature(doc, request);
  if (!status.ok()) return status;

  TensorInfoMap fetched_infos;
  if (known_infos == nullptr) {
    const std::string& signature_name = request->model_spec().signature_name();
    status = get_tensorinfo_map(signature_name, &fetched_infos);
    if (!status.ok()) return status;
    if (fetched_infos.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Failed to get input map for signature: ",
                       signature_name.empty() ? "DEFAULT" : signature_name));
    }
  }
  const TensorInfoMap& infos = known_infos != nullptr ? *known_infos : fetched_infos;

  FillContext context;
  context.body_size = json.size();
  auto* tensors = request->mutable_inputs();
  tensors->clear();
  const auto instances = doc.FindMember(kInstancesKey);
  const auto inputs = doc.FindMember(kInputsKey);
  if (instances != doc.MemberEnd()) {
    if (inputs != doc.MemberEnd()) {
      return FormatError(doc, "Not formatted correctly expecting only one of '", kInputsKey,
                         "' or '", kInstancesKey, "' keys to exist ");
    }
    if (!instances->value.IsArray()) {
      return FormatError(doc, "Expecting '", kInstancesKey, "' to be an list/array");
    }
    if (instances->value.Empty()) {
      return FormatError(doc, "No values in '", kInstancesKey, "' array");
    }
    *format = JsonPredictRequestFormat::kRow;
    return FillFromInstances(instances->value, infos, context, tensors);
  }
  if (inputs != doc.MemberEnd()) {
    *format = JsonPredictRequestFormat::kColumnar;
    return FillFromInputs(inputs->value, infos, context, tensors);
  }
  return absl::InvalidArgumentError("Missing 'inputs' or 'instances' key");
}

}  // namespace

absl::Status FillPredictRequestFromJson(absl::string_view json,
                                        const TensorInfoMapGetter& get_tensorinfo_map,
                                        PredictRequest* request,
                                        JsonPredictRequestFormat* format) {
  *format = JsonPredictRequestFormat::kInvalid;
  NumericBody body;
  if (!body.Read(json)) {
    return FillPredictRequestFromDom(json, get_tensorinfo_map, nullptr, request, format);
  }
  if (body.has_signature()) request->mutable_model_spec()->set_signature_name(body.signature());
  TensorInfoMap infos;
  const std::string& signature_name = request->model_spec().signature_name();
  absl::Status status = get_tensorinfo_map(signature_name, &infos);
  if (!status.ok()) return status;
  if (infos.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Failed to get input map for signature: ",
                     signature_name.empty() ? "DEFAULT" : signature_name));
  }
  const DataType dtype = infos.begin()->second.dtype();
  if (infos.size() != 1 || (dtype != DT_FLOAT && dtype != DT_DOUBLE)) {
    return FillPredictRequestFromDom(json, get_tensorinfo_map, &infos, request, format);
  }
  auto* tensors = request->mutable_inputs();
  tensors->clear();
  FillFloatingTensor(body, dtype, &(*tensors)[infos.begin()->first]);
  *format = body.row() ? JsonPredictRequestFormat::kRow : JsonPredictRequestFormat::kColumnar;
  return absl::OkStatus();
}

absl::Status FillClassificationRequestFromJson(absl::string_view json,
                                               ClassificationRequest* request) {
  return FillExamplesRequest(json, request);
}

absl::Status FillRegressionRequestFromJson(absl::string_view json, RegressionRequest* request) {
  return FillExamplesRequest(json, request);
}

namespace {

// ------------------------------------------------------- tensors -> JSON

// PrettyWriter's output stream, writing straight into the answer.
class StringOutput {
 public:
  using Ch = char;
  explicit StringOutput(std::string* out) : out_(out) {}
  void Put(char c) { out_->push_back(c); }
  void Flush() {}

 private:
  std::string* const out_;
};

using JsonWriter = rapidjson::PrettyWriter<StringOutput>;

// Upstream's number format: printf's %g (six significant digits) when that
// reads back as the same value, else all the digits the type needs; ".0" on
// whole numbers so they still read as decimals; NaN and (-)Infinity bare.
bool ParseDecimal(absl::string_view text, float* value) { return absl::SimpleAtof(text, value); }
bool ParseDecimal(absl::string_view text, double* value) { return absl::SimpleAtod(text, value); }

template <typename T>
bool WriteDecimal(JsonWriter* writer, T value) {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "");
  if (std::isnan(value)) return writer->RawValue("NaN", 3, rapidjson::kNumberType);
  if (std::isinf(value)) {
    return std::signbit(value) ? writer->RawValue("-Infinity", 9, rapidjson::kNumberType)
                               : writer->RawValue("Infinity", 8, rapidjson::kNumberType);
  }
  // What absl::StrCat writes for a float or double (into a buffer, not a
  // string: this runs for every output value).
  char text[32];
  size_t size = absl::numbers_internal::SixDigitsToBuffer(value, text);
  T back;
  if (!ParseDecimal(absl::string_view(text, size), &back)) return false;
  if (back != value) {
    size = static_cast<size_t>(absl::SNPrintF(
        text, sizeof(text) - 2, "%.*g", std::numeric_limits<T>::max_digits10, value));
  }
  if (std::memchr(text, '.', size) == nullptr && std::memchr(text, 'e', size) == nullptr) {
    text[size++] = '.';
    text[size++] = '0';
  }
  return writer->RawValue(text, size, rapidjson::kNumberType);
}

bool IsJsonWritable(DataType dtype) {
  switch (dtype) {
    case DT_FLOAT:
    case DT_DOUBLE:
    case DT_INT32:
    case DT_INT16:
    case DT_INT8:
    case DT_UINT8:
    case DT_STRING:
    case DT_INT64:
    case DT_BOOL:
    case DT_UINT32:
    case DT_UINT64:
      return true;
    default:
      return false;
  }
}

size_t ElementSize(DataType dtype) {
  switch (dtype) {
    case DT_INT8:
    case DT_UINT8:
    case DT_BOOL:
      return 1;
    case DT_INT16:
      return 2;
    case DT_FLOAT:
    case DT_INT32:
    case DT_UINT32:
      return 4;
    case DT_DOUBLE:
    case DT_INT64:
    case DT_UINT64:
      return 8;
    default:
      return 0;
  }
}

// Element i of a typed field as Tensor::FromProto fills it: past the end,
// the last value; of an empty field, zero.
template <typename T, typename Field>
T FieldValue(const Field& field, int64_t i) {
  const int n = field.size();
  if (n == 0) return T();
  return static_cast<T>(field.Get(i < n ? static_cast<int>(i) : n - 1));
}

// One output's elements in row-major order, read as TensorFlow's
// Tensor::FromProto decodes the proto, without materializing a fill.
class OutputValues {
 public:
  absl::Status Init(const std::string& name, const TensorProto& proto,
                    int64_t max_fill_bytes) {
    proto_ = &proto;
    absl::Status status = CheckEmptyLists(name, proto.tensor_shape(), max_fill_bytes);
    if (!status.ok()) return status;
    if (!IsJsonWritable(proto.dtype())) return absl::OkStatus();  // fails when written
    std::string detail;
    switch (CheckDecodable(proto, max_fill_bytes, &detail)) {
      case DecodeCheck::kUnparseable:
        return ParsingError(name);
      case DecodeCheck::kFillTooLarge:
        return absl::InvalidArgumentError(
            absl::StrCat("tensor parsing error: ", name, ": ", detail));
      case DecodeCheck::kOk:
        break;
    }
    int64_t count = 1;
    for (const auto& dim : proto.tensor_shape().dim()) count *= dim.size();
    const std::string& content = proto.tensor_content();
    if (content.empty() || count == 0) return absl::OkStatus();
    if (proto.dtype() == DT_STRING) return DecodeStrings(name, content, count);
    if (content.size() != static_cast<size_t>(count) * ElementSize(proto.dtype())) {
      return ParsingError(name);
    }
    if (proto.dtype() == DT_BOOL &&
        std::any_of(content.begin(), content.end(), [](char c) { return c != 0 && c != 1; })) {
      return ParsingError(name);  // TensorFlow takes only 0 and 1
    }
    content_ = content.data();
    return absl::OkStatus();
  }

  // Writes element `i`; false for a dtype JSON cannot carry.
  bool Write(int64_t i, bool as_bytes, JsonWriter* writer) const {
    switch (proto_->dtype()) {
      case DT_FLOAT:
        return WriteDecimal(writer, Get<float>(proto_->float_val(), i));
      case DT_DOUBLE:
        return WriteDecimal(writer, Get<double>(proto_->double_val(), i));
      case DT_INT32:
        return writer->Int(Get<int32_t>(proto_->int_val(), i));
      case DT_INT16:
        return writer->Int(Get<int16_t>(proto_->int_val(), i));
      case DT_INT8:
        return writer->Int(Get<int8_t>(proto_->int_val(), i));
      case DT_UINT8:
        return writer->Int(Get<uint8_t>(proto_->int_val(), i));
      case DT_INT64:
        return writer->Int64(Get<int64_t>(proto_->int64_val(), i));
      case DT_BOOL:
        return writer->Bool(Get<bool>(proto_->bool_val(), i));
      case DT_UINT32:
        return writer->Uint(Get<uint32_t>(proto_->uint32_val(), i));
      case DT_UINT64:
        return writer->Uint64(Get<uint64_t>(proto_->uint64_val(), i));
      case DT_STRING: {
        const absl::string_view s = String(i);
        if (!as_bytes) return writer->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        const std::string encoded = absl::Base64Escape(s);
        writer->StartObject();
        writer->Key(kBase64Key, sizeof(kBase64Key) - 1);
        const bool ok = writer->String(encoded.data(),
                                       static_cast<rapidjson::SizeType>(encoded.size()));
        writer->EndObject();
        return ok;
      }
      default:
        return false;
    }
  }

  const TensorProto& proto() const { return *proto_; }

 private:
  static absl::Status ParsingError(const std::string& name) {
    return absl::InvalidArgumentError(absl::StrCat("tensor parsing error: ", name));
  }

  // A shape with a zero dimension holds no values, yet its dimensions before
  // that one can ask for any number of empty lists ("[]"): they count against
  // the same limit as a fill.
  static absl::Status CheckEmptyLists(const std::string& name, const TensorShapeProto& shape,
                                      int64_t max_fill_bytes) {
    if (max_fill_bytes < 0) return absl::OkStatus();
    int64_t lists = 1;
    bool beyond_limit = false;
    for (const auto& dim : shape.dim()) {
      const int64_t d = dim.size();
      if (d < 0) return absl::OkStatus();  // nothing is written for it
      if (d == 0) {
        if (!beyond_limit && lists <= max_fill_bytes / 2) return absl::OkStatus();
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor parsing error: ", name, ": its shape [",
            absl::StrJoin(shape.dim(), ",",
                          [](std::string* out, const TensorShapeProto::Dim& dim) {
                            absl::StrAppend(out, dim.size());
                          }),
            "] would be written as ", beyond_limit ? "more than " : "",
            beyond_limit ? max_fill_bytes / 2 : lists,
            " empty lists, more than --max_tensor_fill_bytes=", max_fill_bytes));
      }
      if (lists > max_fill_bytes / d) {
        beyond_limit = true;
      } else {
        lists *= d;
      }
    }
    return absl::OkStatus();
  }

  // TensorFlow's string list encoding: every length as a varint32, then the
  // bytes, which must end exactly at the end.
  absl::Status DecodeStrings(const std::string& name, const std::string& content,
                             int64_t count) {
    std::vector<uint32_t> lengths;
    size_t pos = 0;
    uint64_t total = 0;
    for (int64_t i = 0; i < count; ++i) {
      uint32_t length = 0;
      int shift = 0;
      while (true) {
        if (pos >= content.size() || shift > 28) return ParsingError(name);
        const uint8_t byte = static_cast<uint8_t>(content[pos++]);
        length |= static_cast<uint32_t>(byte & 0x7F) << shift;
        shift += 7;
        if ((byte & 0x80) == 0) break;
      }
      lengths.push_back(length);
      total += length;
    }
    if (pos + total != content.size()) return ParsingError(name);
    strings_.reserve(lengths.size());
    for (uint32_t length : lengths) {
      strings_.emplace_back(content.data() + pos, length);
      pos += length;
    }
    return absl::OkStatus();
  }

  template <typename T, typename Field>
  T Get(const Field& field, int64_t i) const {
    if (content_ != nullptr) {
      T value;
      std::memcpy(&value, content_ + i * sizeof(T), sizeof(T));
      return value;
    }
    return FieldValue<T>(field, i);
  }

  absl::string_view String(int64_t i) const {
    if (!strings_.empty()) return strings_[i];
    const auto& field = proto_->string_val();
    if (field.empty()) return absl::string_view();
    return field.Get(i < field.size() ? static_cast<int>(i) : field.size() - 1);
  }

  const TensorProto* proto_ = nullptr;
  const char* content_ = nullptr;
  std::vector<absl::string_view> strings_;
};

bool IsBytesOutput(const std::string& name, const TensorProto& tensor) {
  return tensor.dtype() == DT_STRING && absl::EndsWith(name, kBytesSuffix);
}

// Writes the elements of dims [dim, rank) starting at *offset, as nested lists
// (a single value when dim == rank), and advances *offset past them.
absl::Status WriteValues(const OutputValues& values, bool as_bytes, int dim,
                         JsonWriter* writer, int64_t* offset) {
  const TensorShapeProto& shape = values.proto().tensor_shape();
  if (dim >= shape.dim_size()) {
    if (!values.Write(*offset, as_bytes, writer)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Failed to write JSON value for tensor type: ",
                       DataTypeString(values.proto().dtype())));
    }
    ++*offset;
    return absl::OkStatus();
  }
  writer->StartArray();
  const int64_t size = shape.dim(dim).size();
  for (int64_t i = 0; i < size; ++i) {
    absl::Status status = WriteValues(values, as_bytes, dim + 1, writer, offset);
    if (!status.ok()) return status;
  }
  writer->EndArray();
  return absl::OkStatus();
}

using NamedTensor = std::pair<const std::string*, const TensorProto*>;

std::vector<NamedTensor> SortedTensors(
    const google::protobuf::Map<std::string, TensorProto>& tensors) {
  std::vector<NamedTensor> sorted;
  sorted.reserve(tensors.size());
  for (const auto& entry : tensors) sorted.emplace_back(&entry.first, &entry.second);
  std::sort(sorted.begin(), sorted.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return *a.first < *b.first; });
  return sorted;
}

// An output's alias as upstream writes it: as a C string, up to a NUL.
void WriteKey(const std::string& name, JsonWriter* writer) {
  writer->Key(name.c_str(), static_cast<rapidjson::SizeType>(std::strlen(name.c_str())));
}

absl::Status MakeRowJson(const std::vector<NamedTensor>& tensors, int64_t max_fill_bytes,
                         std::string* json) {
  // Every output's first dimension is the batch, the same for all.
  int64_t batch_size = -1;
  for (const auto& [name, tensor] : tensors) {
    if (tensor->tensor_shape().dim_size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Tensor name: ", *name, " has no shape information "));
    }
    const int64_t size = tensor->tensor_shape().dim(0).size();
    if (batch_size >= 0 && batch_size != size) {
      return absl::InvalidArgumentError(absl::StrCat("Tensor name: ", *name,
                                                     " has inconsistent batch size: ", size,
                                                     " expecting: ", batch_size));
    }
    batch_size = size;
  }
  std::vector<OutputValues> values(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    absl::Status status = values[t].Init(*tensors[t].first, *tensors[t].second, max_fill_bytes);
    if (!status.ok()) return status;
  }
  std::vector<int64_t> offsets(tensors.size(), 0);
  const bool named = tensors.size() > 1;
  std::string out;
  StringOutput stream(&out);
  JsonWriter writer(stream);
  writer.StartObject();
  writer.Key(kPredictionsKey, sizeof(kPredictionsKey) - 1);
  writer.StartArray();
  for (int64_t item = 0; item < batch_size; ++item) {
    if (named) writer.StartObject();
    // Each row's lists on one line; the rows themselves one per line.
    writer.SetFormatOptions(rapidjson::kFormatSingleLineArray);
    for (size_t t = 0; t < tensors.size(); ++t) {
      const std::string& name = *tensors[t].first;
      if (named) WriteKey(name, &writer);
      absl::Status status = WriteValues(values[t], IsBytesOutput(name, *tensors[t].second),
                                        /*dim=*/1, &writer, &offsets[t]);
      if (!status.ok()) return status;
    }
    writer.SetFormatOptions(rapidjson::kFormatDefault);
    if (named) writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  *json = std::move(out);
  return absl::OkStatus();
}

absl::Status MakeColumnarJson(const std::vector<NamedTensor>& tensors, int64_t max_fill_bytes,
                              std::string* json) {
  std::vector<OutputValues> values(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    absl::Status status = values[t].Init(*tensors[t].first, *tensors[t].second, max_fill_bytes);
    if (!status.ok()) return status;
  }
  const bool named = tensors.size() > 1;
  std::string out;
  StringOutput stream(&out);
  JsonWriter writer(stream);
  writer.StartObject();
  writer.Key(kOutputsKey, sizeof(kOutputsKey) - 1);
  if (named) writer.StartObject();
  for (size_t t = 0; t < tensors.size(); ++t) {
    const std::string& name = *tensors[t].first;
    if (named) WriteKey(name, &writer);
    int64_t offset = 0;
    absl::Status status = WriteValues(values[t], IsBytesOutput(name, *tensors[t].second),
                                      /*dim=*/0, &writer, &offset);
    if (!status.ok()) return status;
  }
  if (named) writer.EndObject();
  writer.EndObject();
  *json = std::move(out);
  return absl::OkStatus();
}

}  // namespace

absl::Status MakeJsonFromTensors(const google::protobuf::Map<std::string, TensorProto>& tensors,
                                 JsonPredictRequestFormat format, std::string* json,
                                 int64_t max_fill_bytes) {
  if (tensors.empty()) {
    return absl::InvalidArgumentError("Cannot convert empty tensor map to JSON");
  }
  switch (format) {
    case JsonPredictRequestFormat::kRow:
      return MakeRowJson(SortedTensors(tensors), max_fill_bytes, json);
    case JsonPredictRequestFormat::kColumnar:
      return MakeColumnarJson(SortedTensors(tensors), max_fill_bytes, json);
    case JsonPredictRequestFormat::kInvalid:
      break;
  }
  return absl::InvalidArgumentError("Invalid request format");
}

absl::Status MakeJsonFromClassificationResult(const ClassificationResult& result,
                                              std::string* json) {
  if (result.classifications_size() == 0) {
    return absl::InvalidArgumentError("Cannot convert empty ClassificationResults to JSON");
  }
  std::string out;
  StringOutput stream(&out);
  JsonWriter writer(stream);
  writer.StartObject();
  writer.Key(kResultsKey, sizeof(kResultsKey) - 1);
  writer.StartArray();
  for (const Classifications& classifications : result.classifications()) {
    // One line per example.
    writer.SetFormatOptions(rapidjson::kFormatSingleLineArray);
    writer.StartArray();
    for (const Class& c : classifications.classes()) {
      writer.StartArray();
      writer.String(c.label().data(), static_cast<rapidjson::SizeType>(c.label().size()));
      WriteDecimal(&writer, c.score());
      writer.EndArray();
    }
    writer.EndArray();
    writer.SetFormatOptions(rapidjson::kFormatDefault);
  }
  writer.EndArray();
  writer.EndObject();
  *json = std::move(out);
  return absl::OkStatus();
}

absl::Status MakeJsonFromRegressionResult(const RegressionResult& result, std::string* json) {
  if (result.regressions_size() == 0) {
    return absl::InvalidArgumentError("Cannot convert empty RegressionResults to JSON");
  }
  std::string out;
  StringOutput stream(&out);
  JsonWriter writer(stream);
  writer.StartObject();
  writer.Key(kResultsKey, sizeof(kResultsKey) - 1);
  writer.SetFormatOptions(rapidjson::kFormatSingleLineArray);
  writer.StartArray();
  for (const Regression& regression : result.regressions()) {
    WriteDecimal(&writer, regression.value());
  }
  writer.EndArray();
  writer.EndObject();
  *json = std::move(out);
  return absl::OkStatus();
}

void MakeJsonFromStatus(const absl::Status& status, std::string* json) {
  if (status.ok()) return;
  const absl::string_view message = status.message();
  std::string out;
  StringOutput stream(&out);
  JsonWriter writer(stream);
  writer.StartObject();
  writer.Key(kErrorKey, sizeof(kErrorKey) - 1);
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  json->append(out);
}

}  // namespace serving
}  // namespace tensorflow

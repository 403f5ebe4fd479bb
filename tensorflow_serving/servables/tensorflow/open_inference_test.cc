// Tests the Open Inference Protocol's translation to and from the Predict
// core: datatypes, versions and labels, a v2 request as a PredictRequest
// (raw and typed contents, and what v2 refuses before Predict sees it), a
// PredictResponse as a v2 response, and metadata and config of a signature.

#include "tensorflow_serving/servables/tensorflow/open_inference.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

std::string Message(const absl::Status& status) { return std::string(status.message()); }

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string LengthPrefixed(const std::vector<std::string>& strings) {
  std::string raw;
  for (const std::string& s : strings) {
    const uint32_t length = s.size();
    raw.append(reinterpret_cast<const char*>(&length), 4);
    raw += s;
  }
  return raw;
}

inference::ModelInferRequest::InferInputTensor* AddInput(inference::ModelInferRequest* request,
                                                         const std::string& name,
                                                         const std::string& datatype,
                                                         std::vector<int64_t> shape) {
  auto* input = request->add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t dim : shape) input->add_shape(dim);
  return input;
}

absl::Status Convert(inference::ModelInferRequest request, PredictRequest* predict,
                     std::vector<std::string>* names = nullptr) {
  ModelSpec spec;
  spec.set_name("m");
  std::vector<std::string> unused;
  return ToPredictRequest(spec, &request, predict, names != nullptr ? names : &unused);
}

void TestDatatypes() {
  const std::vector<std::pair<DataType, std::string>> pairs = {
      {DT_BOOL, "BOOL"},   {DT_UINT8, "UINT8"}, {DT_UINT16, "UINT16"}, {DT_UINT32, "UINT32"},
      {DT_UINT64, "UINT64"}, {DT_INT8, "INT8"},   {DT_INT16, "INT16"},   {DT_INT32, "INT32"},
      {DT_INT64, "INT64"}, {DT_HALF, "FP16"},   {DT_FLOAT, "FP32"},    {DT_DOUBLE, "FP64"},
      {DT_STRING, "BYTES"}};
  for (const auto& [dtype, name] : pairs) {
    CHECK_TRUE(OpenInferenceDatatype(dtype) == name);
    CHECK_TRUE(DataTypeOfOpenInferenceDatatype(name) == dtype);
  }
  CHECK_TRUE(OpenInferenceDatatype(DT_BFLOAT16) == nullptr);
  CHECK_TRUE(OpenInferenceDatatype(DT_COMPLEX64) == nullptr);
  CHECK_TRUE(DataTypeOfOpenInferenceDatatype("fp32") == DT_INVALID);
  CHECK_TRUE(OpenInferenceElementSize(DT_DOUBLE) == 8);
  CHECK_TRUE(OpenInferenceElementSize(DT_STRING) == 0);
}

void TestVersionsAndLabels() {
  ModelSpec spec;
  CHECK_TRUE(MakeOpenInferenceModelSpec("m", "", &spec).ok());
  CHECK_TRUE(spec.name() == "m" && !spec.has_version() && spec.version_label().empty());
  CHECK_TRUE(MakeOpenInferenceModelSpec("m", "42", &spec).ok());
  CHECK_TRUE(spec.version().value() == 42);
  CHECK_TRUE(MakeOpenInferenceModelSpec("m", "stable", &spec).ok());
  CHECK_TRUE(spec.version_label() == "stable" && !spec.has_version());
  const absl::Status status = MakeOpenInferenceModelSpec("m", "99999999999999999999", &spec);
  CHECK_TRUE(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_TRUE(Message(status) == "Failed to convert version: 99999999999999999999 to numeric.");
}

void TestRawInputs() {
  inference::ModelInferRequest request;
  AddInput(&request, "x", "FP32", {1, 2});
  AddInput(&request, "s", "BYTES", {2});
  request.add_raw_input_contents(Bytes<float>({0.5f, -1.0f}));
  request.add_raw_input_contents(LengthPrefixed({"ab", ""}));
  (*request.mutable_parameters())["signature_name"].set_string_param("sig");
  request.add_outputs()->set_name("z");
  request.add_outputs()->set_name("a");
  PredictRequest predict;
  std::vector<std::string> names;
  CHECK_TRUE(Convert(request, &predict, &names).ok());
  CHECK_TRUE(predict.model_spec().name() == "m");
  CHECK_TRUE(predict.model_spec().signature_name() == "sig");
  const TensorProto& x = predict.inputs().at("x");
  CHECK_TRUE(x.dtype() == DT_FLOAT && x.tensor_shape().dim_size() == 2 &&
             x.tensor_shape().dim(1).size() == 2);
  CHECK_TRUE(x.tensor_content() == Bytes<float>({0.5f, -1.0f}));
  const TensorProto& s = predict.inputs().at("s");
  CHECK_TRUE(s.dtype() == DT_STRING && s.string_val_size() == 2 && s.string_val(0) == "ab" &&
             s.string_val(1).empty());
  CHECK_TRUE(names == std::vector<std::string>({"z", "a"}));
  CHECK_TRUE(predict.output_filter_size() == 2 && predict.output_filter(0) == "z");

  // What v2 refuses before Predict sees the request.
  inference::ModelInferRequest bad = request;
  bad.set_raw_input_contents(0, Bytes<float>({0.5f}));
  CHECK_TRUE(Message(Convert(bad, &predict)) ==
             "input 'x': 4 bytes of raw data for shape [1,2] of FP32, which needs 8");
  bad = request;
  bad.set_raw_input_contents(1, LengthPrefixed({"ab"}) + std::string("\x05\0\0\0ab", 6));
  CHECK_TRUE(Message(Convert(bad, &predict)) ==
             "input 's': raw BYTES data ends inside element 1 (each element is a 4-byte "
             "little-endian length and that many bytes)");
  bad = request;
  bad.set_raw_input_contents(1, LengthPrefixed({"a", "b", "c"}));
  CHECK_TRUE(Message(Convert(bad, &predict)) ==
             "input 's': raw BYTES data holds more than the 2 elements of shape [2]");
  bad = request;
  bad.mutable_raw_input_contents()->RemoveLast();
  CHECK_TRUE(Message(Convert(bad, &predict)) == "raw_input_contents has 1 entries for 2 inputs");
  bad = request;
  bad.mutable_inputs(1)->set_name("x");
  CHECK_TRUE(Message(Convert(bad, &predict)) == "input 'x' is given twice");
  bad = request;
  bad.mutable_inputs(0)->set_datatype("FLOAT");
  CHECK_TRUE(Message(Convert(bad, &predict)) ==
             "input 'x': 'FLOAT' is not an Open Inference Protocol datatype");
  bad = request;
  bad.mutable_inputs(0)->set_shape(0, -1);
  CHECK_TRUE(Message(Convert(bad, &predict)) == "input 'x': shape [-1,2] has a negative dimension");
  bad = request;
  (*bad.mutable_parameters())["signature_name"].set_int64_param(1);
  CHECK_TRUE(Message(Convert(bad, &predict)) == "the parameter signature_name must be a string");
  bad = request;
  bad.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
  CHECK_TRUE(Message(Convert(bad, &predict)) ==
             "input 'x' has contents, and the request raw_input_contents");
  inference::ModelInferRequest bools;
  AddInput(&bools, "b", "BOOL", {2});
  bools.add_raw_input_contents(std::string("\x01\x02", 2));
  CHECK_TRUE(Message(Convert(bools, &predict)) == "input 'b': BOOL data must be bytes 0 or 1");
}

void TestTypedInputs() {
  inference::ModelInferRequest request;
  auto* i8 = AddInput(&request, "i8", "INT8", {2})->mutable_contents();
  i8->add_int_contents(-128);
  i8->add_int_contents(127);
  AddInput(&request, "u16", "UINT16", {1})->mutable_contents()->add_uint_contents(65535);
  auto* f = AddInput(&request, "f", "FP32", {2})->mutable_contents();
  f->add_fp32_contents(1.5f);
  f->add_fp32_contents(2.5f);
  AddInput(&request, "s", "BYTES", {1})->mutable_contents()->add_bytes_contents("hi");
  AddInput(&request, "b", "BOOL", {1})->mutable_contents()->add_bool_contents(true);
  PredictRequest predict;
  CHECK_TRUE(Convert(request, &predict).ok());
  CHECK_TRUE(predict.inputs().at("i8").dtype() == DT_INT8 &&
             predict.inputs().at("i8").int_val(0) == -128);
  CHECK_TRUE(predict.inputs().at("u16").int_val(0) == 65535);
  CHECK_TRUE(predict.inputs().at("f").float_val_size() == 2 &&
             predict.inputs().at("f").float_val(1) == 2.5f);
  CHECK_TRUE(predict.inputs().at("s").string_val(0) == "hi");
  CHECK_TRUE(predict.inputs().at("b").bool_val(0));

  inference::ModelInferRequest bad = request;
  bad.mutable_inputs(0)->mutable_contents()->set_int_contents(0, 128);
  CHECK_TRUE(Message(Convert(bad, &predict)) == "input 'i8': 128 is out of the range of INT8");
  bad = request;
  bad.mutable_inputs(2)->mutable_contents()->add_fp32_contents(3);
  CHECK_TRUE(Message(Convert(bad, &predict)) ==
             "input 'f': 3 values in fp32_contents for shape [2] of FP32, which needs 2");
  inference::ModelInferRequest half;
  AddInput(&half, "h", "FP16", {1});
  CHECK_TRUE(Message(Convert(half, &predict)) ==
             "input 'h': FP16 data has no typed contents field; send it as raw_input_contents");
}

void TestOutputs() {
  PredictResponse predict;
  TensorProto& y = (*predict.mutable_outputs())["y"];
  y.set_dtype(DT_FLOAT);
  y.mutable_tensor_shape()->add_dim()->set_size(2);
  y.set_tensor_content(Bytes<float>({1.0f, 2.0f}));
  TensorProto& a = (*predict.mutable_outputs())["a"];
  a.set_dtype(DT_STRING);
  a.mutable_tensor_shape()->add_dim()->set_size(2);
  a.set_tensor_content(std::string("\x01\x03xabc", 6));  // varint lengths 1 and 3
  PredictResponse copy = predict;
  inference::ModelInferResponse response;
  CHECK_TRUE(FromPredictResponse({}, &copy, &response).ok());
  CHECK_TRUE(response.outputs_size() == 2 && response.outputs(0).name() == "a" &&
             response.outputs(1).name() == "y");  // by key
  CHECK_TRUE(response.outputs(0).datatype() == "BYTES" && response.outputs(1).datatype() == "FP32");
  CHECK_TRUE(response.outputs(1).shape_size() == 1 && response.outputs(1).shape(0) == 2);
  CHECK_TRUE(response.raw_output_contents(0) == LengthPrefixed({"x", "abc"}));
  CHECK_TRUE(response.raw_output_contents(1) == Bytes<float>({1.0f, 2.0f}));
  copy = predict;
  response.Clear();
  CHECK_TRUE(FromPredictResponse({"y"}, &copy, &response).ok());
  CHECK_TRUE(response.outputs_size() == 1 && response.outputs(0).name() == "y");

  (*predict.mutable_outputs())["c"].set_dtype(DT_COMPLEX64);
  response.Clear();
  const absl::Status status = FromPredictResponse({}, &predict, &response);
  CHECK_TRUE(status.code() == absl::StatusCode::kUnimplemented);
  CHECK_TRUE(Message(status) ==
             "output 'c' is DT_COMPLEX64, which has no Open Inference Protocol datatype; request "
             "the other outputs by name to leave it out");
}

SignatureDef MnistLike() {
  SignatureDef signature;
  TensorInfo& images = (*signature.mutable_inputs())["images"];
  images.set_name("x:0");
  images.set_dtype(DT_FLOAT);
  images.mutable_tensor_shape()->add_dim()->set_size(-1);
  images.mutable_tensor_shape()->add_dim()->set_size(784);
  TensorInfo& scores = (*signature.mutable_outputs())["scores"];
  scores.set_name("y:0");
  scores.set_dtype(DT_FLOAT);
  scores.mutable_tensor_shape()->add_dim()->set_size(-1);
  scores.mutable_tensor_shape()->add_dim()->set_size(10);
  TensorInfo& keys = (*signature.mutable_outputs())["keys"];
  keys.set_name("k:0");
  keys.set_dtype(DT_STRING);
  keys.mutable_tensor_shape()->set_unknown_rank(true);
  return signature;
}

void TestMetadataAndConfig() {
  inference::ModelMetadataResponse metadata;
  CHECK_TRUE(ModelMetadataOfSignature("mnist", {1, 2}, MnistLike(), &metadata).ok());
  CHECK_TRUE(metadata.name() == "mnist" && metadata.platform() == "tensorflow_savedmodel");
  CHECK_TRUE(metadata.versions_size() == 2 && metadata.versions(1) == "2");
  CHECK_TRUE(metadata.inputs_size() == 1 && metadata.inputs(0).name() == "images" &&
             metadata.inputs(0).datatype() == "FP32" && metadata.inputs(0).shape_size() == 2 &&
             metadata.inputs(0).shape(0) == -1 && metadata.inputs(0).shape(1) == 784);
  CHECK_TRUE(metadata.outputs_size() == 2 && metadata.outputs(0).name() == "keys" &&
             metadata.outputs(0).datatype() == "BYTES" && metadata.outputs(0).shape_size() == 1 &&
             metadata.outputs(0).shape(0) == -1);

  inference::ModelConfig config;
  CHECK_TRUE(ModelConfigOfSignature("mnist", MnistLike(), 8, &config).ok());
  CHECK_TRUE(config.max_batch_size() == 8 && config.platform() == "tensorflow_savedmodel");
  CHECK_TRUE(config.input_size() == 1 && config.input(0).data_type() == inference::TYPE_FP32 &&
             config.input(0).dims_size() == 1 && config.input(0).dims(0) == 784);
  CHECK_TRUE(config.output(1).name() == "scores" && config.output(1).dims_size() == 1);
  CHECK_TRUE(ModelConfigOfSignature("mnist", MnistLike(), 0, &config).ok());
  CHECK_TRUE(config.input(0).dims_size() == 2 && config.input(0).dims(0) == -1);

  SignatureDef complex = MnistLike();
  (*complex.mutable_outputs())["c"].set_name("c:0");
  (*complex.mutable_outputs())["c"].set_dtype(DT_COMPLEX128);
  const absl::Status status = ModelMetadataOfSignature("m", {}, complex, &metadata);
  CHECK_TRUE(status.code() == absl::StatusCode::kUnimplemented);
  CHECK_TRUE(Message(status).find("output 'c' is DT_COMPLEX128, which has no Open Inference "
                                  "Protocol datatype") == 0);
  SignatureDef sparse = MnistLike();
  (*sparse.mutable_inputs())["sp"].mutable_coo_sparse()->set_values_tensor_name("v:0");
  CHECK_TRUE(ModelMetadataOfSignature("m", {}, sparse, &metadata).code() ==
             absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  tensorflow::serving::TestDatatypes();
  tensorflow::serving::TestVersionsAndLabels();
  tensorflow::serving::TestRawInputs();
  tensorflow::serving::TestTypedInputs();
  tensorflow::serving::TestOutputs();
  tensorflow::serving::TestMetadataAndConfig();
  std::puts("open_inference_test: OK");
  return 0;
}

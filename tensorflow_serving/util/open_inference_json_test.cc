// Tests the Open Inference Protocol's REST bodies: JSON and binary tensor
// data into raw input contents, what is refused, and responses with JSON
// data, binary data and both; metadata, config and readiness bodies.

#include "tensorflow_serving/util/open_inference_json.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string Parse(const std::string& body, inference::ModelInferRequest* request,
                  int64_t header_length = -1) {
  request->Clear();
  const absl::Status status = ParseInferRequestJson(body, header_length, request);
  return status.ok() ? "" : std::string(status.message());
}

void TestJsonData() {
  inference::ModelInferRequest request;
  CHECK_TRUE(Parse(R"({"id":"7","parameters":{"signature_name":"s","n":3,"f":0.5,"b":true},
      "inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"data":[[1,2.5],[-3,0.1]]},
                {"name":"w","datatype":"BYTES","shape":[2],"data":["ab","\u00e9"]},
                {"name":"k","datatype":"INT64","shape":[1],"data":[-9007199254740993]},
                {"name":"t","datatype":"BOOL","shape":[2],"data":[true,false]}],
      "outputs":[{"name":"y","parameters":{"binary_data":true}}]})",
                   &request) == "");
  CHECK_TRUE(request.id() == "7");
  CHECK_TRUE(request.parameters().at("signature_name").string_param() == "s");
  CHECK_TRUE(request.parameters().at("n").int64_param() == 3);
  CHECK_TRUE(request.parameters().at("f").double_param() == 0.5);
  CHECK_TRUE(request.parameters().at("b").bool_param());
  CHECK_TRUE(request.inputs_size() == 4 && request.raw_input_contents_size() == 4);
  CHECK_TRUE(request.inputs(0).shape_size() == 2 && request.inputs(0).datatype() == "FP32");
  CHECK_TRUE(request.raw_input_contents(0) == Bytes<float>({1, 2.5f, -3, 0.1f}));
  CHECK_TRUE(request.raw_input_contents(1) == std::string("\x02\0\0\0ab\x02\0\0\0\xc3\xa9", 12));
  CHECK_TRUE(request.raw_input_contents(2) == Bytes<int64_t>({-9007199254740993LL}));
  CHECK_TRUE(request.raw_input_contents(3) == std::string("\x01\x00", 2));
  CHECK_TRUE(request.outputs_size() == 1 && request.outputs(0).name() == "y" &&
             request.outputs(0).parameters().at("binary_data").bool_param());
}

void TestRefused() {
  inference::ModelInferRequest request;
  CHECK_TRUE(Parse("{", &request).find("JSON parse error: ") == 0);
  CHECK_TRUE(Parse("[]", &request) == "the request must be a JSON object");
  CHECK_TRUE(Parse("{}", &request) == "the request has no 'inputs' array");
  CHECK_TRUE(Parse(R"({"id":1,"inputs":[]})", &request) == "'id' must be a string");
  const std::string input = R"({"inputs":[{"name":"x","datatype":"%s","shape":%s,"data":%s}]})";
  auto one = [&](const char* datatype, const char* shape, const char* data) {
    char body[512];
    std::snprintf(body, sizeof(body), input.c_str(), datatype, shape, data);
    return Parse(body, &request);
  };
  CHECK_TRUE(one("FP32", "[3]", "[1,2]") ==
             "input 'x': 2 values in 'data' for shape [3] of FP32, which needs 3");
  CHECK_TRUE(one("INT8", "[1]", "[128]") ==
             "input 'x': element 0 of 'data' is not in range (INT8)");
  CHECK_TRUE(one("INT32", "[1]", "[1.5]") ==
             "input 'x': element 0 of 'data' is not an integer (INT32)");
  CHECK_TRUE(one("UINT8", "[1]", "[-1]") ==
             "input 'x': element 0 of 'data' is not a non-negative integer (UINT8)");
  CHECK_TRUE(one("BOOL", "[1]", "[1]") == "input 'x': element 0 of 'data' is not a boolean (BOOL)");
  CHECK_TRUE(one("BYTES", "[1]", "[1]") == "input 'x': element 0 of 'data' is not a string (BYTES)");
  CHECK_TRUE(one("FP16", "[1]", "[1]") == "input 'x': FP16 data must be sent as binary data");
  CHECK_TRUE(one("F32", "[1]", "[1]") ==
             "input 'x': 'F32' is not an Open Inference Protocol datatype");
  CHECK_TRUE(one("FP32", "[-1]", "[1]") == "input 'x': 'shape' must hold non-negative integers");
  CHECK_TRUE(one("FP32", "[4294967296,4294967296]", "[1]") == "input 'x': 'shape' is too large");
  CHECK_TRUE(Parse(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})", &request) ==
             "input 'x': no 'data' and no binary_data_size");
  CHECK_TRUE(Parse(R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})", &request) ==
             "input 0 has no 'name' string");
  CHECK_TRUE(Parse(R"({"inputs":[],"outputs":[{}]})", &request) ==
             "every requested output must be an object with a 'name' string");
  CHECK_TRUE(Parse(R"({"inputs":[],"parameters":{"p":[1]}})", &request) ==
             "the request: parameter 'p' must be a string, a number or a boolean");
  std::string deep = std::string(70, '[') + "1" + std::string(70, ']');
  CHECK_TRUE(one("FP32", "[1]", deep.c_str()) ==
             "input 'x': 'data' nests deeper than 64 levels");
}

void TestBinaryData() {
  const std::string json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
      R"({"name":"b","datatype":"INT32","shape":[1],"data":[5]},)"
      R"({"name":"c","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]})";
  const std::string binary = Bytes<float>({1, 2}) + std::string("\x02\0\0\0hi", 6);
  inference::ModelInferRequest request;
  CHECK_TRUE(Parse(json + binary, &request, json.size()) == "");
  CHECK_TRUE(request.raw_input_contents(0) == Bytes<float>({1, 2}));
  CHECK_TRUE(request.raw_input_contents(1) == Bytes<int32_t>({5}));
  CHECK_TRUE(request.raw_input_contents(2) == std::string("\x02\0\0\0hi", 6));
  CHECK_TRUE(Parse(json + binary + "x", &request, json.size()) ==
             "1 bytes of binary data are claimed by no input");
  CHECK_TRUE(Parse(json + binary.substr(0, 10), &request, json.size()) ==
             "input 'c': binary_data_size 6 goes beyond the 2 bytes of binary data left");
  CHECK_TRUE(Parse(json, &request, json.size() + 1) ==
             "Inference-Header-Content-Length " + std::to_string(json.size() + 1) +
                 " exceeds the body's " + std::to_string(json.size()) + " bytes");
  CHECK_TRUE(
      Parse(R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":[1],)"
            R"("parameters":{"binary_data_size":4}}]})" + Bytes<float>({1}),
            &request, 102) == "input 'a': both 'data' and binary_data_size");
  CHECK_TRUE(Parse(R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],)"
                   R"("parameters":{"binary_data_size":-4}}]})",
                   &request, -1) == "input 'a': binary_data_size must be a non-negative integer");
}

inference::ModelInferResponse Response() {
  inference::ModelInferResponse response;
  response.set_model_name("m");
  response.set_model_version("3");
  auto add = [&](const char* name, const char* datatype, std::vector<int64_t> shape,
                 std::string raw) {
    auto* output = response.add_outputs();
    output->set_name(name);
    output->set_datatype(datatype);
    for (int64_t dim : shape) output->add_shape(dim);
    response.add_raw_output_contents(std::move(raw));
  };
  add("f", "FP32", {1, 3}, Bytes<float>({0.1f, 1e-8f, -2}));
  add("h", "FP16", {2}, Bytes<uint16_t>({0x3c00, 0xc000}));  // 1, -2
  add("s", "BYTES", {1}, std::string("\x03\0\0\0a\"b", 7));
  add("d", "FP64", {1}, Bytes<double>({0.1}));
  add("u", "UINT64", {1}, Bytes<uint64_t>({18446744073709551615ULL}));
  return response;
}

void TestResponses() {
  inference::ModelInferRequest request;
  request.set_id("req");
  inference::ModelInferResponse response = Response();
  response.set_id("req");
  std::string body;
  int64_t header_length = 0;
  CHECK_TRUE(WriteInferResponseJson(request, &response, &body, &header_length).ok());
  CHECK_TRUE(header_length == -1);
  CHECK_TRUE(body ==
             R"({"model_name":"m","model_version":"3","id":"req","outputs":[)"
             R"({"name":"f","datatype":"FP32","shape":[1,3],"data":[0.1,1e-08,-2]},)"
             R"({"name":"h","datatype":"FP16","shape":[2],"data":[1,-2]},)"
             R"({"name":"s","datatype":"BYTES","shape":[1],"data":["a\"b"]},)"
             R"({"name":"d","datatype":"FP64","shape":[1],"data":[0.1]},)"
             R"({"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}]})");

  // Binary for every output unless one asks otherwise.
  (*request.mutable_parameters())["binary_data_output"].set_bool_param(true);
  auto* s = request.add_outputs();
  s->set_name("s");
  (*s->mutable_parameters())["binary_data"].set_bool_param(false);
  response = Response();
  CHECK_TRUE(WriteInferResponseJson(request, &response, &body, &header_length).ok());
  const std::string json = body.substr(0, header_length);
  CHECK_TRUE(json ==
             R"({"model_name":"m","model_version":"3","outputs":[)"
             R"({"name":"f","datatype":"FP32","shape":[1,3],"parameters":{"binary_data_size":12}},)"
             R"({"name":"h","datatype":"FP16","shape":[2],"parameters":{"binary_data_size":4}},)"
             R"({"name":"s","datatype":"BYTES","shape":[1],"data":["a\"b"]},)"
             R"({"name":"d","datatype":"FP64","shape":[1],"parameters":{"binary_data_size":8}},)"
             R"({"name":"u","datatype":"UINT64","shape":[1],"parameters":{"binary_data_size":8}}]})");
  CHECK_TRUE(body.substr(header_length) ==
             Bytes<float>({0.1f, 1e-8f, -2}) + Bytes<uint16_t>({0x3c00, 0xc000}) +
                 Bytes<double>({0.1}) + Bytes<uint64_t>({18446744073709551615ULL}));
}

void TestOtherBodies() {
  inference::ServerMetadataResponse server;
  server.set_name("S");
  server.set_version("1.0");
  server.add_extensions("binary_tensor_data");
  CHECK_TRUE(ServerMetadataJson(server) ==
             R"({"name":"S","version":"1.0","extensions":["binary_tensor_data"]})");
  inference::ModelMetadataResponse metadata;
  metadata.set_name("m");
  metadata.add_versions("1");
  metadata.set_platform("tensorflow_savedmodel");
  auto* input = metadata.add_inputs();
  input->set_name("x");
  input->set_datatype("FP32");
  input->add_shape(-1);
  input->add_shape(784);
  CHECK_TRUE(ModelMetadataJson(metadata) ==
             R"({"name":"m","versions":["1"],"platform":"tensorflow_savedmodel",)"
             R"("inputs":[{"name":"x","datatype":"FP32","shape":[-1,784]}],"outputs":[]})");
  inference::ModelConfig config;
  config.set_name("m");
  config.set_platform("tensorflow_savedmodel");
  config.set_max_batch_size(8);
  auto* config_input = config.add_input();
  config_input->set_name("x");
  config_input->set_data_type(inference::TYPE_FP32);
  config_input->add_dims(784);
  CHECK_TRUE(ModelConfigJson(config) ==
             R"({"name":"m","platform":"tensorflow_savedmodel","max_batch_size":8,)"
             R"("input":[{"name":"x","data_type":"TYPE_FP32","dims":[784]}],"output":[]})");
  CHECK_TRUE(ModelReadyJson("a\"b", false) == R"({"name":"a\"b","ready":false})");
  CHECK_TRUE(ErrorJson("no \"x\"") == R"({"error":"no \"x\""})");
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  tensorflow::serving::TestJsonData();
  tensorflow::serving::TestRefused();
  tensorflow::serving::TestBinaryData();
  tensorflow::serving::TestResponses();
  tensorflow::serving::TestOtherBodies();
  std::puts("open_inference_json_test: OK");
  return 0;
}

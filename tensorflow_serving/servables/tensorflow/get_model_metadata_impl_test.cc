// Tests the native GetModelMetadata: upstream's request checks, and the
// SignatureDefMap packed in an Any, with map entries in key order.

#include "tensorflow_serving/servables/tensorflow/get_model_metadata_impl.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "tensorflow_serving/servables/tensorflow/fake_tf_c_api.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

void TestValidation() {
  GetModelMetadataRequest request;
  CHECK_TRUE(ValidateGetModelMetadataRequest(request).message() == "Missing ModelSpec");
  request.mutable_model_spec()->set_name("m");
  const absl::Status none = ValidateGetModelMetadataRequest(request);
  CHECK_TRUE(none.code() == absl::StatusCode::kInvalidArgument);
  CHECK_TRUE(none.message() ==
             "GetModelMetadataRequest must specify at least one metadata_field");
  request.add_metadata_field("signature_def");
  CHECK_TRUE(ValidateGetModelMetadataRequest(request).ok());
  request.add_metadata_field("signature_def");
  CHECK_TRUE(ValidateGetModelMetadataRequest(request).ok());
  request.add_metadata_field("nope");
  CHECK_TRUE(ValidateGetModelMetadataRequest(request).message() ==
             "Metadata field nope is not supported");
}

void TestSignatureDefMap() {
  MetaGraphDef meta_graph;
  for (const char* name : {"serving_default", "b", "a", "ab", ""}) {
    SignatureDef& signature = (*meta_graph.mutable_signature_def())[name];
    signature.set_method_name(std::string("method of ") + name);
    (*signature.mutable_inputs())["x"].set_name("x:0");
    (*signature.mutable_inputs())["x_2"].set_name("x_2:0");
  }
  std::unique_ptr<SavedModelBundle> bundle;
  CHECK_TRUE(SavedModelBundle::Create(&FakeTfCApi(), nullptr, meta_graph.SerializeAsString(),
                                      {}, "", "", &bundle)
                 .ok());
  GetModelMetadataRequest request;
  request.mutable_model_spec()->set_name("m");
  request.mutable_model_spec()->set_signature_name("ignored");
  request.mutable_model_spec()->set_version_label("ignored too");
  request.add_metadata_field("signature_def");
  GetModelMetadataResponse response;
  CHECK_TRUE(GetModelMetadata(*bundle, 7, request, &response).ok());
  CHECK_TRUE(response.model_spec().name() == "m");
  CHECK_TRUE(response.model_spec().signature_name().empty());
  CHECK_TRUE(response.model_spec().version().value() == 7);
  CHECK_TRUE(response.model_spec().version_label().empty());
  CHECK_TRUE(response.metadata_size() == 1);
  const google::protobuf::Any& any = response.metadata().at("signature_def");
  CHECK_TRUE(any.type_url() == "type.googleapis.com/tensorflow.serving.SignatureDefMap");
  SignatureDefMap map;
  CHECK_TRUE(any.UnpackTo(&map));
  CHECK_TRUE(map.signature_def_size() == 5);
  CHECK_TRUE(map.signature_def().at("ab").method_name() == "method of ab");
  CHECK_TRUE(map.signature_def().at("").inputs().at("x_2").name() == "x_2:0");
  // Entries by key: "", "a", "ab", "b", "serving_default".
  const std::string& bytes = any.value();
  size_t last = 0;
  for (const char* name : {"a", "ab", "b", "serving_default"}) {
    const std::string key = std::string("\n") + static_cast<char>(std::strlen(name)) + name;
    const size_t at = bytes.find(key);
    CHECK_TRUE(at != std::string::npos && at > last);
    last = at;
  }
  // The same bytes every time.
  GetModelMetadataResponse again;
  CHECK_TRUE(GetModelMetadata(*bundle, 7, request, &again).ok());
  CHECK_TRUE(again.metadata().at("signature_def").value() == bytes);
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestValidation();
  TestSignatureDefMap();
  std::puts("get_model_metadata_impl_test: OK");
  return 0;
}

// Tests what the native request cores share (util.h): tf.Example inputs as
// a string tensor, response ModelSpecs, NamedTensors and the status of a
// signature the server cannot run. Tensors are made without TensorFlow.

#include "tensorflow_serving/servables/tensorflow/util.h"

#include <cstdio>
#include <string>

#include "tensorflow/core/platform/ctstring.h"
#include "tensorflow_serving/servables/tensorflow/fake_tf_c_api.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

Example MakeExample(const std::string& name, float value) {
  Example example;
  (*example.mutable_features()->mutable_feature())[name].mutable_float_list()->add_value(value);
  return example;
}

std::string StringAt(const TfCApi& api, const TfTensor& tensor, int i) {
  const auto* strings = static_cast<const TF_TString*>(api.TensorData(tensor.get()));
  return std::string(TF_TString_GetDataPointer(&strings[i]), TF_TString_GetSize(&strings[i]));
}

void TestExampleList() {
  const TfCApi& api = FakeTfCApi();
  Input input;
  Example big = MakeExample("x", 1.5f);
  // Large enough that the string lives on the heap, not inline.
  for (int i = 0; i < 100; ++i) {
    (*big.mutable_features()->mutable_feature())["y"].mutable_float_list()->add_value(i);
  }
  *input.mutable_example_list()->add_examples() = big;
  *input.mutable_example_list()->add_examples() = Example();
  TfTensor tensor;
  int64_t count = 0;
  CHECK_TRUE(InputToSerializedExampleTensor(api, input, &tensor, &count).ok());
  CHECK_TRUE(count == 2);
  CHECK_TRUE(api.TensorType(tensor.get()) == TF_STRING);
  CHECK_TRUE(api.NumDims(tensor.get()) == 1 && api.Dim(tensor.get(), 0) == 2);
  Example parsed;
  CHECK_TRUE(parsed.ParseFromString(StringAt(api, tensor, 0)));
  CHECK_TRUE(parsed.features().feature().at("y").float_list().value_size() == 100);
  CHECK_TRUE(StringAt(api, tensor, 1).empty());
}

void TestMapEntriesAreSortedByKey() {
  const TfCApi& api = FakeTfCApi();
  Input input;
  Example example;
  for (const char* name : {"b", "a", "ab", ""}) {
    (*example.mutable_features()->mutable_feature())[name].mutable_int64_list()->add_value(1);
  }
  *input.mutable_example_list()->add_examples() = example;
  TfTensor tensor;
  int64_t count = 0;
  CHECK_TRUE(InputToSerializedExampleTensor(api, input, &tensor, &count).ok());
  const std::string bytes = StringAt(api, tensor, 0);
  // Each entry's key follows "\n<entry length>\n<key length>".
  const size_t empty = bytes.find(std::string("\n\x00", 2));
  const size_t a = bytes.find("\n\x01" "a");
  const size_t ab = bytes.find("\n\x02" "ab");
  const size_t b = bytes.find("\n\x01" "b");
  CHECK_TRUE(empty != std::string::npos && a != std::string::npos);
  CHECK_TRUE(empty < a && a < ab && ab < b);
}

void TestContextGoesFirst() {
  const TfCApi& api = FakeTfCApi();
  Input input;
  auto* list = input.mutable_example_list_with_context();
  *list->mutable_context() = MakeExample("c", 2.f);
  *list->add_examples() = MakeExample("x", 1.f);
  *list->add_examples() = MakeExample("c", 3.f);
  TfTensor tensor;
  int64_t count = 0;
  CHECK_TRUE(InputToSerializedExampleTensor(api, input, &tensor, &count).ok());
  CHECK_TRUE(count == 2);
  const std::string context = list->context().SerializeAsString();
  CHECK_TRUE(StringAt(api, tensor, 0) == context + list->examples(0).SerializeAsString());
  // Parsing the concatenation merges them, the example's own features winning.
  Example merged;
  CHECK_TRUE(merged.ParseFromString(StringAt(api, tensor, 1)));
  CHECK_TRUE(merged.features().feature().at("c").float_list().value(0) == 3.f);
  CHECK_TRUE(merged.ParseFromString(StringAt(api, tensor, 0)));
  CHECK_TRUE(merged.features().feature().at("c").float_list().value(0) == 2.f);
  CHECK_TRUE(merged.features().feature().at("x").float_list().value(0) == 1.f);
}

void TestEmptyInputs() {
  const TfCApi& api = FakeTfCApi();
  TfTensor tensor;
  int64_t count = 0;
  Input input;
  absl::Status status = InputToSerializedExampleTensor(api, input, &tensor, &count);
  CHECK_TRUE(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_TRUE(status.message() == "Input is empty.");
  input.mutable_example_list();
  CHECK_TRUE(InputToSerializedExampleTensor(api, input, &tensor, &count).message() ==
             "Input is empty.");
  *input.mutable_example_list_with_context()->mutable_context() = MakeExample("c", 1.f);
  CHECK_TRUE(InputToSerializedExampleTensor(api, input, &tensor, &count).message() ==
             "Input is empty.");
  CHECK_TRUE(tensor.get() == nullptr);
}

void TestMakeModelSpec() {
  ModelSpec spec;
  spec.set_version_label("stale");
  const std::string empty;
  MakeModelSpec("m", &empty, 3, &spec);
  CHECK_TRUE(spec.name() == "m" && spec.signature_name() == "serving_default");
  CHECK_TRUE(spec.has_version() && spec.version().value() == 3);
  CHECK_TRUE(spec.version_label().empty());
  const std::string name = "sig";
  MakeModelSpec("m", &name, std::nullopt, &spec);
  CHECK_TRUE(spec.signature_name() == "sig" && !spec.has_version());
  MakeModelSpec("m", nullptr, 0, &spec);
  CHECK_TRUE(spec.signature_name().empty() && spec.has_version());
}

void TestNamesAndShapes() {
  CHECK_TRUE(SignatureNameOrDefault("") == "serving_default");
  CHECK_TRUE(SignatureNameOrDefault("s") == "s");
  CHECK_TRUE(ShapeDebugString({}) == "[]");
  CHECK_TRUE(ShapeDebugString({2, 1, 0}) == "[2,1,0]");
  NamedTensors tensors;
  tensors.Add("a:0", TF_Output{nullptr, 0}, "inputs");
  tensors.Add("b:0", TF_Output{nullptr, 1}, "scores");
  tensors.Add("a:0", TF_Output{nullptr, 0}, "classes");
  CHECK_TRUE(tensors.names.size() == 2 && tensors.tensors.size() == 2);
  CHECK_TRUE(tensors.aliases[0] == "inputs" && tensors.aliases[1] == "scores");
}

void TestUnsupported() {
  const absl::Status status = Unsupported("signature s: input x: a sparse or composite tensor");
  CHECK_TRUE(status.code() == absl::StatusCode::kUnimplemented);
  CHECK_TRUE(status.message() ==
             "signature s: input x: a sparse or composite tensor: not supported by this server");
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestExampleList();
  TestMapEntriesAreSortedByKey();
  TestContextGoesFirst();
  TestEmptyInputs();
  TestMakeModelSpec();
  TestNamesAndShapes();
  TestUnsupported();
  std::puts("util_test: OK");
  return 0;
}

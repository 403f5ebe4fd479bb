// Tests the pure parts of the native Classify: which signatures classify
// (PreProcessClassification) and the ClassificationResult built from output
// tensors (PostProcessClassificationResult), with upstream's error texts.

#include "tensorflow_serving/servables/tensorflow/classifier.h"

#include <cstdio>
#include <string>
#include <vector>

#include "tensorflow/core/platform/ctstring.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

void AddTensor(google::protobuf::Map<std::string, TensorInfo>* map, const std::string& alias,
               const std::string& name) {
  (*map)[alias].set_name(name);
}

SignatureDef Signature(const std::vector<std::string>& outputs,
                       const std::string& input = "inputs") {
  SignatureDef signature;
  signature.set_method_name(kClassifyMethodName);
  AddTensor(signature.mutable_inputs(), input, "examples:0");
  for (const std::string& alias : outputs) {
    AddTensor(signature.mutable_outputs(), alias, alias + ":0");
  }
  return signature;
}

TensorView Floats(std::vector<int64_t> dims, const std::vector<float>& values) {
  TensorView view;
  view.dtype = DT_FLOAT;
  view.dims = std::move(dims);
  view.data = reinterpret_cast<const char*>(values.data());
  view.byte_size = values.size() * sizeof(float);
  view.num_elements = static_cast<int64_t>(values.size());
  return view;
}

// TF_TStrings that free themselves.
struct Strings {
  explicit Strings(const std::vector<std::string>& values) : strings(values.size()) {
    for (size_t i = 0; i < values.size(); ++i) {
      TF_TString_Init(&strings[i]);
      TF_TString_Copy(&strings[i], values[i].data(), values[i].size());
    }
  }
  ~Strings() {
    for (TF_TString& s : strings) TF_TString_Dealloc(&s);
  }
  TensorView View(std::vector<int64_t> dims) const {
    TensorView view;
    view.dtype = DT_STRING;
    view.dims = std::move(dims);
    view.data = reinterpret_cast<const char*>(strings.data());
    view.byte_size = strings.size() * sizeof(TF_TString);
    view.num_elements = static_cast<int64_t>(strings.size());
    return view;
  }
  std::vector<TF_TString> strings;
};

absl::Status Post(const SignatureDef& signature, int64_t num_examples,
                  const std::vector<std::string>& names, const std::vector<TensorView>& views,
                  ClassificationResult* result) {
  result->Clear();
  return PostProcessClassificationResult(signature, num_examples, names, views, result);
}

void TestPreProcess() {
  std::string input;
  std::vector<std::string> outputs;
  CHECK_TRUE(PreProcessClassification(Signature({"scores", "classes"}), &input, &outputs).ok());
  CHECK_TRUE(input == "examples:0");
  CHECK_TRUE(outputs == std::vector<std::string>({"classes:0", "scores:0"}));

  SignatureDef two_inputs = Signature({"scores"});
  AddTensor(two_inputs.mutable_inputs(), "more", "more:0");
  CHECK_TRUE(PreProcessClassification(two_inputs, nullptr, nullptr).message() ==
             "Expected one input Tensor.");
  CHECK_TRUE(PreProcessClassification(Signature({"scores", "classes", "x"}), nullptr, nullptr)
                 .message() == "Expected one or two output Tensors, found 3");
  CHECK_TRUE(PreProcessClassification(Signature({}), nullptr, nullptr).message() ==
             "Expected one or two output Tensors, found 0");
  const SignatureDef wrong_input = Signature({"scores"}, "examples");
  const absl::Status no_inputs = PreProcessClassification(wrong_input, nullptr, nullptr);
  CHECK_TRUE(no_inputs.code() == absl::StatusCode::kInvalidArgument);
  CHECK_TRUE(no_inputs.message() == "No classification inputs found in SignatureDef: " +
                                         wrong_input.DebugString());
  const SignatureDef wrong_outputs = Signature({"probabilities"});
  CHECK_TRUE(PreProcessClassification(wrong_outputs, nullptr, nullptr).message() ==
             "Expected classification signature outputs to contain at least one of "
             "\"classes\" or \"scores\". Signature was: " +
                 wrong_outputs.DebugString());

  // The method name matters only with --enable_signature_method_name_check.
  SignatureDef predict = Signature({"scores"});
  predict.set_method_name(kPredictMethodName);
  CHECK_TRUE(PreProcessClassification(predict, nullptr, nullptr).ok());
  SetSignatureMethodNameCheckFeature(true);
  CHECK_TRUE(PreProcessClassification(predict, nullptr, nullptr).message() ==
             "Expected classification signature method_name to be "
             "tensorflow/serving/classify. Was: tensorflow/serving/predict");
  CHECK_TRUE(PreProcessClassification(Signature({"scores"}), nullptr, nullptr).ok());
  SetSignatureMethodNameCheckFeature(false);
}

void TestClassesAndScores() {
  const SignatureDef signature = Signature({"classes", "scores"});
  const Strings labels({"a", "b", std::string("\xff\0z", 3), "dd"});
  const std::vector<float> scores = {0.5f, -1.f, 2.f, 0.25f};
  ClassificationResult result;
  CHECK_TRUE(Post(signature, 2, {"classes:0", "scores:0"},
                  {labels.View({2, 2}), Floats({2, 2}, scores)}, &result)
                 .ok());
  CHECK_TRUE(result.classifications_size() == 2);
  CHECK_TRUE(result.classifications(0).classes_size() == 2);
  CHECK_TRUE(result.classifications(0).classes(1).label() == "b");
  CHECK_TRUE(result.classifications(0).classes(1).score() == -1.f);
  CHECK_TRUE(result.classifications(1).classes(0).label() == std::string("\xff\0z", 3));
  CHECK_TRUE(result.classifications(1).classes(1).score() == 0.25f);

  // Rows of a batch's outputs: the views start inside bigger buffers.
  const std::vector<float> batch = {9.f, 9.f, 1.f, 2.f};
  TensorView rows = Floats({2, 2}, batch);
  rows.data += 2 * sizeof(float);
  rows.dims = {1, 2};
  CHECK_TRUE(Post(Signature({"scores"}), 1, {"scores:0"}, {rows}, &result).ok());
  CHECK_TRUE(result.classifications(0).classes(1).score() == 2.f);
  CHECK_TRUE(result.classifications(0).classes(1).label().empty());
}

void TestOneOutput() {
  const Strings labels({"x", "y", "z"});
  ClassificationResult result;
  CHECK_TRUE(
      Post(Signature({"classes"}), 3, {"classes:0"}, {labels.View({3, 1})}, &result).ok());
  CHECK_TRUE(result.classifications_size() == 3);
  CHECK_TRUE(result.classifications(2).classes(0).label() == "z");
  CHECK_TRUE(!result.classifications(2).classes(0).SerializeAsString().empty());
  // No classes at all: one empty Classifications per example.
  const std::vector<float> none;
  CHECK_TRUE(Post(Signature({"scores"}), 2, {"scores:0"}, {Floats({2, 0}, none)}, &result).ok());
  CHECK_TRUE(result.classifications_size() == 2 && result.classifications(1).classes_size() == 0);
}

void TestSameTensorForClassesAndScores() {
  SignatureDef signature = Signature({"classes", "scores"});
  (*signature.mutable_outputs())["classes"].set_name("scores:0");
  const std::vector<float> scores = {1.f, 2.f};
  ClassificationResult result;
  const absl::Status status =
      Post(signature, 1, {"scores:0"}, {Floats({1, 2}, scores)}, &result);
  CHECK_TRUE(status.message() == "Expected classes Tensor of DT_STRING. Got: DT_FLOAT");
}

void TestBadOutputs() {
  const std::vector<float> values(12, 1.f);
  ClassificationResult result;
  const SignatureDef scores_only = Signature({"scores"});
  CHECK_TRUE(Post(scores_only, 2, {"scores:0"}, {Floats({2, 3, 2}, values)}, &result).message() ==
             "Expected Tensor shape: [batch_size num_classes] but got [2,3,2]");
  CHECK_TRUE(Post(scores_only, 1, {"scores:0"}, {Floats({}, values)}, &result).message() ==
             "Expected Tensor shape: [batch_size num_classes] but got []");
  TensorView ints = Floats({2, 2}, values);
  ints.dtype = DT_INT32;
  CHECK_TRUE(Post(scores_only, 2, {"scores:0"}, {ints}, &result).message() ==
             "Expected scores Tensor of DT_FLOAT. Got: DT_INT32");
  CHECK_TRUE(Post(scores_only, 3, {"scores:0"}, {Floats({2, 2}, values)}, &result).message() ==
             "Expected scores output batch size of 3. Got: 2");
  const SignatureDef classes_only = Signature({"classes"});
  CHECK_TRUE(Post(classes_only, 2, {"classes:0"}, {Floats({2, 2}, values)}, &result).message() ==
             "Expected classes Tensor of DT_STRING. Got: DT_FLOAT");
  const Strings labels({"a", "b", "c", "d"});
  CHECK_TRUE(Post(classes_only, 1, {"classes:0"}, {labels.View({4, 1})}, &result).message() ==
             "Expected classes output batch size of 1. Got: 4");
  const absl::Status mismatch = Post(Signature({"classes", "scores"}), 2,
                                     {"classes:0", "scores:0"},
                                     {labels.View({2, 2}), Floats({2, 6}, values)}, &result);
  CHECK_TRUE(mismatch.code() == absl::StatusCode::kInvalidArgument);
  CHECK_TRUE(mismatch.message() ==
             "Tensors class and score should match in dim_size(1). Got 2 vs. 6");
  // An output that was not fetched is not there to check.
  CHECK_TRUE(Post(Signature({"classes", "scores"}), 1, {"scores:0"},
                  {Floats({1, 2}, values)}, &result)
                 .ok());
  CHECK_TRUE(result.classifications(0).classes_size() == 2);
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestPreProcess();
  TestClassesAndScores();
  TestOneOutput();
  TestSameTensorForClassesAndScores();
  TestBadOutputs();
  std::puts("classifier_test: OK");
  return 0;
}

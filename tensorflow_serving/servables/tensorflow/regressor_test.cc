// Tests the pure parts of the native Regress: which signatures regress
// (PreProcessRegression) and the RegressionResult built from the output
// tensor (PostProcessRegressionResult), with upstream's error texts.

#include "tensorflow_serving/servables/tensorflow/regressor.h"

#include <cstdio>
#include <string>
#include <vector>

#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

SignatureDef Signature(const std::vector<std::string>& outputs,
                       const std::string& input = "inputs") {
  SignatureDef signature;
  signature.set_method_name(kRegressMethodName);
  (*signature.mutable_inputs())[input].set_name("examples:0");
  for (const std::string& alias : outputs) {
    (*signature.mutable_outputs())[alias].set_name(alias + ":0");
  }
  return signature;
}

template <typename T>
TensorView View(DataType dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
  TensorView view;
  view.dtype = dtype;
  view.dims = std::move(dims);
  view.data = reinterpret_cast<const char*>(values.data());
  view.byte_size = values.size() * sizeof(T);
  view.num_elements = static_cast<int64_t>(values.size());
  return view;
}

absl::Status Post(int64_t num_examples, const TensorView& view, RegressionResult* result,
                  const SignatureDef& signature = Signature({"outputs"})) {
  result->Clear();
  return PostProcessRegressionResult(signature, num_examples, {"outputs:0"}, {view}, result);
}

void TestPreProcess() {
  std::string input;
  std::vector<std::string> outputs = {"earlier:0"};
  CHECK_TRUE(PreProcessRegression(Signature({"outputs"}), &input, &outputs).ok());
  CHECK_TRUE(input == "examples:0");
  CHECK_TRUE(outputs == std::vector<std::string>({"earlier:0", "outputs:0"}));
  SignatureDef two_inputs = Signature({"outputs"});
  (*two_inputs.mutable_inputs())["more"].set_name("more:0");
  CHECK_TRUE(PreProcessRegression(two_inputs, nullptr, nullptr).message() ==
             "Expected one input Tensor.");
  CHECK_TRUE(PreProcessRegression(Signature({"outputs", "more"}), nullptr, nullptr).message() ==
             "Expected one output Tensor.");
  const SignatureDef wrong_input = Signature({"outputs"}, "x");
  CHECK_TRUE(PreProcessRegression(wrong_input, nullptr, nullptr).message() ==
             "No regression inputs found in SignatureDef: " + wrong_input.DebugString());
  const SignatureDef wrong_output = Signature({"y"});
  CHECK_TRUE(PreProcessRegression(wrong_output, nullptr, nullptr).message() ==
             "No regression outputs found in SignatureDef: " + wrong_output.DebugString());
  SignatureDef classify = Signature({"outputs"});
  classify.set_method_name(kClassifyMethodName);
  CHECK_TRUE(PreProcessRegression(classify, nullptr, nullptr).ok());
  SetSignatureMethodNameCheckFeature(true);
  CHECK_TRUE(PreProcessRegression(classify, nullptr, nullptr).message() ==
             "Expected regression signature method_name to be tensorflow/serving/regress. "
             "Was: tensorflow/serving/classify");
  SetSignatureMethodNameCheckFeature(false);
}

void TestValues() {
  const std::vector<float> values = {1.5f, -2.f, 0.f};
  RegressionResult result;
  CHECK_TRUE(Post(3, View(DT_FLOAT, {3}, values), &result).ok());
  CHECK_TRUE(result.regressions_size() == 3 && result.regressions(1).value() == -2.f);
  CHECK_TRUE(Post(3, View(DT_FLOAT, {3, 1}, values), &result).ok());
  CHECK_TRUE(result.regressions(0).value() == 1.5f);
}

void TestBadOutputs() {
  const std::vector<float> values = {1.f, 2.f, 3.f, 4.f};
  RegressionResult result;
  CHECK_TRUE(Post(2, View(DT_FLOAT, {2, 2}, values), &result).message() ==
             "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but "
             "got [2,2]");
  CHECK_TRUE(Post(1, View(DT_FLOAT, {}, values), &result).message() ==
             "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but "
             "got []");
  CHECK_TRUE(Post(2, View(DT_FLOAT, {4, 1}, values), &result).message() ==
             "Input batch size did not match output batch size: 2 vs. 4");
  const std::vector<double> doubles = {1.0, 2.0};
  CHECK_TRUE(Post(2, View(DT_DOUBLE, {2}, doubles), &result).message() ==
             "Expected output Tensor of DT_FLOAT.  Got: DT_DOUBLE");
  CHECK_TRUE(result.regressions_size() == 0);
  const absl::Status missing = PostProcessRegressionResult(
      Signature({"outputs"}), 1, {"other:0"}, {View(DT_FLOAT, {1}, values)}, &result);
  CHECK_TRUE(missing.message() == "Could not find output tensor 'outputs:0'");
  const SignatureDef without = Signature({"y"});
  const absl::Status no_outputs = Post(1, View(DT_FLOAT, {1}, values), &result, without);
  CHECK_TRUE(no_outputs.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_TRUE(no_outputs.message() ==
             "No regression outputs found in SignatureDef: " + without.DebugString());
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestPreProcess();
  TestValues();
  TestBadOutputs();
  std::puts("regressor_test: OK");
  return 0;
}

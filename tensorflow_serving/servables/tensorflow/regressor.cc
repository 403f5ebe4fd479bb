#include "tensorflow_serving/servables/tensorflow/regressor.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

// A Regress call between its run's start and its end.
struct PendingRegression {
  const SignatureDef* signature;
  const RegressionRequest* request;
  RegressionResponse* response;
  RunDone done;
  std::string signature_name;
  NamedTensors feeds;
  NamedTensors fetches;
};

}  // namespace

absl::Status PreProcessRegression(const SignatureDef& signature,
                                  std::string* input_tensor_name,
                                  std::vector<std::string>* output_tensor_names) {
  if (GetSignatureMethodNameCheckFeature() &&
      signature.method_name() != kRegressMethodName) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected regression signature method_name to be ",
                     kRegressMethodName, ". Was: ", signature.method_name()));
  }
  if (signature.inputs().size() != 1) {
    return absl::InvalidArgumentError("Expected one input Tensor.");
  }
  if (signature.outputs().size() != 1) {
    return absl::InvalidArgumentError("Expected one output Tensor.");
  }
  auto input = signature.inputs().find(kRegressInputs);
  if (input == signature.inputs().end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "No regression inputs found in SignatureDef: ", signature.DebugString()));
  }
  auto output = signature.outputs().find(kRegressOutputs);
  if (output == signature.outputs().end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "No regression outputs found in SignatureDef: ", signature.DebugString()));
  }
  if (input_tensor_name != nullptr) *input_tensor_name = input->second.name();
  if (output_tensor_names != nullptr) output_tensor_names->push_back(output->second.name());
  return absl::OkStatus();
}

absl::Status PostProcessRegressionResult(const SignatureDef& signature, int64_t num_examples,
                                         const std::vector<std::string>& output_tensor_names,
                                         const std::vector<TensorView>& output_tensors,
                                         RegressionResult* result) {
  auto info = signature.outputs().find(kRegressOutputs);
  if (info == signature.outputs().end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "No regression outputs found in SignatureDef: ", signature.DebugString()));
  }
  const std::string& name = info->second.name();
  const TensorView* value = nullptr;
  for (size_t i = 0; i < output_tensor_names.size() && i < output_tensors.size(); ++i) {
    if (output_tensor_names[i] == name) {
      value = &output_tensors[i];
      break;
    }
  }
  if (value == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Could not find output tensor '", name, "'"));
  }
  const std::vector<int64_t>& dims = value->dims;
  if (!(dims.size() == 1 || (dims.size() == 2 && dims[1] == 1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected output Tensor shape to be either [batch_size] or "
                     "[batch_size, 1] but got ",
                     ShapeDebugString(dims)));
  }
  if (dims[0] != num_examples) {
    return absl::InvalidArgumentError(
        absl::StrCat("Input batch size did not match output batch size: ", num_examples,
                     " vs. ", dims[0]));
  }
  if (value->dtype != DT_FLOAT) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected output Tensor of DT_FLOAT.  Got: ", DataType_Name(value->dtype)));
  }
  if (value->num_elements != num_examples) {
    return absl::InvalidArgumentError(absl::StrCat("Expected output batch size to be ",
                                                   num_examples,
                                                   ".  Got: ", value->num_elements));
  }
  const auto* values = reinterpret_cast<const float*>(value->data);
  auto* regressions = result->mutable_regressions();
  regressions->Reserve(static_cast<int>(num_examples));
  for (int64_t i = 0; i < num_examples; ++i) regressions->Add()->set_value(values[i]);
  return absl::OkStatus();
}

void RunRegress(const SavedModelBundle& bundle, int64_t version,
                const RegressionRequest& request, Clock::time_point deadline,
                RegressionResponse* response, RunDone done) {
  const ModelSpec& spec = request.model_spec();
  const std::string& name = SignatureNameOrDefault(spec.signature_name());
  const SavedModelBundle::Signature* sig = nullptr;
  absl::Status status = FindRunnableSignature(bundle, name, &sig);
  if (!status.ok()) return done(status);
  std::string input_name;
  std::vector<std::string> output_names;
  status = PreProcessRegression(sig->def, &input_name, &output_names);
  if (!status.ok()) return done(status);
  MakeModelSpec(spec.name(), &spec.signature_name(), version, response->mutable_model_spec());

  auto pending = std::make_unique<PendingRegression>();
  pending->signature = &sig->def;
  pending->request = &request;
  pending->response = response;
  pending->done = std::move(done);
  pending->signature_name = name;
  pending->feeds.Add(input_name, sig->inputs.at(kRegressInputs), kRegressInputs);
  pending->fetches.Add(output_names[0], sig->outputs.at(kRegressOutputs), kRegressOutputs);
  PendingRegression* p = pending.release();
  PerformOneShotTensorComputation(
      bundle, request.input(), p->feeds, p->fetches,
      sig->batchable ? &p->signature_name : nullptr, deadline,
      [p](absl::Status status, int64_t num_examples, OwnedTensorViews outputs,
          double run_micros) {
        std::unique_ptr<PendingRegression> owned(p);
        if (!status.ok()) return owned->done(status);
        RecordRuntimeLatency(owned->request->model_spec().name(), "Regress", "TF1",
                             run_micros);
        owned->done(PostProcessRegressionResult(*owned->signature, num_examples,
                                                owned->fetches.names, outputs.views,
                                                owned->response->mutable_result()));
      });
}

}  // namespace serving
}  // namespace tensorflow

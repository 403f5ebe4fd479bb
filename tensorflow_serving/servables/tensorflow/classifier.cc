#include "tensorflow_serving/servables/tensorflow/classifier.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tensorflow/core/platform/ctstring.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

const TensorView* FindOutput(const std::vector<std::string>& names,
                             const std::vector<TensorView>& tensors, const std::string& name) {
  for (size_t i = 0; i < names.size() && i < tensors.size(); ++i) {
    if (names[i] == name) return &tensors[i];
  }
  return nullptr;
}

absl::Status CheckOutput(const char* what, const TensorView& value, DataType dtype,
                         int64_t num_examples) {
  if (value.dims.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected Tensor shape: [batch_size num_classes] but got ",
                     ShapeDebugString(value.dims)));
  }
  if (value.dtype != dtype) {
    return absl::InvalidArgumentError(absl::StrCat("Expected ", what, " Tensor of ",
                                                   DataType_Name(dtype), ". Got: ",
                                                   DataType_Name(value.dtype)));
  }
  if (value.dims[0] != num_examples) {
    return absl::InvalidArgumentError(absl::StrCat("Expected ", what,
                                                   " output batch size of ", num_examples,
                                                   ". Got: ", value.dims[0]));
  }
  return absl::OkStatus();
}

// A Classify call between its run's start and its end.
struct PendingClassification {
  const SignatureDef* signature;
  const ClassificationRequest* request;
  ClassificationResponse* response;
  RunDone done;
  std::string signature_name;
  NamedTensors feeds;
  NamedTensors fetches;
};

}  // namespace

absl::Status PreProcessClassification(const SignatureDef& signature,
                                      std::string* input_tensor_name,
                                      std::vector<std::string>* output_tensor_names) {
  if (GetSignatureMethodNameCheckFeature() &&
      signature.method_name() != kClassifyMethodName) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected classification signature method_name to be ",
                     kClassifyMethodName, ". Was: ", signature.method_name()));
  }
  if (signature.inputs().size() != 1) {
    return absl::InvalidArgumentError("Expected one input Tensor.");
  }
  if (signature.outputs().size() != 1 && signature.outputs().size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected one or two output Tensors, found ", signature.outputs().size()));
  }
  auto input = signature.inputs().find(kClassifyInputs);
  if (input == signature.inputs().end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "No classification inputs found in SignatureDef: ", signature.DebugString()));
  }
  auto classes = signature.outputs().find(kClassifyOutputClasses);
  auto scores = signature.outputs().find(kClassifyOutputScores);
  if (classes == signature.outputs().end() && scores == signature.outputs().end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected classification signature outputs to contain at least one of \"",
        kClassifyOutputClasses, "\" or \"", kClassifyOutputScores,
        "\". Signature was: ", signature.DebugString()));
  }
  if (input_tensor_name != nullptr) *input_tensor_name = input->second.name();
  if (output_tensor_names != nullptr) {
    if (classes != signature.outputs().end()) {
      output_tensor_names->push_back(classes->second.name());
    }
    if (scores != signature.outputs().end()) {
      output_tensor_names->push_back(scores->second.name());
    }
  }
  return absl::OkStatus();
}

absl::Status PostProcessClassificationResult(
    const SignatureDef& signature, int64_t num_examples,
    const std::vector<std::string>& output_tensor_names,
    const std::vector<TensorView>& output_tensors, ClassificationResult* result) {
  // Each output is looked up by its tensor's name, so a signature whose
  // classes and scores name one tensor finds it for both.
  const TensorView* classes = nullptr;
  const TensorView* scores = nullptr;
  auto classes_info = signature.outputs().find(kClassifyOutputClasses);
  if (classes_info != signature.outputs().end()) {
    classes = FindOutput(output_tensor_names, output_tensors, classes_info->second.name());
  }
  auto scores_info = signature.outputs().find(kClassifyOutputScores);
  if (scores_info != signature.outputs().end()) {
    scores = FindOutput(output_tensor_names, output_tensors, scores_info->second.name());
  }
  if (classes != nullptr) {
    absl::Status status = CheckOutput("classes", *classes, DT_STRING, num_examples);
    if (!status.ok()) return status;
  }
  if (scores != nullptr) {
    absl::Status status = CheckOutput("scores", *scores, DT_FLOAT, num_examples);
    if (!status.ok()) return status;
  }
  if (classes != nullptr && scores != nullptr && classes->dims[1] != scores->dims[1]) {
    return absl::InvalidArgumentError(
        absl::StrCat("Tensors class and score should match in dim_size(1). Got ",
                     classes->dims[1], " vs. ", scores->dims[1]));
  }
  int64_t num_classes = 0;
  if (classes != nullptr) {
    num_classes = classes->dims[1];
  } else if (scores != nullptr) {
    num_classes = scores->dims[1];
  }
  const auto* labels =
      classes != nullptr ? reinterpret_cast<const TF_TString*>(classes->data) : nullptr;
  const auto* values = scores != nullptr ? reinterpret_cast<const float*>(scores->data) : nullptr;
  auto* classifications = result->mutable_classifications();
  classifications->Reserve(static_cast<int>(num_examples));
  for (int64_t i = 0; i < num_examples; ++i) {
    auto* classes_of_example = classifications->Add()->mutable_classes();
    classes_of_example->Reserve(static_cast<int>(num_classes));
    for (int64_t c = 0; c < num_classes; ++c) {
      Class* cl = classes_of_example->Add();
      const int64_t at = i * num_classes + c;
      if (labels != nullptr) {
        cl->set_label(TF_TString_GetDataPointer(&labels[at]), TF_TString_GetSize(&labels[at]));
      }
      if (values != nullptr) cl->set_score(values[at]);
    }
  }
  return absl::OkStatus();
}

void RunClassify(const SavedModelBundle& bundle, int64_t version,
                 const ClassificationRequest& request, Clock::time_point deadline,
                 ClassificationResponse* response, RunDone done) {
  const ModelSpec& spec = request.model_spec();
  const std::string& name = SignatureNameOrDefault(spec.signature_name());
  const SavedModelBundle::Signature* sig = nullptr;
  absl::Status status = FindRunnableSignature(bundle, name, &sig);
  if (!status.ok()) return done(status);
  std::string input_name;
  std::vector<std::string> output_names;
  status = PreProcessClassification(sig->def, &input_name, &output_names);
  if (!status.ok()) return done(status);
  MakeModelSpec(spec.name(), &spec.signature_name(), version, response->mutable_model_spec());

  auto pending = std::make_unique<PendingClassification>();
  pending->signature = &sig->def;
  pending->request = &request;
  pending->response = response;
  pending->done = std::move(done);
  pending->signature_name = name;
  pending->feeds.Add(input_name, sig->inputs.at(kClassifyInputs), kClassifyInputs);
  for (const char* alias : {kClassifyOutputClasses, kClassifyOutputScores}) {
    auto output = sig->outputs.find(alias);
    if (output != sig->outputs.end()) {
      pending->fetches.Add(sig->def.outputs().at(alias).name(), output->second, alias);
    }
  }
  PendingClassification* p = pending.release();
  PerformOneShotTensorComputation(
      bundle, request.input(), p->feeds, p->fetches,
      sig->batchable ? &p->signature_name : nullptr, deadline,
      [p](absl::Status status, int64_t num_examples, OwnedTensorViews outputs,
          double run_micros) {
        std::unique_ptr<PendingClassification> owned(p);
        if (!status.ok()) return owned->done(status);
        RecordRuntimeLatency(owned->request->model_spec().name(), "Classify", "TF1",
                             run_micros);
        owned->done(PostProcessClassificationResult(*owned->signature, num_examples,
                                                    owned->fetches.names, outputs.views,
                                                    owned->response->mutable_result()));
      });
}

}  // namespace serving
}  // namespace tensorflow

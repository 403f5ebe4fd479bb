#include "tensorflow_serving/servables/tensorflow/multi_inference.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensorflow_serving/servables/tensorflow/classifier.h"
#include "tensorflow_serving/servables/tensorflow/regressor.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

// Tensors sorted by name, as the run feeds and fetches them.
NamedTensors SortedByName(const NamedTensors& tensors) {
  std::vector<size_t> order(tensors.names.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors.names[a] < tensors.names[b]; });
  NamedTensors sorted;
  for (size_t i : order) sorted.Add(tensors.names[i], tensors.tensors[i], tensors.aliases[i]);
  return sorted;
}

// A MultiInference call between its run's start and its end.
struct PendingMultiInference {
  const SavedModelBundle* bundle;
  int64_t version;
  const MultiInferenceRequest* request;
  MultiInferenceResponse* response;
  RunDone done;
  std::string model_name;
  NamedTensors feeds;
  NamedTensors fetches;
};

absl::Status PostProcess(const PendingMultiInference& pending, int64_t num_examples,
                         const std::vector<TensorView>& outputs) {
  for (const InferenceTask& task : pending.request->tasks()) {
    const SavedModelBundle::Signature* sig =
        pending.bundle->FindSignature(SignatureNameOrDefault(task.model_spec().signature_name()));
    InferenceResult* result = pending.response->add_results();
    absl::Status status;
    if (task.method_name() == kClassifyMethodName) {
      status = PostProcessClassificationResult(sig->def, num_examples, pending.fetches.names,
                                               outputs, result->mutable_classification_result());
    } else {
      status = PostProcessRegressionResult(sig->def, num_examples, pending.fetches.names,
                                           outputs, result->mutable_regression_result());
    }
    if (!status.ok()) return status;
    MakeModelSpec(task.model_spec().name(), &task.model_spec().signature_name(),
                  pending.version, result->mutable_model_spec());
  }
  return absl::OkStatus();
}

}  // namespace

void RunMultiInference(const SavedModelBundle& bundle, int64_t version,
                       const MultiInferenceRequest& request, Clock::time_point deadline,
                       MultiInferenceResponse* response, RunDone done) {
  std::string model_name;
  std::set<std::string> signature_names;
  NamedTensors feeds;
  NamedTensors fetches;
  for (const InferenceTask& task : request.tasks()) {
    if (task.model_spec().name().empty()) {
      return done(absl::InvalidArgumentError("Found ModelSpec with an empty model name."));
    }
    if (model_name.empty()) {
      model_name = task.model_spec().name();
    } else if (model_name != task.model_spec().name()) {
      return done(absl::InvalidArgumentError(
          "All ModelSpecs in a MultiInferenceRequest must access the same model name."));
    }
    const std::string& name = SignatureNameOrDefault(task.model_spec().signature_name());
    if (!signature_names.insert(name).second) {
      return done(
          absl::InvalidArgumentError(absl::StrCat("Duplicate evaluation of signature: ", name)));
    }
    const SavedModelBundle::Signature* sig = bundle.FindSignature(name);
    if (sig == nullptr) {
      return done(absl::InvalidArgumentError(
          absl::StrCat("Requested signature not found in model graph: ", name)));
    }
    std::string input_name;
    std::vector<std::string> output_names;
    absl::Status status;
    const char* input_alias = nullptr;
    std::vector<const char*> output_aliases;
    if (task.method_name() == kClassifyMethodName) {
      status = PreProcessClassification(sig->def, &input_name, &output_names);
      input_alias = kClassifyInputs;
      for (const char* alias : {kClassifyOutputClasses, kClassifyOutputScores}) {
        if (sig->def.outputs().count(alias) > 0) output_aliases.push_back(alias);
      }
    } else if (task.method_name() == kRegressMethodName) {
      status = PreProcessRegression(sig->def, &input_name, &output_names);
      input_alias = kRegressInputs;
      output_aliases.push_back(kRegressOutputs);
    } else {
      return done(absl::UnimplementedError(
          absl::StrCat("Unsupported signature method_name: ", task.method_name())));
    }
    if (!status.ok()) return done(status);
    if (!sig->supported) {
      return done(
          Unsupported(absl::StrCat("signature ", name, ": ", sig->why_unsupported)));
    }
    feeds.Add(input_name, sig->inputs.at(input_alias), input_alias);
    for (size_t i = 0; i < output_aliases.size(); ++i) {
      fetches.Add(output_names[i], sig->outputs.at(output_aliases[i]), output_aliases[i]);
    }
  }

  auto pending = std::make_unique<PendingMultiInference>();
  pending->bundle = &bundle;
  pending->version = version;
  pending->request = &request;
  pending->response = response;
  pending->done = std::move(done);
  pending->model_name = model_name;
  pending->feeds = SortedByName(feeds);
  pending->fetches = SortedByName(fetches);
  PendingMultiInference* p = pending.release();
  PerformOneShotTensorComputation(
      bundle, request.input(), p->feeds, p->fetches, /*batch_signature=*/nullptr, deadline,
      [p](absl::Status status, int64_t num_examples, OwnedTensorViews outputs, double) {
        std::unique_ptr<PendingMultiInference> owned(p);
        if (!status.ok()) return owned->done(status);
        RecordRequestExampleCount(owned->model_name, num_examples);
        owned->done(PostProcess(*owned, num_examples, outputs.views));
      });
}

}  // namespace serving
}  // namespace tensorflow

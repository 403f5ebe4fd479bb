#include "tensorflow_serving/servables/tensorflow/predict_util.h"

#include <chrono>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {

namespace {

using Clock = SavedModelBundle::Clock;

template <typename Map>
std::set<std::string> Keys(const Map& map) {
  std::set<std::string> keys;
  for (const auto& entry : map) keys.insert(entry.first);
  return keys;
}

std::set<std::string> Difference(const std::set<std::string>& a,
                                 const std::set<std::string>& b) {
  std::set<std::string> result;
  for (const auto& key : a) {
    if (b.count(key) == 0) result.insert(key);
  }
  return result;
}

absl::Status VerifySignature(const SignatureDef& signature) {
  const std::string& method = signature.method_name();
  if (GetSignatureMethodNameCheckFeature() && method != kPredictMethodName &&
      method != kClassifyMethodName && method != kRegressMethodName) {
    return absl::InternalError(absl::StrCat(
        "Expected prediction signature method_name to be one of {", kPredictMethodName,
        ", ", kClassifyMethodName, ", ", kRegressMethodName, "}. Was: ", method));
  }
  return absl::OkStatus();
}

absl::Status VerifyRequestInputsSize(const SignatureDef& signature,
                                     const PredictRequest& request) {
  const int sent = request.inputs_size();
  const int expected = signature.inputs_size();
  if (sent > expected || (sent < expected && signature.defaults().empty())) {
    const std::set<std::string> request_inputs = Keys(request.inputs());
    const std::set<std::string> signature_inputs = Keys(signature.inputs());
    return absl::InvalidArgumentError(absl::StrCat(
        "input size does not match signature: ", sent, "!=", expected, " len({",
        absl::StrJoin(request_inputs, ","), "}) != len({",
        absl::StrJoin(signature_inputs, ","), "}). Sent extra: {",
        absl::StrJoin(Difference(request_inputs, signature_inputs), ","),
        "}. Missing but required: {",
        absl::StrJoin(Difference(signature_inputs, request_inputs), ","), "}."));
  }
  return absl::OkStatus();
}

// TensorFlow's saved_model::GetInputValues: every signature input from the
// request or else from the signature's defaults, then no unknown request key.
// Each tensor is decoded by TensorFlow after the server's own checks
// (CheckDecodable).
absl::Status GetInputValues(const TfCApi& api, const SavedModelBundle::Signature& sig,
                            const PredictRequest& request, const PredictOptions& options,
                            PreparedPrediction* prepared) {
  const SignatureDef& signature = sig.def;
  // Map keys are unique, so counting the request's keys the signature has
  // tells whether it has others; which ones is worked out for the error only.
  int used_request_inputs = 0;
  std::string bytes;
  prepared->input_aliases.reserve(sig.inputs.size());
  prepared->feeds.reserve(sig.inputs.size());
  prepared->feed_values.reserve(sig.inputs.size());
  for (const auto& [alias, feed] : sig.inputs) {
    const TensorProto* proto = nullptr;
    const std::string* serialized = nullptr;
    auto in_request = request.inputs().find(alias);
    if (in_request == request.inputs().end()) {
      auto in_defaults = sig.default_bytes.find(alias);
      if (in_defaults == sig.default_bytes.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Signature input alias: ", alias, "(feed name: ",
            signature.inputs().at(alias).name(),
            ") not found in request and no default value provided. Inputs "
            "expected to be in the request {",
            absl::StrJoin(Keys(request.inputs()), ","), "}, or default input alias set: ",
            absl::StrJoin(Keys(signature.defaults()), ",")));
      }
      proto = &signature.defaults().at(alias);
      serialized = &in_defaults->second;
    } else {
      proto = &in_request->second;
      ++used_request_inputs;
    }
    std::string detail;
    switch (CheckDecodable(*proto, options.max_tensor_fill_bytes, &detail)) {
      case DecodeCheck::kUnparseable:
        return absl::InvalidArgumentError(absl::StrCat("tensor parsing error: ", alias));
      case DecodeCheck::kFillTooLarge:
        return absl::InvalidArgumentError(
            absl::StrCat("tensor parsing error: ", alias, ": ", detail));
      case DecodeCheck::kOk:
        break;
    }
    TfTensor tensor;
    if (!FromProtoDense(api, *proto, &tensor)) {
      if (serialized == nullptr) {
        proto->SerializeToString(&bytes);
        serialized = &bytes;
      }
      if (!FromProtoBytes(api, *serialized, &tensor)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor parsing error: ", alias));
      }
    }
    prepared->input_aliases.push_back(alias);
    prepared->feeds.push_back(feed);
    prepared->feed_values.push_back(std::move(tensor));
  }
  if (!request.inputs().empty() && used_request_inputs != request.inputs_size()) {
    std::set<std::string> seen_request_inputs;
    for (const auto& [alias, feed] : sig.inputs) {
      if (request.inputs().count(alias) > 0) seen_request_inputs.insert(alias);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "Inputs contains invalid name. Used request inputs: ",
        absl::StrJoin(seen_request_inputs, ","),
        ", request input: ", absl::StrJoin(Keys(request.inputs()), ",")));
  }
  return absl::OkStatus();
}

void MakeModelSpec(const std::string& name, const std::string& signature_name,
                   int64_t version, ModelSpec* spec) {
  spec->Clear();
  spec->set_name(name);
  spec->set_signature_name(signature_name);
  spec->mutable_version()->set_value(version);
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// After the run: runtime_latency, then the outputs into the response.
void FinishPrediction(const PredictOptions& options, const PreparedPrediction& prepared,
                      const PredictRequest& request, Clock::time_point run_start,
                      const absl::Status& status, const OwnedTensorViews& outputs,
                      PredictResponse* response, const RunDone& done) {
  if (!status.ok()) return done(status);
  if (Metrics::Get().enabled()) {
    RecordRuntimeLatency(request.model_spec().name(), "Predict", "TF1", MicrosSince(run_start));
  }
  bool forward = false;
  const absl::Status post =
      PostProcessPredictionResult(prepared, outputs.views, options, response, &forward);
  if (forward) {
    response->Clear();
    return done(Unsupported(absl::StrCat("signature ", prepared.signature_name, ": an output of a dtype no TensorProto field is written for")));
  }
  done(post);
}

// What a batched prediction needs once its batch has run.
struct PendingPrediction {
  PreparedPrediction prepared;
  const PredictOptions* options;
  const PredictRequest* request;
  PredictResponse* response;
  Clock::time_point run_start;
  RunDone done;
};

}  // namespace

void RunPredict(const PredictOptions& options, const SavedModelBundle& bundle,
                int64_t version, const PredictRequest& request, Clock::time_point deadline,
                PredictResponse* response, RunDone done) {
  PreparedPrediction prepared;
  bool forward = false;
  const absl::Status status =
      PreProcessPrediction(bundle, version, request, options, &prepared, response, &forward);
  if (forward) {
    const SavedModelBundle::Signature* sig = bundle.FindSignature(prepared.signature_name);
    return done(Unsupported(absl::StrCat("signature ", prepared.signature_name, ": ",
                                               sig != nullptr ? sig->why_unsupported : "")));
  }
  if (!status.ok()) return done(status);
  const Clock::time_point run_start = Clock::now();
  if (bundle.batching_session() == nullptr || !prepared.signature->batchable) {
    // The common case runs here, with everything on this stack.
    std::vector<TfTensor> tensors;
    const absl::Status run_status = bundle.RunSession(
        deadline, prepared.feeds, prepared.feed_values, prepared.fetches, &tensors);
    FinishPrediction(options, prepared, request, run_start, run_status,
                     OwnedTensorViews::Of(bundle.api(), std::move(tensors)), response, done);
    return;
  }
  // The run may complete on a batch thread.
  auto* pending = new PendingPrediction{std::move(prepared), &options, &request, response,
                                        run_start, std::move(done)};
  PreparedPrediction& p = pending->prepared;
  bundle.Run(p.signature_name, /*batchable=*/true, p.input_aliases, p.feeds,
             std::move(p.feed_values), p.output_aliases, p.fetches, deadline,
             [pending](absl::Status status, OwnedTensorViews outputs) {
               std::unique_ptr<PendingPrediction> owned(pending);
               FinishPrediction(*owned->options, owned->prepared, *owned->request,
                                owned->run_start, status, outputs, owned->response,
                                owned->done);
             });
}

absl::Status PreProcessPrediction(const SavedModelBundle& bundle, int64_t version,
                                  const PredictRequest& request,
                                  const PredictOptions& options,
                                  PreparedPrediction* prepared, PredictResponse* response,
                                  bool* forward) {
  *forward = false;
  const std::string& requested = request.model_spec().signature_name();
  prepared->signature_name = requested.empty() ? kDefaultServingSignatureDefKey : requested;
  const SavedModelBundle::Signature* sig = bundle.FindSignature(prepared->signature_name);
  if (sig == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Serving signature key \"", prepared->signature_name, "\" not found."));
  }
  if (!sig->supported) {
    *forward = true;
    return absl::OkStatus();
  }
  prepared->signature = sig;
  MakeModelSpec(request.model_spec().name(), prepared->signature_name, version,
                response->mutable_model_spec());

  absl::Status status = VerifySignature(sig->def);
  if (!status.ok()) return status;
  status = VerifyRequestInputsSize(sig->def, request);
  if (!status.ok()) return status;
  status = GetInputValues(bundle.api(), *sig, request, options, prepared);
  if (!status.ok()) return status;

  std::set<std::string> seen_outputs;
  const int num_outputs =
      request.output_filter().empty() ? static_cast<int>(sig->outputs.size())
                                      : request.output_filter_size();
  prepared->output_aliases.reserve(num_outputs);
  prepared->fetches.reserve(num_outputs);
  for (const std::string& alias : request.output_filter()) {
    auto it = sig->outputs.find(alias);
    if (it == sig->outputs.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output tensor alias not found in signature: ", alias,
          " Outputs expected to be in the set {",
          absl::StrJoin(Keys(sig->def.outputs()), ","), "}."));
    }
    if (!seen_outputs.insert(alias).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate output tensor alias: ", alias));
    }
    prepared->output_aliases.push_back(alias);
    prepared->fetches.push_back(it->second);
  }
  if (prepared->fetches.empty()) {
    for (const auto& [alias, fetch] : sig->outputs) {
      prepared->output_aliases.push_back(alias);
      prepared->fetches.push_back(fetch);
    }
  }
  return absl::OkStatus();
}

absl::Status PostProcessPredictionResult(const PreparedPrediction& prepared,
                                         const std::vector<TensorView>& outputs,
                                         const PredictOptions& options,
                                         PredictResponse* response, bool* forward) {
  *forward = false;
  if (outputs.size() != prepared.output_aliases.size()) {
    return absl::UnknownError("Predict internal error");
  }
  auto* response_outputs = response->mutable_outputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorView& view = outputs[i];
    if (view.dtype == DT_INVALID) return absl::UnknownError("Predict internal error");
    TensorProto* proto = &(*response_outputs)[prepared.output_aliases[i]];
    const bool encoded = options.tensor_content ? AsProtoTensorContent(view, proto)
                                                : AsProtoField(view, proto);
    if (!encoded) {
      *forward = true;
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace serving
}  // namespace tensorflow

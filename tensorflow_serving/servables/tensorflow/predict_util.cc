#include "tensorflow_serving/servables/tensorflow/predict_util.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"

namespace tensorflow {
namespace serving {

namespace {

constexpr char kDefaultServingSignatureDefKey[] = "serving_default";
constexpr char kPredictMethodName[] = "tensorflow/serving/predict";
constexpr char kClassifyMethodName[] = "tensorflow/serving/classify";
constexpr char kRegressMethodName[] = "tensorflow/serving/regress";

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

absl::Status VerifySignature(const SignatureDef& signature, const PredictOptions& options) {
  const std::string& method = signature.method_name();
  if (options.enable_signature_method_name_check && method != kPredictMethodName &&
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
// Each tensor is decoded by TensorFlow after the checks the Python plane
// makes first (CheckDecodable).
absl::Status GetInputValues(const TfCApi& api, const SavedModelBundle::Signature& sig,
                            const PredictRequest& request, const PredictOptions& options,
                            PreparedPrediction* prepared) {
  const SignatureDef& signature = sig.def;
  std::set<std::string> seen_request_inputs;
  std::string bytes;
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
      seen_request_inputs.insert(alias);
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
  if (!request.inputs().empty() &&
      seen_request_inputs.size() != static_cast<size_t>(request.inputs_size())) {
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

}  // namespace

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
  if (!sig->native) {
    *forward = true;
    return absl::OkStatus();
  }
  prepared->signature = sig;
  MakeModelSpec(request.model_spec().name(), prepared->signature_name, version,
                response->mutable_model_spec());

  absl::Status status = VerifySignature(sig->def, options);
  if (!status.ok()) return status;
  status = VerifyRequestInputsSize(sig->def, request);
  if (!status.ok()) return status;
  status = GetInputValues(bundle.api(), *sig, request, options, prepared);
  if (!status.ok()) return status;

  std::set<std::string> seen_outputs;
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

absl::Status RunSession(const SavedModelBundle& bundle, const std::string& run_options,
                        const std::vector<TF_Output>& feeds,
                        const std::vector<TfTensor>& feed_values,
                        const std::vector<TF_Output>& fetches,
                        std::vector<TfTensor>* outputs) {
  const TfCApi& api = bundle.api();
  std::vector<TF_Tensor*> inputs;
  inputs.reserve(feed_values.size());
  for (const TfTensor& t : feed_values) inputs.push_back(t.get());
  std::vector<TF_Tensor*> results(fetches.size(), nullptr);
  TF_Buffer options{run_options.data(), run_options.size(), nullptr};
  TfStatus status(api);
  api.SessionRun(bundle.session(), run_options.empty() ? nullptr : &options, feeds.data(),
                 inputs.data(), static_cast<int>(inputs.size()), fetches.data(),
                 results.data(), static_cast<int>(results.size()), nullptr, 0, nullptr,
                 status.get());
  outputs->clear();
  outputs->reserve(results.size());
  for (TF_Tensor* t : results) outputs->emplace_back(&api, t);
  if (!status.ok()) return status.ToStatus();
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

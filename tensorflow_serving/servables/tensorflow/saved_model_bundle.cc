#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensorflow_serving/batching/batching_session.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"

namespace tensorflow {
namespace serving {

namespace {

// "node:3" -> ("node", 3); "node" -> ("node", 0), as TensorFlow reads names.
bool ParseTensorName(const std::string& name, std::string* node, int* index) {
  *index = 0;
  const size_t colon = name.rfind(':');
  if (colon != std::string::npos) {
    int parsed = 0;
    if (absl::SimpleAtoi(name.substr(colon + 1), &parsed) && parsed >= 0) {
      *node = name.substr(0, colon);
      *index = parsed;
      return !node->empty();
    }
  }
  *node = name;
  return !name.empty();
}

bool Resolve(const TensorInfo& info, const std::map<std::string, TF_Operation*>& operations,
             TF_Output* output, std::string* why) {
  if (info.encoding_case() != TensorInfo::kName) {
    *why = "a sparse or composite tensor";
    return false;
  }
  std::string node;
  int index = 0;
  if (!ParseTensorName(info.name(), &node, &index)) {
    *why = absl::StrCat("tensor name '", info.name(), "'");
    return false;
  }
  auto it = operations.find(node);
  if (it == operations.end() || it->second == nullptr) {
    *why = absl::StrCat("no graph node for '", info.name(), "'");
    return false;
  }
  *output = TF_Output{it->second, index};
  return true;
}

void Prepare(const std::map<std::string, TF_Operation*>& operations,
             SavedModelBundle::Signature* sig) {
  std::string why;
  bool batchable = sig->def.inputs_size() > 0;
  for (const auto& [alias, info] : sig->def.inputs()) {
    TF_Output output;
    if (!Resolve(info, operations, &output, &why)) {
      sig->native = false;
      sig->why_not_native = absl::StrCat("input ", alias, ": ", why);
      return;
    }
    sig->inputs[alias] = output;
    const TensorShapeProto& shape = info.tensor_shape();
    if (shape.unknown_rank() || shape.dim_size() < 1 || shape.dim(0).size() != -1) {
      batchable = false;
    }
  }
  for (const auto& [alias, info] : sig->def.outputs()) {
    TF_Output output;
    if (!Resolve(info, operations, &output, &why)) {
      sig->native = false;
      sig->why_not_native = absl::StrCat("output ", alias, ": ", why);
      return;
    }
    if (info.dtype() != DT_INVALID && !CanEncode(info.dtype())) {
      sig->native = false;
      sig->why_not_native =
          absl::StrCat("output ", alias, ": dtype ", DataType_Name(info.dtype()));
      return;
    }
    sig->outputs[alias] = output;
  }
  for (const auto& [alias, proto] : sig->def.defaults()) {
    proto.SerializeToString(&sig->default_bytes[alias]);
  }
  sig->batchable = batchable;
}

}  // namespace

absl::Status SavedModelBundle::Create(const TfCApi* api, TF_Session* session,
                                      const std::string& signature_defs,
                                      const std::map<std::string, TF_Operation*>& operations,
                                      std::string run_options,
                                      std::unique_ptr<SavedModelBundle>* bundle) {
  MetaGraphDef meta_graph;
  if (!meta_graph.ParseFromString(signature_defs)) {
    return absl::InvalidArgumentError("could not parse the MetaGraphDef's signatures");
  }
  std::unique_ptr<SavedModelBundle> result(new SavedModelBundle());
  result->api_ = api;
  result->session_ = session;
  result->run_options_ = std::move(run_options);
  for (auto& [name, def] : *meta_graph.mutable_signature_def()) {
    Signature& sig = result->signatures_[name];
    sig.def.Swap(&def);
    Prepare(operations, &sig);
  }
  *bundle = std::move(result);
  return absl::OkStatus();
}

SavedModelBundle::~SavedModelBundle() {
  batching_.reset();  // finishes queued batches while the Session is still open
  if (on_destroy_) on_destroy_();
}

const SavedModelBundle::Signature* SavedModelBundle::FindSignature(
    const std::string& name) const {
  auto it = signatures_.find(name);
  return it == signatures_.end() ? nullptr : &it->second;
}

void SavedModelBundle::set_batching_session(std::unique_ptr<BatchingSession> batching) {
  batching_ = std::move(batching);
}

}  // namespace serving
}  // namespace tensorflow

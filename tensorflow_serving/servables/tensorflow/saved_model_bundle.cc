#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
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
      sig->supported = false;
      sig->why_unsupported = absl::StrCat("input ", alias, ": ", why);
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
      sig->supported = false;
      sig->why_unsupported = absl::StrCat("output ", alias, ": ", why);
      return;
    }
    if (info.dtype() != DT_INVALID && !CanEncode(info.dtype())) {
      sig->supported = false;
      sig->why_unsupported =
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

// `run_options` with RunOptions.timeout_in_ms (field 2) set: a scalar field's
// last occurrence wins when protobuf parses, so appending it overrides any.
std::string WithTimeout(const std::string& run_options, int64_t timeout_in_ms) {
  std::string result = run_options;
  result.push_back(static_cast<char>(2 << 3));  // field 2, varint
  uint64_t value = static_cast<uint64_t>(timeout_in_ms);
  while (value >= 0x80) {
    result.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  result.push_back(static_cast<char>(value));
  return result;
}

// The longest timeout RunOptions carries (upstream's "no deadline").
constexpr int64_t kMaxTimeoutMs = (int64_t{1} << 31) - 1;

std::string SerializeDeterministically(const google::protobuf::MessageLite& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// Whether values can join a batch: every one has a dim 0, all the same
// (otherwise the run goes alone).
bool BatchableValues(const TfCApi& api, const std::vector<TfTensor>& values) {
  int64_t size = -1;
  for (const TfTensor& value : values) {
    if (api.NumDims(value.get()) == 0) return false;
    const int64_t dim0 = api.Dim(value.get(), 0);
    if (size >= 0 && dim0 != size) return false;
    size = dim0;
  }
  return size >= 0;
}

}  // namespace

absl::Status SavedModelBundle::RunOptionsFor(Clock::time_point deadline,
                                             std::string* run_options) const {
  if (deadline == Clock::time_point::max()) {
    *run_options = run_options_;
    return absl::OkStatus();
  }
  const double remaining_s =
      std::chrono::duration<double>(deadline - Clock::now()).count();
  if (remaining_s <= 0) {
    return absl::DeadlineExceededError("Deadline exceeded before the model run");
  }
  const double remaining_ms = std::ceil(remaining_s * 1000);
  const int64_t timeout_ms = remaining_ms < static_cast<double>(kMaxTimeoutMs)
                                 ? static_cast<int64_t>(remaining_ms)
                                 : kMaxTimeoutMs;
  *run_options = WithTimeout(deadline_run_options_, timeout_ms);
  return absl::OkStatus();
}

absl::Status SavedModelBundle::Create(const TfCApi* api, TF_Session* session,
                                      const std::string& signature_defs,
                                      const std::map<std::string, TF_Operation*>& operations,
                                      std::string run_options,
                                      std::string deadline_run_options,
                                      std::unique_ptr<SavedModelBundle>* bundle) {
  MetaGraphDef meta_graph;
  if (!meta_graph.ParseFromString(signature_defs)) {
    return absl::InvalidArgumentError("could not parse the MetaGraphDef's signatures");
  }
  std::unique_ptr<SavedModelBundle> result(new SavedModelBundle());
  result->api_ = api;
  result->session_ = session;
  result->run_options_ = std::move(run_options);
  result->deadline_run_options_ = std::move(deadline_run_options);
  SignatureDefMap signature_def_map;
  for (auto& [name, def] : *meta_graph.mutable_signature_def()) {
    Signature& sig = result->signatures_[name];
    sig.def.Swap(&def);
    Prepare(operations, &sig);
    (*signature_def_map.mutable_signature_def())[name] = sig.def;
  }
  result->serialized_signature_def_map_ = SerializeDeterministically(signature_def_map);
  *bundle = std::move(result);
  return absl::OkStatus();
}

SavedModelBundle::~SavedModelBundle() {
  // No request holds the bundle any more, so no batch is queued or running;
  // this may be a batch thread, which Close() then does not wait for.
  if (batching_ != nullptr) batching_->Close();
  batching_.reset();
  if (on_destroy_) on_destroy_();
}

const SavedModelBundle::Signature* SavedModelBundle::FindSignature(
    const std::string& name) const {
  auto it = signatures_.find(name);
  return it == signatures_.end() ? nullptr : &it->second;
}

void SavedModelBundle::EnableBatching(const BatchingOptions& options) {
  // The destructor closes the session before anything it runs goes away.
  batching_ = BatchingSession::Create(
      api_, options,
      [this](const std::vector<TF_Output>& feeds, const std::vector<TfTensor>& values,
             const std::vector<TF_Output>& fetches, Clock::time_point deadline,
             std::vector<TfTensor>* outputs) {
        return RunSession(deadline, feeds, values, fetches, outputs);
      });
}

absl::Status SavedModelBundle::RunSession(Clock::time_point deadline,
                                          const std::vector<TF_Output>& feeds,
                                          const std::vector<TfTensor>& values,
                                          const std::vector<TF_Output>& fetches,
                                          std::vector<TfTensor>* outputs) const {
  // Without a deadline every run has the same options: no copy of them.
  std::string timed_run_options;
  const std::string* run_options = &run_options_;
  if (deadline != Clock::time_point::max()) {
    absl::Status options_status = RunOptionsFor(deadline, &timed_run_options);
    if (!options_status.ok()) return options_status;
    run_options = &timed_run_options;
  }
  const TfCApi& api = *api_;
  // The handles TF_SessionRun takes, on the stack for the usual few.
  absl::InlinedVector<TF_Tensor*, 4> inputs;
  inputs.reserve(values.size());
  for (const TfTensor& t : values) inputs.push_back(t.get());
  absl::InlinedVector<TF_Tensor*, 4> results(fetches.size(), nullptr);
  TF_Buffer options{run_options->data(), run_options->size(), nullptr};
  TfStatus status(api);
  api.SessionRun(session_, run_options->empty() ? nullptr : &options, feeds.data(),
                 inputs.data(), static_cast<int>(inputs.size()), fetches.data(),
                 results.data(), static_cast<int>(results.size()), nullptr, 0, nullptr,
                 status.get());
  outputs->clear();
  outputs->reserve(results.size());
  for (TF_Tensor* t : results) outputs->emplace_back(&api, t);
  return status.ToStatus();
}

void SavedModelBundle::Run(const std::string& signature_name, bool batchable,
                           const std::vector<std::string>& input_aliases,
                           const std::vector<TF_Output>& feeds, std::vector<TfTensor> values,
                           const std::vector<std::string>& output_aliases,
                           const std::vector<TF_Output>& fetches, Clock::time_point deadline,
                           DoneFn done) const {
  BatchingSession* batching = batching_.get();
  if (batching != nullptr && batchable && BatchableValues(*api_, values)) {
    if (deadline != Clock::time_point::max() && deadline <= Clock::now()) {
      done(absl::DeadlineExceededError("Deadline exceeded before the model run"),
           OwnedTensorViews());
      return;
    }
    batching->Run(signature_name, input_aliases, feeds, std::move(values), output_aliases,
                  fetches, deadline, std::move(done));
    return;
  }
  std::vector<TfTensor> outputs;
  const absl::Status status = RunSession(deadline, feeds, values, fetches, &outputs);
  done(status, OwnedTensorViews::Of(*api_, std::move(outputs)));
}

}  // namespace serving
}  // namespace tensorflow

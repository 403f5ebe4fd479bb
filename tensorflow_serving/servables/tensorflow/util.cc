#include "tensorflow_serving/servables/tensorflow/util.h"

#include <atomic>
#include <chrono>
#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow/core/platform/ctstring.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {

namespace {

std::atomic<bool> signature_method_check{false};

// Upstream's per-request metric families (its util.cc): request_count counts
// every Predict, Classify and Regress over gRPC and every REST request by
// model and final status; request_latency is the wall time of the
// successful ones at the edge; runtime_latency that of their TensorFlow run;
// the example counts come from Classify, Regress and MultiInference.
constexpr char kRequestCount[] = "/tensorflow/serving/request_count";
constexpr char kRequestLatency[] = "/tensorflow/serving/request_latency";
constexpr char kRuntimeLatency[] = "/tensorflow/serving/runtime_latency";
constexpr char kExampleCounts[] = "/tensorflow/serving/request_example_counts";
constexpr char kExampleCountTotal[] = "/tensorflow/serving/request_example_count_total";

[[maybe_unused]] const bool kFamiliesDeclared =
    Metrics::Declare({kRequestCount, "Requests, by model and final status.",
                         {"model_name", "status"}}) &&
    Metrics::Declare({kRequestLatency, "Wall time (microseconds) of successful requests.",
                         {"model_name", "API", "entrypoint"}, true, 10, 1.8, 33}) &&
    Metrics::Declare({kRuntimeLatency,
                         "Wall time (microseconds) of the TensorFlow run of successful "
                         "requests.",
                         {"model_name", "API", "runtime"}, true, 10, 1.8, 33}) &&
    Metrics::Declare({kExampleCounts, "tensorflow.Examples per request.", {"model"},
                         true, 1, 2, 15}) &&
    Metrics::Declare({kExampleCountTotal, "tensorflow.Examples received.", {"model"}});

// Writes `message` (whose ByteSizeLong() was just called) at `out`, map
// entries in key order, so the same Example is always the same bytes.
void SerializeDeterministically(const google::protobuf::MessageLite& message, size_t size,
                                char* out) {
  google::protobuf::io::ArrayOutputStream array(out, static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
}

}  // namespace

const std::string& SignatureNameOrDefault(const std::string& name) {
  static const std::string* const kDefault = new std::string(kDefaultServingSignatureDefKey);
  return name.empty() ? *kDefault : name;
}

void SetSignatureMethodNameCheckFeature(bool enabled) { signature_method_check = enabled; }

bool GetSignatureMethodNameCheckFeature() { return signature_method_check; }

absl::Status Unsupported(const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(why, ": not supported by this server"));
}

absl::Status FindRunnableSignature(const SavedModelBundle& bundle, const std::string& name,
                                   const SavedModelBundle::Signature** signature) {
  *signature = bundle.FindSignature(name);
  if (*signature == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("No signature was found with the name: ", name));
  }
  if (!(*signature)->supported) {
    return Unsupported(absl::StrCat("signature ", name, ": ", (*signature)->why_unsupported));
  }
  return absl::OkStatus();
}

absl::Status InputToSerializedExampleTensor(const TfCApi& api, const Input& input,
                                            TfTensor* examples, int64_t* num_examples) {
  const google::protobuf::RepeatedPtrField<Example>* list = nullptr;
  const Example* context = nullptr;
  switch (input.kind_case()) {
    case Input::kExampleList:
      list = &input.example_list().examples();
      break;
    case Input::kExampleListWithContext:
      list = &input.example_list_with_context().examples();
      context = &input.example_list_with_context().context();
      break;
    default:
      break;
  }
  if (list == nullptr || list->empty()) return absl::InvalidArgumentError("Input is empty.");
  std::string prefix;
  if (context != nullptr) {
    prefix.resize(context->ByteSizeLong());
    SerializeDeterministically(*context, prefix.size(), prefix.data());
  }
  const int64_t count = list->size();
  const int64_t dims[1] = {count};
  TfTensor tensor(&api, api.AllocateTensor(TF_STRING, dims, 1, count * sizeof(TF_TString)));
  if (tensor.get() == nullptr) return absl::ResourceExhaustedError("Out of memory");
  auto* strings = static_cast<TF_TString*>(api.TensorData(tensor.get()));
  for (int64_t i = 0; i < count; ++i) TF_TString_Init(&strings[i]);
  for (int64_t i = 0; i < count; ++i) {
    const Example& example = list->Get(static_cast<int>(i));
    const size_t size = example.ByteSizeLong();
    char* out = TF_TString_ResizeUninitialized(&strings[i], prefix.size() + size);
    if (!prefix.empty()) std::memcpy(out, prefix.data(), prefix.size());
    SerializeDeterministically(example, size, out + prefix.size());
  }
  *examples = std::move(tensor);
  *num_examples = count;
  return absl::OkStatus();
}

void NamedTensors::Add(const std::string& name, TF_Output tensor, const std::string& alias) {
  for (const std::string& known : names) {
    if (known == name) return;
  }
  names.push_back(name);
  tensors.push_back(tensor);
  aliases.push_back(alias);
}

void PerformOneShotTensorComputation(const SavedModelBundle& bundle, const Input& input,
                                     const NamedTensors& feeds, const NamedTensors& fetches,
                                     const std::string* batch_signature,
                                     SavedModelBundle::Clock::time_point deadline,
                                     OneShotDone done) {
  using Clock = SavedModelBundle::Clock;
  std::vector<TfTensor> values;
  int64_t num_examples = 0;
  for (size_t i = 0; i < feeds.tensors.size(); ++i) {
    // Every feed gets the same examples; each its own tensor, as the run
    // owns what it feeds.
    TfTensor examples;
    const absl::Status status =
        InputToSerializedExampleTensor(bundle.api(), input, &examples, &num_examples);
    if (!status.ok()) return done(status, 0, OwnedTensorViews(), 0);
    values.push_back(std::move(examples));
  }
  if (feeds.tensors.empty()) {
    TfTensor unused;
    const absl::Status status =
        InputToSerializedExampleTensor(bundle.api(), input, &unused, &num_examples);
    if (!status.ok()) return done(status, 0, OwnedTensorViews(), 0);
  }
  const Clock::time_point start = Clock::now();
  static const std::string* const kNoSignature = new std::string();
  bundle.Run(batch_signature != nullptr ? *batch_signature : *kNoSignature,
             batch_signature != nullptr, feeds.aliases, feeds.tensors, std::move(values),
             fetches.aliases, fetches.tensors, deadline,
             [num_examples, start, done = std::move(done)](absl::Status status,
                                                          OwnedTensorViews outputs) {
               const double micros =
                   std::chrono::duration<double, std::micro>(Clock::now() - start).count();
               done(std::move(status), num_examples, std::move(outputs), micros);
             });
}

void MakeModelSpec(const std::string& model_name, const std::string* signature_name,
                   std::optional<int64_t> version, ModelSpec* model_spec) {
  model_spec->Clear();
  model_spec->set_name(model_name);
  if (signature_name != nullptr) {
    model_spec->set_signature_name(signature_name->empty() ? kDefaultServingSignatureDefKey
                                                           : *signature_name);
  }
  if (version.has_value()) model_spec->mutable_version()->set_value(*version);
}

std::string ShapeDebugString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

void RecordRequestLatency(absl::string_view model_name, absl::string_view api,
                          absl::string_view entrypoint, double latency_usec) {
  Metrics& monitoring = Metrics::Get();
  if (!monitoring.enabled()) return;
  monitoring.Add(kRequestLatency,
                 {std::string(model_name), std::string(api), std::string(entrypoint)},
                 latency_usec);
}

void RecordModelRequestCount(absl::string_view model_name, const absl::Status& status) {
  Metrics& monitoring = Metrics::Get();
  if (!monitoring.enabled()) return;
  monitoring.Increment(kRequestCount,
                       {std::string(model_name), absl::StatusCodeToString(status.code())});
}

void RecordRuntimeLatency(absl::string_view model_name, absl::string_view api,
                          absl::string_view runtime, double latency_usec) {
  Metrics& monitoring = Metrics::Get();
  if (!monitoring.enabled()) return;
  monitoring.Add(kRuntimeLatency,
                 {std::string(model_name), std::string(api), std::string(runtime)},
                 latency_usec);
}

void RecordRequestExampleCount(absl::string_view model_name, int64_t count) {
  Metrics& monitoring = Metrics::Get();
  if (!monitoring.enabled()) return;
  monitoring.Add(kExampleCounts, {std::string(model_name)}, static_cast<double>(count));
  monitoring.Increment(kExampleCountTotal, {std::string(model_name)}, count);
}

}  // namespace serving
}  // namespace tensorflow

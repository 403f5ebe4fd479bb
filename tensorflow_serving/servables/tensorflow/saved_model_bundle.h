// A loaded SavedModel version as the data plane serves it: its signatures,
// prepared once, its runs and its batching.
//
// The Session belongs to the Python control plane, which loaded the version
// (saved_model_bundle_factory.py); this object borrows it (the TF_Session and
// the TF_Operations its signatures name) and must be destroyed before the
// Python side closes the Session: the binding's retire() waits for exactly
// that.

#ifndef TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_SAVED_MODEL_BUNDLE_H_
#define TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_SAVED_MODEL_BUNDLE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"

namespace tensorflow {
namespace serving {

class BatchingSession;
struct BatchingOptions;

class SavedModelBundle {
 public:
  using Clock = std::chrono::steady_clock;

  struct Signature {
    SignatureDef def;
    // alias -> graph tensor, for inputs and outputs named by a plain tensor
    // name (TensorInfo.name), resolved once.
    std::map<std::string, TF_Output> inputs;
    std::map<std::string, TF_Output> outputs;
    // def.defaults() serialized once, for TF_TensorFromProto.
    std::map<std::string, std::string> default_bytes;
    // False when an input or output is a sparse or composite tensor, names a
    // node the graph lacks, or declares a dtype no TensorProto field is
    // written for: requests on it are answered Unsupported (util.h).
    bool supported = true;
    std::string why_unsupported;
    // Every input has a known rank >= 1 and an unknown dim 0, so requests can
    // be merged along dim 0.
    bool batchable = false;
  };

  // `signature_defs` is a serialized MetaGraphDef of which only signature_def
  // is read; `operations` maps each node name the signatures use to the
  // graph's TF_Operation. `run_options` is the serialized RunOptions of
  // every Session run without a deadline, `deadline_run_options` those every
  // run with a deadline adds its timeout to (saved_model_bundle_factory.py
  // decides which may run on the calling thread).
  static absl::Status Create(const TfCApi* api, TF_Session* session,
                             const std::string& signature_defs,
                             const std::map<std::string, TF_Operation*>& operations,
                             std::string run_options, std::string deadline_run_options,
                             std::unique_ptr<SavedModelBundle>* bundle);

  ~SavedModelBundle();

  const TfCApi& api() const { return *api_; }
  TF_Session* session() const { return session_; }
  // The RunOptions of a run that must end by `deadline`: without one
  // (Clock::time_point::max()) run_options, else deadline_run_options with
  // timeout_in_ms, what is left of it rounded up to whole milliseconds.
  // DEADLINE_EXCEEDED if it has passed.
  absl::Status RunOptionsFor(Clock::time_point deadline, std::string* run_options) const;
  // nullptr if the SavedModel has no signature of that name.
  const Signature* FindSignature(const std::string& name) const;
  // Every SignatureDef, as a serialized SignatureDefMap (map entries by key),
  // made once for GetModelMetadata.
  const std::string& serialized_signature_def_map() const {
    return serialized_signature_def_map_;
  }

  // Batches the runs of batchable signatures (--enable_batching): each run
  // of a batch goes through RunSession.
  void EnableBatching(const BatchingOptions& options);
  BatchingSession* batching_session() const { return batching_.get(); }

  // Runs the Session once on this thread (TF_SessionRun with
  // RunOptionsFor(deadline)): `values` fed to `feeds`, `outputs` in the order
  // of `fetches`. Errors are TensorFlow's (TfStatus::ToStatus).
  absl::Status RunSession(Clock::time_point deadline, const std::vector<TF_Output>& feeds,
                          const std::vector<TfTensor>& values,
                          const std::vector<TF_Output>& fetches,
                          std::vector<TfTensor>* outputs) const;

  using DoneFn = std::function<void(absl::Status, OwnedTensorViews)>;
  // The run every request core makes: with
  // batching on, a `batchable` run whose values all have the same dim 0
  // joins a batch of `signature_name`'s queue for `output_aliases` (the
  // aliases of `fetches`); any other run is a RunSession on this thread.
  // `done` is called exactly once, on this thread or a batch thread.
  void Run(const std::string& signature_name, bool batchable,
           const std::vector<std::string>& input_aliases, const std::vector<TF_Output>& feeds,
           std::vector<TfTensor> values, const std::vector<std::string>& output_aliases,
           const std::vector<TF_Output>& fetches, Clock::time_point deadline,
           DoneFn done) const;

  // Called from the destructor, i.e. once the last request holding the bundle
  // has finished.
  void set_on_destroy(std::function<void()> on_destroy) {
    on_destroy_ = std::move(on_destroy);
  }

 private:
  SavedModelBundle() = default;

  const TfCApi* api_ = nullptr;
  TF_Session* session_ = nullptr;
  std::string run_options_;
  std::string deadline_run_options_;
  std::map<std::string, Signature> signatures_;
  std::string serialized_signature_def_map_;
  std::shared_ptr<BatchingSession> batching_;
  std::function<void()> on_destroy_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_SERVABLES_TENSORFLOW_SAVED_MODEL_BUNDLE_H_

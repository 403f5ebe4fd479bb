// The versions the native data plane serves, mirrored from the Python
// manager (upstream's BasicManager::ServingMap: what is ready to serve).
//
// The Python AspiredVersionsManager stays the one source of truth. Whenever
// the AVAILABLE set of a model changes it publishes the new set here (under
// its own lock, so a new version is published before an old one is taken
// away), and ServerCore publishes its version labels and, for the models it
// is configured with, why a request may find nothing: Find() then answers
// with ServerCore's own words.

#ifndef TENSORFLOW_SERVING_CORE_SERVING_MAP_H_
#define TENSORFLOW_SERVING_CORE_SERVING_MAP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow_serving/apis/model.pb.h"

namespace tensorflow {
namespace serving {

class SavedModelBundle;

class ServingMap {
 public:
  using Versions = std::map<int64_t, std::shared_ptr<SavedModelBundle>>;

  // What ServerCore says of a model it is configured with when a request
  // finds no version (server_core.py's _not_found_error).
  struct Unavailable {
    // Appended to the NOT_FOUND of a request for the latest version, after
    // "; " (e.g. "the model is still loading"); empty: nothing appended.
    std::string latest_reason;
    // Versions being loaded: a request for one of them says so.
    std::set<int64_t> loading_versions;
  };

  // Replaces the servable versions of `name` (empty: none).
  void SetVersions(const std::string& name, Versions versions);
  // Replaces the label -> version map of `name`.
  void SetLabels(const std::string& name, std::map<std::string, int64_t> labels);
  // Whether `name` is configured (nullopt: it is not), and why it may serve
  // nothing.
  void SetUnavailable(const std::string& name, std::optional<Unavailable> unavailable);
  // Takes `bundle` out of every model that serves it.
  void Remove(const SavedModelBundle* bundle);

  // The version `spec` asks for (ServerCore's rules: no choice = the highest
  // version, else the version or the label's version), or ServerCore's
  // error: INVALID_ARGUMENT without a name or for a label the model lacks,
  // NOT_FOUND (with the published reason) for a version not AVAILABLE.
  absl::Status Find(const ModelSpec& spec, std::shared_ptr<SavedModelBundle>* bundle,
                    int64_t* version) const;

  // The AVAILABLE versions of `name`, ascending.
  std::vector<int64_t> AvailableVersions(const std::string& name) const;
  // Whether every model ServerCore is configured with has a version
  // AVAILABLE (the Open Inference Protocol's server readiness).
  bool AllConfiguredModelsAvailable() const;

 private:
  struct Model {
    Versions versions;
    std::map<std::string, int64_t> labels;
    std::optional<Unavailable> unavailable;  // set while configured
    bool empty() const { return versions.empty() && labels.empty() && !unavailable; }
  };
  mutable std::shared_mutex mu_;
  std::map<std::string, Model> models_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_CORE_SERVING_MAP_H_

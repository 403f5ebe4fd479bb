// The versions the native data plane may serve, mirrored from the Python
// manager (upstream's BasicManager::ServingMap: what is ready to serve).
//
// The Python AspiredVersionsManager stays the one source of truth. Whenever
// the AVAILABLE set of a model changes it publishes the new set here (under
// its own lock, so a new version is published before an old one is taken
// away), and ServerCore publishes its version labels. A request the map
// cannot resolve is not an error here: the native plane hands it to the
// Python plane, whose ServerCore gives the one authoritative answer.

#ifndef TENSORFLOW_SERVING_CORE_SERVING_MAP_H_
#define TENSORFLOW_SERVING_CORE_SERVING_MAP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "tensorflow_serving/apis/model.pb.h"

namespace tensorflow {
namespace serving {

class SavedModelBundle;

class ServingMap {
 public:
  using Versions = std::map<int64_t, std::shared_ptr<SavedModelBundle>>;

  // Replaces the servable versions of `name` (empty: none).
  void SetVersions(const std::string& name, Versions versions);
  // Replaces the label -> version map of `name`.
  void SetLabels(const std::string& name, std::map<std::string, int64_t> labels);
  // Takes `bundle` out of every model that serves it.
  void Remove(const SavedModelBundle* bundle);
  void Clear();

  // The version `spec` asks for (ServerCore's rules: no choice = the highest
  // version, else the version or the label's version), or nullptr.
  std::shared_ptr<SavedModelBundle> Find(const ModelSpec& spec, int64_t* version) const;

 private:
  struct Model {
    Versions versions;
    std::map<std::string, int64_t> labels;
  };
  mutable std::shared_mutex mu_;
  std::map<std::string, Model> models_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_CORE_SERVING_MAP_H_

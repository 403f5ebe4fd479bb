#include "tensorflow_serving/core/serving_map.h"

#include <mutex>
#include <vector>

namespace tensorflow {
namespace serving {

void ServingMap::SetVersions(const std::string& name, Versions versions) {
  // The replaced bundles are released outside the lock: releasing the last
  // reference may wait for a batching thread.
  Versions old;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (versions.empty()) {
      auto it = models_.find(name);
      if (it == models_.end()) return;
      old.swap(it->second.versions);
      if (it->second.labels.empty()) models_.erase(it);
    } else {
      Versions& current = models_[name].versions;
      old.swap(current);
      current.swap(versions);
    }
  }
}

void ServingMap::SetLabels(const std::string& name, std::map<std::string, int64_t> labels) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (labels.empty()) {
    auto it = models_.find(name);
    if (it == models_.end()) return;
    it->second.labels.clear();
    if (it->second.versions.empty()) models_.erase(it);
    return;
  }
  models_[name].labels.swap(labels);
}

void ServingMap::Remove(const SavedModelBundle* bundle) {
  std::vector<std::shared_ptr<SavedModelBundle>> removed;
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (auto& [name, model] : models_) {
    for (auto it = model.versions.begin(); it != model.versions.end();) {
      if (it->second.get() == bundle) {
        removed.push_back(std::move(it->second));
        it = model.versions.erase(it);
      } else {
        ++it;
      }
    }
  }
  lock.unlock();
}

void ServingMap::Clear() {
  std::map<std::string, Model> old;
  std::unique_lock<std::shared_mutex> lock(mu_);
  old.swap(models_);
  lock.unlock();
}

std::shared_ptr<SavedModelBundle> ServingMap::Find(const ModelSpec& spec,
                                                   int64_t* version) const {
  if (spec.name().empty()) return nullptr;
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto model = models_.find(spec.name());
  if (model == models_.end()) return nullptr;
  const Versions& versions = model->second.versions;
  Versions::const_iterator it;
  switch (spec.version_choice_case()) {
    case ModelSpec::kVersion:
      it = versions.find(spec.version().value());
      break;
    case ModelSpec::kVersionLabel: {
      auto label = model->second.labels.find(spec.version_label());
      if (label == model->second.labels.end()) return nullptr;
      it = versions.find(label->second);
      break;
    }
    default:
      if (versions.empty()) return nullptr;
      it = std::prev(versions.end());
      break;
  }
  if (it == versions.end()) return nullptr;
  *version = it->first;
  return it->second;
}

}  // namespace serving
}  // namespace tensorflow

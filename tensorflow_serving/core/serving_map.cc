#include "tensorflow_serving/core/serving_map.h"

#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tensorflow {
namespace serving {

void ServingMap::SetVersions(const std::string& name, Versions versions) {
  // The replaced bundles are released outside the lock: releasing the last
  // reference may wait for a batching thread.
  Versions old;
  std::unique_lock<std::shared_mutex> lock(mu_);
  Model& model = models_[name];
  old.swap(model.versions);
  model.versions.swap(versions);
  if (model.empty()) models_.erase(name);
  lock.unlock();
}

void ServingMap::SetLabels(const std::string& name, std::map<std::string, int64_t> labels) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  Model& model = models_[name];
  model.labels.swap(labels);
  if (model.empty()) models_.erase(name);
}

void ServingMap::SetUnavailable(const std::string& name,
                                std::optional<Unavailable> unavailable) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  Model& model = models_[name];
  model.unavailable = std::move(unavailable);
  if (model.empty()) models_.erase(name);
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

absl::Status ServingMap::Find(const ModelSpec& spec, std::shared_ptr<SavedModelBundle>* bundle,
                              int64_t* version) const {
  const std::string& name = spec.name();
  if (name.empty()) return absl::InvalidArgumentError("ModelSpec has no name specified.");
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto model = models_.find(name);
  const Model* found = model == models_.end() ? nullptr : &model->second;
  std::optional<int64_t> wanted;
  switch (spec.version_choice_case()) {
    case ModelSpec::kVersion:
      wanted = spec.version().value();
      break;
    case ModelSpec::kVersionLabel: {
      const std::string& label = spec.version_label();
      if (found == nullptr || found->labels.count(label) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("Unrecognized servable version label: ", label));
      }
      wanted = found->labels.at(label);
      break;
    }
    default:
      break;
  }
  if (found != nullptr && !found->versions.empty()) {
    auto it = wanted ? found->versions.find(*wanted) : std::prev(found->versions.end());
    if (it != found->versions.end()) {
      *bundle = it->second;
      *version = it->first;
      return absl::OkStatus();
    }
  }
  // ServerCore's NOT_FOUND: upstream's ServableRequest::DebugString, and for
  // a configured model a short reason (never paths or load errors).
  std::string message =
      wanted ? absl::StrCat("Servable not found for request: Specific(", name, ", ", *wanted, ")")
             : absl::StrCat("Servable not found for request: Latest(", name, ")");
  if (found != nullptr && found->unavailable) {
    const Unavailable& why = *found->unavailable;
    if (wanted) {
      if (why.loading_versions.count(*wanted)) {
        absl::StrAppend(&message, "; version ", *wanted, " is still loading");
      }
    } else if (found->versions.empty() && !why.latest_reason.empty()) {
      absl::StrAppend(&message, "; ", why.latest_reason);
    }
  }
  return absl::NotFoundError(message);
}

std::vector<int64_t> ServingMap::AvailableVersions(const std::string& name) const {
  std::vector<int64_t> versions;
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto model = models_.find(name);
  if (model == models_.end()) return versions;
  for (const auto& entry : model->second.versions) versions.push_back(entry.first);
  return versions;
}

bool ServingMap::AllConfiguredModelsAvailable() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto& [name, model] : models_) {
    if (model.unavailable && model.versions.empty()) return false;
  }
  return true;
}

}  // namespace serving
}  // namespace tensorflow

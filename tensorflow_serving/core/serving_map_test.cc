// Tests ServingMap: which version a ModelSpec resolves to, ServerCore's
// errors when it resolves to none, and what the map forgets.

#include "tensorflow_serving/core/serving_map.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow_serving/servables/tensorflow/saved_model_bundle.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

std::shared_ptr<SavedModelBundle> Bundle() {
  std::unique_ptr<SavedModelBundle> bundle;
  CHECK_TRUE(SavedModelBundle::Create(nullptr, nullptr, MetaGraphDef().SerializeAsString(), {},
                                      "", "", &bundle)
                 .ok());
  return std::shared_ptr<SavedModelBundle>(std::move(bundle));
}

ModelSpec Spec(const std::string& name) {
  ModelSpec spec;
  spec.set_name(name);
  return spec;
}

// The bundle `spec` finds, or nullptr.
std::shared_ptr<SavedModelBundle> Found(const ServingMap& map, const ModelSpec& spec,
                                        int64_t* version) {
  std::shared_ptr<SavedModelBundle> bundle;
  if (!map.Find(spec, &bundle, version).ok()) return nullptr;
  return bundle;
}

std::string Error(const ServingMap& map, const ModelSpec& spec) {
  std::shared_ptr<SavedModelBundle> bundle;
  int64_t version = 0;
  const absl::Status status = map.Find(spec, &bundle, &version);
  CHECK_TRUE(!status.ok() && bundle == nullptr);
  return absl::StatusCodeToString(status.code()) + ": " + std::string(status.message());
}

void TestResolution() {
  ServingMap map;
  auto v1 = Bundle();
  auto v2 = Bundle();
  map.SetVersions("m", {{1, v1}, {2, v2}});
  map.SetLabels("m", {{"stable", 1}, {"gone", 7}});
  int64_t version = 0;

  CHECK_TRUE(Found(map, Spec("m"), &version) == v2 && version == 2);  // latest
  ModelSpec spec = Spec("m");
  spec.mutable_version()->set_value(1);
  CHECK_TRUE(Found(map, spec, &version) == v1 && version == 1);
  spec.mutable_version()->set_value(3);
  CHECK_TRUE(Error(map, spec) == "NOT_FOUND: Servable not found for request: Specific(m, 3)");
  spec.set_version_label("stable");
  CHECK_TRUE(Found(map, spec, &version) == v1 && version == 1);
  spec.set_version_label("gone");  // a label whose version is not served
  CHECK_TRUE(Error(map, spec) == "NOT_FOUND: Servable not found for request: Specific(m, 7)");
  spec.set_version_label("nope");
  CHECK_TRUE(Error(map, spec) == "INVALID_ARGUMENT: Unrecognized servable version label: nope");
  CHECK_TRUE(Error(map, Spec("other")) ==
             "NOT_FOUND: Servable not found for request: Latest(other)");
  CHECK_TRUE(Error(map, Spec("")) == "INVALID_ARGUMENT: ModelSpec has no name specified.");
}

void TestReasonsOfConfiguredModels() {
  ServingMap map;
  map.SetUnavailable("m", ServingMap::Unavailable{"the model is still loading", {3}});
  CHECK_TRUE(Error(map, Spec("m")) ==
             "NOT_FOUND: Servable not found for request: Latest(m); the model is still loading");
  ModelSpec spec = Spec("m");
  spec.mutable_version()->set_value(3);
  CHECK_TRUE(Error(map, spec) ==
             "NOT_FOUND: Servable not found for request: Specific(m, 3); version 3 is still "
             "loading");
  spec.mutable_version()->set_value(4);
  CHECK_TRUE(Error(map, spec) == "NOT_FOUND: Servable not found for request: Specific(m, 4)");
  // Once a version serves, a request for the latest finds it.
  auto v1 = Bundle();
  map.SetVersions("m", {{1, v1}});
  int64_t version = 0;
  CHECK_TRUE(Found(map, Spec("m"), &version) == v1);
  map.SetVersions("m", {});
  map.SetUnavailable("m", std::nullopt);  // no longer configured: no reason
  CHECK_TRUE(Error(map, Spec("m")) == "NOT_FOUND: Servable not found for request: Latest(m)");
}

void TestReplaceRemoveAndRelease() {
  ServingMap map;
  auto v1 = Bundle();
  std::weak_ptr<SavedModelBundle> weak = v1;
  map.SetVersions("m", {{1, v1}});
  v1.reset();
  CHECK_TRUE(!weak.expired());  // the map holds it
  auto v2 = Bundle();
  map.SetVersions("m", {{2, v2}});
  CHECK_TRUE(weak.expired());  // replaced sets release their bundles
  int64_t version = 0;
  CHECK_TRUE(Found(map, Spec("m"), &version) == v2);
  map.Remove(v2.get());
  CHECK_TRUE(Found(map, Spec("m"), &version) == nullptr);
  map.SetVersions("m", {{2, v2}});
  map.SetVersions("m", {});
  CHECK_TRUE(Found(map, Spec("m"), &version) == nullptr);
}

void TestReadiness() {
  ServingMap map;
  CHECK_TRUE(map.AllConfiguredModelsAvailable());  // nothing configured
  map.SetUnavailable("m", ServingMap::Unavailable{"the model is still loading", {1}});
  map.SetVersions("unconfigured", {{4, Bundle()}});
  CHECK_TRUE(!map.AllConfiguredModelsAvailable());
  map.SetVersions("m", {{2, Bundle()}, {1, Bundle()}});
  CHECK_TRUE(map.AllConfiguredModelsAvailable());
  CHECK_TRUE(map.AvailableVersions("m") == std::vector<int64_t>({1, 2}));
  CHECK_TRUE(map.AvailableVersions("other").empty());
  map.SetUnavailable("n", ServingMap::Unavailable{"", {}});
  CHECK_TRUE(!map.AllConfiguredModelsAvailable());
  map.SetUnavailable("n", std::nullopt);
  CHECK_TRUE(map.AllConfiguredModelsAvailable());
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  tensorflow::serving::TestResolution();
  tensorflow::serving::TestReasonsOfConfiguredModels();
  tensorflow::serving::TestReplaceRemoveAndRelease();
  tensorflow::serving::TestReadiness();
  std::puts("serving_map_test: OK");
  return 0;
}

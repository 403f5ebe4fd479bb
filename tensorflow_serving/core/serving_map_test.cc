// Tests ServingMap: which version a ModelSpec resolves to, and what it forgets.

#include "tensorflow_serving/core/serving_map.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

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

void TestResolution() {
  ServingMap map;
  auto v1 = Bundle();
  auto v2 = Bundle();
  map.SetVersions("m", {{1, v1}, {2, v2}});
  map.SetLabels("m", {{"stable", 1}, {"gone", 7}});
  int64_t version = 0;

  CHECK_TRUE(map.Find(Spec("m"), &version) == v2 && version == 2);  // latest
  ModelSpec spec = Spec("m");
  spec.mutable_version()->set_value(1);
  CHECK_TRUE(map.Find(spec, &version) == v1 && version == 1);
  spec.mutable_version()->set_value(3);
  CHECK_TRUE(map.Find(spec, &version) == nullptr);
  spec.set_version_label("stable");
  CHECK_TRUE(map.Find(spec, &version) == v1 && version == 1);
  spec.set_version_label("gone");  // a label whose version is not served
  CHECK_TRUE(map.Find(spec, &version) == nullptr);
  spec.set_version_label("nope");
  CHECK_TRUE(map.Find(spec, &version) == nullptr);
  CHECK_TRUE(map.Find(Spec("other"), &version) == nullptr);
  CHECK_TRUE(map.Find(Spec(""), &version) == nullptr);
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
  CHECK_TRUE(map.Find(Spec("m"), &version) == v2);
  map.Remove(v2.get());
  CHECK_TRUE(map.Find(Spec("m"), &version) == nullptr);
  map.SetVersions("m", {{2, v2}});
  map.SetVersions("m", {});
  CHECK_TRUE(map.Find(Spec("m"), &version) == nullptr);
  map.SetVersions("m", {{2, v2}});
  map.Clear();
  CHECK_TRUE(map.Find(Spec("m"), &version) == nullptr);
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  tensorflow::serving::TestResolution();
  tensorflow::serving::TestReplaceRemoveAndRelease();
  std::puts("serving_map_test: OK");
  return 0;
}

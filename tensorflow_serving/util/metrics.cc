#include "tensorflow_serving/util/metrics.h"

#include <algorithm>

namespace tensorflow {
namespace serving {

Metrics& Metrics::Get() {
  static Metrics* metrics = new Metrics();  // never destroyed
  return *metrics;
}

bool Metrics::Declare(Family family) {
  Metrics& metrics = Get();
  std::lock_guard<std::mutex> lock(metrics.mu_);
  metrics.families_.push_back(std::move(family));
  return true;
}

std::vector<Metrics::Family> Metrics::families() const {
  std::lock_guard<std::mutex> lock(mu_);
  return families_;
}

void Metrics::Enable(std::map<std::string, std::vector<double>> bucket_limits) {
  std::lock_guard<std::mutex> lock(mu_);
  bucket_limits_ = std::move(bucket_limits);
  enabled_.store(true);
}

void Metrics::Increment(const std::string& family, Labels labels, int64_t by) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mu_);
  recorded_.counters[family][std::move(labels)] += by;
}

void Metrics::Add(const std::string& family, Labels labels, double value) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto limits = bucket_limits_.find(family);
  if (limits == bucket_limits_.end()) return;
  Histogram& cell = recorded_.samplers[family][std::move(labels)];
  if (cell.bucket_counts.empty()) cell.bucket_counts.assign(limits->second.size() + 1, 0);
  const size_t index =
      std::upper_bound(limits->second.begin(), limits->second.end(), value) -
      limits->second.begin();
  cell.bucket_counts[index] += 1;
  cell.sum += value;
  cell.count += 1;
}

Metrics::Snapshot Metrics::Drain() {
  Snapshot snapshot;
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(snapshot, recorded_);
  return snapshot;
}

}  // namespace serving
}  // namespace tensorflow

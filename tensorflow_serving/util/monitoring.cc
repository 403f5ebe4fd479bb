#include "tensorflow_serving/util/monitoring.h"

#include <algorithm>

namespace tensorflow {
namespace serving {

Monitoring& Monitoring::Get() {
  static Monitoring* monitoring = new Monitoring();  // never destroyed
  return *monitoring;
}

void Monitoring::Enable(std::map<std::string, std::vector<double>> bucket_limits) {
  std::lock_guard<std::mutex> lock(mu_);
  bucket_limits_ = std::move(bucket_limits);
  enabled_.store(true);
}

void Monitoring::Increment(const std::string& family, Labels labels, int64_t by) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mu_);
  recorded_.counters[family][std::move(labels)] += by;
}

void Monitoring::Add(const std::string& family, Labels labels, double value) {
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

Monitoring::Snapshot Monitoring::Drain() {
  Snapshot snapshot;
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(snapshot, recorded_);
  return snapshot;
}

}  // namespace serving
}  // namespace tensorflow

// The native data plane's recordings of the server's metrics: counters and
// samplers keyed by family name and labels. The families are declared here,
// where they are recorded (Declare()); the Python control plane registers
// each in its registry, which owns the Prometheus page, and before each
// export drains what was recorded here since the last drain into its cells.

#ifndef TENSORFLOW_SERVING_UTIL_METRICS_H_
#define TENSORFLOW_SERVING_UTIL_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tensorflow {
namespace serving {

class Metrics {
 public:
  using Labels = std::vector<std::string>;
  struct Histogram {
    std::vector<int64_t> bucket_counts;
    double sum = 0;
    int64_t count = 0;
  };
  struct Snapshot {
    std::map<std::string, std::map<Labels, int64_t>> counters;
    std::map<std::string, std::map<Labels, Histogram>> samplers;
  };

  // A family the native side records: a counter, or a sampler whose bucket
  // limits are monitoring.py's exponential_buckets(scale, growth_factor,
  // bucket_count).
  struct Family {
    std::string name;
    std::string description;
    std::vector<std::string> label_names;
    bool sampler = false;
    double scale = 0;
    double growth_factor = 0;
    int bucket_count = 0;
  };

  static Metrics& Get();

  // Declares `family`; returns true, so that a module can declare its
  // families as it is loaded (static initialization).
  static bool Declare(Family family);
  std::vector<Family> families() const;

  // Starts recording; `bucket_limits` gives each sampler family's limits (as
  // the Python registry computed them from the declarations).
  void Enable(std::map<std::string, std::vector<double>> bucket_limits);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  void Increment(const std::string& family, Labels labels, int64_t by = 1);
  // Bucket i counts values v with limit[i-1] <= v < limit[i] (the last one
  // everything above), as the Python families do. Unknown families are ignored.
  void Add(const std::string& family, Labels labels, double value);

  // Everything recorded since the last Drain().
  Snapshot Drain();

 private:
  std::atomic<bool> enabled_{false};
  mutable std::mutex mu_;
  std::vector<Family> families_;
  std::map<std::string, std::vector<double>> bucket_limits_;
  Snapshot recorded_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_METRICS_H_

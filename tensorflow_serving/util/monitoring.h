// The native data plane's recordings of the server's metrics (the C++ side of
// monitoring.py): counters and samplers keyed by family name and labels, with
// the bucket limits of the Python families they feed. The Python plane owns
// the families and the Prometheus page; before each export it drains what was
// recorded here since the last drain and adds it to its own cells, so every
// request counts once, whichever plane answered it.

#ifndef TENSORFLOW_SERVING_UTIL_MONITORING_H_
#define TENSORFLOW_SERVING_UTIL_MONITORING_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tensorflow {
namespace serving {

class Monitoring {
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

  static Monitoring& Get();

  // Starts recording; `bucket_limits` gives each sampler family's limits.
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
  std::mutex mu_;
  std::map<std::string, std::vector<double>> bucket_limits_;
  Snapshot recorded_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_UTIL_MONITORING_H_

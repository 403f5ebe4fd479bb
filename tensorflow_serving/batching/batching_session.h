// Merges concurrent native Predict runs into batched Session runs: the C++
// counterpart of batching_session.py, with the same scheduling and the same
// answers (see that module's docstring): one queue per (signature, output
// aliases); a batch runs when full, batch_timeout_micros after its first
// task, or when the session closes; at most max_enqueued_batches wait;
// allowed_batch_sizes pads with copies of a real row; requests whose
// non-batch shapes differ run as separate sub-batches; large requests may be
// split. Callers never block: each task completes through its callback, on a
// batch thread.

#ifndef TENSORFLOW_SERVING_BATCHING_BATCHING_SESSION_H_
#define TENSORFLOW_SERVING_BATCHING_BATCHING_SESSION_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"

namespace tensorflow {
namespace serving {

// Upstream's BatchingParameters; the server sets every field from
// batching_parameters.py's BatchingOptions, where the defaults are.
struct BatchingOptions {
  int64_t max_batch_size = 0;
  int64_t batch_timeout_micros = 0;
  int64_t max_enqueued_batches = 0;
  int num_batch_threads = 0;
  std::vector<int64_t> allowed_batch_sizes;
  bool pad_variable_length_inputs = false;
  bool enable_large_batch_splitting = false;
  int64_t max_execution_batch_size = 0;  // 0: max_batch_size
  // The queuing_latency metric's label.
  std::string thread_pool_name;

  int64_t execution_batch_size() const {
    return enable_large_batch_splitting && max_execution_batch_size > 0
               ? max_execution_batch_size
               : max_batch_size;
  }
};

class BatchingSession : public std::enable_shared_from_this<BatchingSession> {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs one batch: feeds and fetches as the first task gave them; the run
  // must end by `deadline` (Clock::time_point::max(): no deadline).
  using RunFn = std::function<absl::Status(const std::vector<TF_Output>& feeds,
                                           const std::vector<TfTensor>& values,
                                           const std::vector<TF_Output>& fetches,
                                           Clock::time_point deadline,
                                           std::vector<TfTensor>* outputs)>;
  // Receives the task's outputs in its output alias order.
  using DoneFn = std::function<void(absl::Status, OwnedTensorViews)>;

  // A started session. Its threads share ownership of it, so the last
  // reference may safely go away on one of them.
  static std::shared_ptr<BatchingSession> Create(const TfCApi* api, BatchingOptions options,
                                                 RunFn run);
  BatchingSession(const TfCApi* api, BatchingOptions options, RunFn run);  // use Create()

  const BatchingOptions& options() const { return options_; }

  // Refuses new tasks and lets the threads run every queued one and stop;
  // returns once they have, unless called on one of them.
  void Close();

  // Queues one request's tensors. `done` is called exactly once: right away
  // (on this thread) for a task that cannot be queued, else on a batch
  // thread. `deadline` (Clock::time_point::max(): none) is the task's
  // RunOptions timeout: a batch runs until its tasks' last deadline (none if
  // one has none), and not at all once that has passed.
  void Run(const std::string& signature_name, const std::vector<std::string>& input_aliases,
           const std::vector<TF_Output>& feeds, std::vector<TfTensor> values,
           const std::vector<std::string>& output_aliases,
           const std::vector<TF_Output>& fetches, Clock::time_point deadline, DoneFn done);

 private:
  struct Task;
  struct SplitParent;
  struct Batch {
    std::vector<std::shared_ptr<Task>> tasks;
    int64_t size = 0;
    Clock::time_point start;
  };
  struct Queue {
    std::vector<TF_Output> feeds;
    std::vector<std::string> output_aliases;  // sorted
    std::vector<TF_Output> fetches;           // in output_aliases order
    std::deque<Batch> closed;
    Batch open;
  };

  absl::Status ScheduleSplitLocked(Queue* queue, const std::shared_ptr<Task>& task);
  bool TakeBatchLocked(Queue** queue, Batch* batch, Clock::duration* wait);
  void ThreadLogic();
  void ProcessBatch(Queue* queue, Batch batch);
  absl::Status RunTasks(Queue* queue, std::vector<std::shared_ptr<Task>>& tasks);
  absl::Status RunGroup(Queue* queue, std::vector<std::shared_ptr<Task>>& tasks,
                        Clock::time_point deadline);
  void FinishTask(const std::shared_ptr<Task>& task);

  const TfCApi* const api_;
  const BatchingOptions options_;
  const RunFn run_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<Queue>> queues_;
  std::vector<Queue*> queue_list_;
  size_t next_queue_ = 0;
  bool closed_ = false;
  int running_threads_ = 0;
  std::vector<std::thread::id> thread_ids_;
};

}  // namespace serving
}  // namespace tensorflow

#endif  // TENSORFLOW_SERVING_BATCHING_BATCHING_SESSION_H_

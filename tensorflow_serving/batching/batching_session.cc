#include "tensorflow_serving/batching/batching_session.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow/core/platform/ctstring.h"
#include "tensorflow_serving/util/metrics.h"

namespace tensorflow {
namespace serving {

namespace {

// Upstream's batching_session metric families.
constexpr char kQueuingLatency[] = "/tensorflow/serving/batching_session/queuing_latency";
constexpr char kWrappedRunCount[] = "/tensorflow/serving/batching_session/wrapped_run_count";
constexpr char kInputBatchSize[] = "/tensorflow/serving/batching_session/input_batch_size";
constexpr char kProcessedBatchSize[] =
    "/tensorflow/serving/batching_session/processed_batch_size";
constexpr char kPaddingSize[] = "/tensorflow/serving/batching_session/padding_size";

[[maybe_unused]] const bool kFamiliesDeclared =
    Metrics::Declare({kQueuingLatency,
                         "Wall time (microseconds) tasks spend queued for a batch.",
                         {"thread_pool_name"}, true, 100, 1.2, 52}) &&
    Metrics::Declare({kWrappedRunCount, "Runs of the wrapped model (one per batch).", {}}) &&
    Metrics::Declare({kInputBatchSize, "Dim 0 of each input tensor of each request.", {},
                         true, 1, 2, 14}) &&
    Metrics::Declare({kProcessedBatchSize, "Size of each batch run, padding included.", {},
                         true, 1, 2, 14}) &&
    Metrics::Declare({kPaddingSize, "Padding rows added to each batch, by padded batch size.",
                         {"execution_batch_size"}, true, 1, 2, 14});

// Writes `view`'s elements at `dst`: bytes, or for strings TF_TString views
// of the source strings (which must outlive the destination).
void CopyElements(const TensorView& view, int64_t first, int64_t count, char* dst) {
  if (view.dtype == DT_STRING) {
    const TF_TString* src = reinterpret_cast<const TF_TString*>(view.data) + first;
    TF_TString* out = reinterpret_cast<TF_TString*>(dst);
    for (int64_t i = 0; i < count; ++i) {
      TF_TString_Init(&out[i]);
      TF_TString_AssignView(&out[i], TF_TString_GetDataPointer(&src[i]),
                            TF_TString_GetSize(&src[i]));
    }
    return;
  }
  const size_t element = view.num_elements > 0 ? view.byte_size / view.num_elements : 0;
  if (count > 0) std::memcpy(dst, view.data + first * element, count * element);
}

size_t ElementBytes(const TensorView& view, const TfCApi& api) {
  return view.dtype == DT_STRING ? sizeof(TF_TString)
                                 : api.DataTypeSize(static_cast<TF_DataType>(view.dtype));
}

// Copies `view` into a tensor of dims `target` (each >= view's) whose other
// elements are `view`'s first element: batching_util's padding.
void PadInto(const TensorView& view, const std::vector<int64_t>& target, size_t element,
             char* dst) {
  const int64_t total = std::accumulate(target.begin(), target.end(), int64_t{1},
                                        std::multiplies<int64_t>());
  for (int64_t i = 0; i < total; ++i) CopyElements(view, 0, 1, dst + i * element);
  const int rank = static_cast<int>(view.dims.size());
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < view.num_elements; ++i) {
    int64_t offset = 0;
    for (int d = 0; d < rank; ++d) offset = offset * target[d] + index[d];
    CopyElements(view, i, 1, dst + offset * element);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < view.dims[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

struct BatchingSession::SplitParent {
  std::shared_ptr<Task> task;
  std::vector<std::shared_ptr<Task>> pieces;
  int pending = 0;
  std::mutex mu;
};

struct BatchingSession::Task {
  Clock::time_point enqueued = Clock::now();
  std::vector<TfTensor> values;    // owned inputs (top-level tasks)
  std::vector<TensorView> inputs;  // what the batch concatenates
  int64_t size = 0;
  Clock::time_point deadline = Clock::time_point::max();
  // For each of the request's output aliases, its index in the queue's.
  std::vector<size_t> output_order;
  DoneFn done;
  absl::Status status;
  bool finished = false;
  OwnedTensorViews outputs;  // in the queue's output order
  std::shared_ptr<SplitParent> parent;
  std::shared_ptr<Task> owner;  // a piece keeps its request's tensors alive
  int index = 0;
};

BatchingSession::BatchingSession(const TfCApi* api, BatchingOptions options, RunFn run)
    : api_(api), options_(std::move(options)), run_(std::move(run)) {}

std::shared_ptr<BatchingSession> BatchingSession::Create(const TfCApi* api,
                                                         BatchingOptions options, RunFn run) {
  auto session = std::make_shared<BatchingSession>(api, std::move(options), std::move(run));
  const int threads = std::max(1, session->options_.num_batch_threads);
  std::lock_guard<std::mutex> lock(session->mu_);
  for (int i = 0; i < threads; ++i) {
    std::thread thread([session] { session->ThreadLogic(); });
    session->thread_ids_.push_back(thread.get_id());
    thread.detach();
    ++session->running_threads_;
  }
  return session;
}

void BatchingSession::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
  const std::thread::id self = std::this_thread::get_id();
  if (std::find(thread_ids_.begin(), thread_ids_.end(), self) != thread_ids_.end()) return;
  cv_.wait(lock, [this] { return running_threads_ == 0; });
}

void BatchingSession::Run(const std::string& signature_name,
                          const std::vector<std::string>& input_aliases,
                          const std::vector<TF_Output>& feeds, std::vector<TfTensor> values,
                          const std::vector<std::string>& output_aliases,
                          const std::vector<TF_Output>& fetches, Clock::time_point deadline,
                          DoneFn done) {
  (void)input_aliases;  // the same for every request of a signature
  auto task = std::make_shared<Task>();
  task->values = std::move(values);
  task->deadline = deadline;
  task->done = std::move(done);
  if (task->values.empty()) {
    return task->done(
        absl::InvalidArgumentError("Batching Run() must have at least one input tensor"),
        OwnedTensorViews());
  }
  int64_t size = -1;
  for (const TfTensor& value : task->values) {
    TensorView view = ViewOf(*api_, value.get());
    if (view.dims.empty()) {
      return task->done(absl::InvalidArgumentError(
                            "Batching Run() input tensors must have at least one dimension"),
                        OwnedTensorViews());
    }
    if (size < 0) {
      size = view.dims[0];
    } else if (view.dims[0] != size) {
      return task->done(
          absl::InvalidArgumentError(
              "Batching Run() input tensors must have equal 0th-dimension size"),
          OwnedTensorViews());
    }
    task->inputs.push_back(std::move(view));
  }
  if (size > options_.max_batch_size) {
    return task->done(absl::InvalidArgumentError(
                          absl::StrCat("Task size ", size,
                                       " is larger than maximum input batch size ",
                                       options_.max_batch_size)),
                      OwnedTensorViews());
  }
  task->size = size;
  Metrics& monitoring = Metrics::Get();
  if (monitoring.enabled()) {
    for (size_t i = 0; i < task->inputs.size(); ++i) {
      monitoring.Add(kInputBatchSize, {}, static_cast<double>(size));
    }
  }

  // The queue fetches every alias any of its requests asks for, sorted.
  std::vector<size_t> order(output_aliases.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return output_aliases[a] < output_aliases[b]; });
  std::vector<std::string> sorted_aliases;
  std::vector<TF_Output> sorted_fetches;
  for (size_t i : order) {
    sorted_aliases.push_back(output_aliases[i]);
    sorted_fetches.push_back(fetches[i]);
  }
  task->output_order.resize(output_aliases.size());
  for (size_t position = 0; position < order.size(); ++position) {
    task->output_order[order[position]] = position;
  }
  const std::string key = absl::StrCat(signature_name, "\n", absl::StrJoin(sorted_aliases, "\n"));

  const int64_t limit = options_.execution_batch_size();
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      refused = absl::UnavailableError(
          "BatchingSession is closed (the model is being unloaded); retry the request");
    } else {
      std::unique_ptr<Queue>& slot = queues_[key];
      if (slot == nullptr) {
        slot = std::make_unique<Queue>();
        slot->feeds = feeds;
        slot->output_aliases = sorted_aliases;
        slot->fetches = sorted_fetches;
        queue_list_.push_back(slot.get());
      }
      Queue* queue = slot.get();
      Batch* batch = &queue->open;
      bool notify = false;
      if (batch->size + size > limit) {
        if (options_.enable_large_batch_splitting) {
          refused = ScheduleSplitLocked(queue, task);
          batch = nullptr;
          notify = refused.ok();
        } else if (static_cast<int64_t>(queue->closed.size()) + 1 >=
                   options_.max_enqueued_batches) {
          refused = absl::UnavailableError(
              "The batch scheduling queue to which this task was submitted is full");
          batch = nullptr;
        } else {
          queue->closed.push_back(std::move(queue->open));
          queue->open = Batch();
          batch = &queue->open;
        }
      }
      if (batch != nullptr) {
        notify = batch->tasks.empty();
        if (notify) batch->start = Clock::now();
        batch->tasks.push_back(task);
        batch->size += size;
        notify = notify || batch->size >= limit || !queue->closed.empty();
      }
      if (notify) cv_.notify_one();
    }
  }
  if (!refused.ok()) task->done(refused, OwnedTensorViews());
}

absl::Status BatchingSession::ScheduleSplitLocked(Queue* queue,
                                                  const std::shared_ptr<Task>& task) {
  const int64_t limit = options_.execution_batch_size();
  const int64_t room = limit - queue->open.size;
  std::vector<int64_t> sizes;
  if (room > 0) sizes.push_back(room);
  int64_t left = room > 0 ? task->size - room : task->size;
  while (left > 0) {
    sizes.push_back(std::min(left, limit));
    left -= limit;
  }
  const int64_t new_batches = static_cast<int64_t>(sizes.size()) - (room > 0 ? 1 : 0);
  if (static_cast<int64_t>(queue->closed.size()) + new_batches >= options_.max_enqueued_batches) {
    return absl::UnavailableError(
        "The batch scheduling queue to which this task was submitted is full");
  }
  auto parent = std::make_shared<SplitParent>();
  parent->task = task;
  parent->pending = static_cast<int>(sizes.size());
  parent->pieces.resize(sizes.size());
  int64_t start = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto piece = std::make_shared<Task>();
    for (const TensorView& input : task->inputs) {
      piece->inputs.push_back(Rows(input, start, start + sizes[i]));
    }
    piece->size = sizes[i];
    piece->deadline = task->deadline;
    piece->parent = parent;
    piece->owner = task;
    piece->index = static_cast<int>(i);
    start += sizes[i];
    Batch* batch = &queue->open;
    if (batch->size + sizes[i] > limit) {
      queue->closed.push_back(std::move(queue->open));
      queue->open = Batch();
      batch = &queue->open;
    }
    if (batch->tasks.empty()) batch->start = Clock::now();
    batch->tasks.push_back(piece);
    batch->size += sizes[i];
  }
  return absl::OkStatus();
}

bool BatchingSession::TakeBatchLocked(Queue** queue_out, Batch* batch_out,
                                      Clock::duration* wait) {
  const size_t count = queue_list_.size();
  const int64_t limit = options_.execution_batch_size();
  const auto timeout = std::chrono::microseconds(options_.batch_timeout_micros);
  bool have_wait = false;
  Clock::time_point now;
  bool have_now = false;
  const size_t start = next_queue_;
  for (size_t i = 0; i < count; ++i) {
    Queue* queue = queue_list_[(start + i) % count];
    if (!queue->closed.empty()) {
      *batch_out = std::move(queue->closed.front());
      queue->closed.pop_front();
    } else {
      Batch& open = queue->open;
      if (open.tasks.empty()) continue;
      if (!(closed_ || open.size >= limit)) {
        if (!have_now) {
          now = Clock::now();
          have_now = true;
        }
        const Clock::time_point due = open.start + timeout;
        if (now < due) {
          if (!have_wait || due - now < *wait) *wait = due - now;
          have_wait = true;
          continue;
        }
      }
      *batch_out = std::move(open);
      queue->open = Batch();
    }
    next_queue_ = (start + i + 1) % count;
    *queue_out = queue;
    return true;
  }
  if (!have_wait) *wait = Clock::duration::max();
  return false;
}

void BatchingSession::ThreadLogic() {
  while (true) {
    Queue* queue = nullptr;
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (true) {
        Clock::duration wait;
        if (TakeBatchLocked(&queue, &batch, &wait)) break;
        if (closed_) {
          --running_threads_;
          cv_.notify_all();
          return;
        }
        if (wait == Clock::duration::max()) {
          cv_.wait(lock);
        } else {
          cv_.wait_for(lock, wait);
        }
      }
      for (Queue* q : queue_list_) {
        if (!q->closed.empty()) {
          cv_.notify_one();
          break;
        }
      }
    }
    ProcessBatch(queue, std::move(batch));
  }
}

void BatchingSession::ProcessBatch(Queue* queue, Batch batch) {
  std::vector<std::shared_ptr<Task>>& tasks = batch.tasks;
  const absl::Status status = RunTasks(queue, tasks);
  for (const auto& task : tasks) {
    if (!task->finished) {
      task->status = status.ok() ? absl::InternalError("Batched run produced no outputs")
                                 : status;
      task->finished = true;
    }
  }
  for (const auto& task : tasks) FinishTask(task);
}

void BatchingSession::FinishTask(const std::shared_ptr<Task>& task) {
  if (task->parent == nullptr) {
    OwnedTensorViews outputs;
    if (task->status.ok()) {
      outputs.owner = task->outputs.owner;
      for (size_t position : task->output_order) {
        outputs.views.push_back(task->outputs.views[position]);
      }
    }
    DoneFn done = std::move(task->done);
    done(task->status, std::move(outputs));
    return;
  }
  std::shared_ptr<SplitParent> parent = task->parent;
  {
    std::lock_guard<std::mutex> lock(parent->mu);
    parent->pieces[task->index] = task;
    if (--parent->pending > 0) return;
  }
  const std::shared_ptr<Task> whole = parent->task;
  whole->finished = true;
  for (const auto& piece : parent->pieces) {
    if (!piece->status.ok()) {
      whole->status = piece->status;
      break;
    }
  }
  if (whole->status.ok()) {
    // Concatenate each output's pieces into one buffer; strings stay views
    // into the pieces' batch outputs, which the buffer's owner keeps.
    auto keep = std::make_shared<std::vector<std::shared_ptr<const void>>>();
    const size_t outputs = parent->pieces[0]->outputs.views.size();
    for (size_t k = 0; k < outputs && whole->status.ok(); ++k) {
      std::vector<TensorView> parts;
      for (const auto& piece : parent->pieces) {
        parts.push_back(piece->outputs.views[k]);
        keep->push_back(piece->outputs.owner);
      }
      TensorView merged = parts[0];
      int64_t rows = 0;
      size_t bytes = 0;
      for (const TensorView& part : parts) {
        if (part.dtype != merged.dtype || part.dims.size() != merged.dims.size() ||
            !std::equal(part.dims.begin() + 1, part.dims.end(), merged.dims.begin() + 1)) {
          whole->status = absl::InternalError(
              "Failed to merge the outputs of a split request: the pieces' outputs have "
              "different dtypes or shapes");
          break;
        }
        rows += part.dims[0];
        bytes += part.byte_size;
      }
      if (!whole->status.ok()) break;
      auto buffer = std::shared_ptr<char[]>(new char[bytes > 0 ? bytes : 1]);
      size_t offset = 0;
      for (const TensorView& part : parts) {
        const size_t element = part.num_elements > 0 ? part.byte_size / part.num_elements : 0;
        CopyElements(part, 0, part.num_elements, buffer.get() + offset);
        offset += part.num_elements * element;
      }
      merged.dims[0] = rows;
      merged.data = buffer.get();
      merged.byte_size = bytes;
      merged.num_elements = 0;
      for (const TensorView& part : parts) merged.num_elements += part.num_elements;
      keep->push_back(buffer);
      whole->outputs.views.push_back(std::move(merged));
    }
    whole->outputs.owner = keep;
  }
  // The parent and its pieces refer to each other: let go of the pieces.
  parent->pieces.clear();
  parent->task.reset();
  FinishTask(whole);
}

absl::Status BatchingSession::RunTasks(Queue* queue, std::vector<std::shared_ptr<Task>>& tasks) {
  const Clock::time_point now = Clock::now();
  Metrics& monitoring = Metrics::Get();
  if (monitoring.enabled()) {
    for (const auto& task : tasks) {
      monitoring.Add(kQueuingLatency, {options_.thread_pool_name},
                     std::chrono::duration<double, std::micro>(now - task->enqueued).count());
    }
  }
  // The batch runs until its last task's deadline (none if one has none).
  Clock::time_point deadline = Clock::time_point::min();
  for (const auto& task : tasks) deadline = std::max(deadline, task->deadline);
  if (deadline != Clock::time_point::max() && deadline <= now) {
    return absl::ResourceExhaustedError("Run() timeout exceeded while waiting in batching queue");
  }
  if (tasks.size() == 1) return RunGroup(queue, tasks, deadline);
  // Tasks whose tensors concatenate: same dtypes, and the same non-batch
  // dims unless padding evens those out. First-seen order.
  std::vector<std::pair<std::vector<std::pair<int, std::vector<int64_t>>>,
                        std::vector<std::shared_ptr<Task>>>>
      groups;
  for (const auto& task : tasks) {
    std::vector<std::pair<int, std::vector<int64_t>>> key;
    for (const TensorView& input : task->inputs) {
      if (options_.pad_variable_length_inputs) {
        key.emplace_back(input.dtype, std::vector<int64_t>{static_cast<int64_t>(input.dims.size())});
      } else {
        key.emplace_back(input.dtype, std::vector<int64_t>(input.dims.begin() + 1, input.dims.end()));
      }
    }
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& group) { return group.first == key; });
    if (it == groups.end()) {
      groups.emplace_back(std::move(key), std::vector<std::shared_ptr<Task>>{task});
    } else {
      it->second.push_back(task);
    }
  }
  if (groups.size() == 1) return RunGroup(queue, tasks, deadline);
  for (auto& group : groups) {
    const absl::Status status = RunGroup(queue, group.second, deadline);
    if (!status.ok()) {
      for (const auto& task : group.second) {
        task->status = status;
        task->finished = true;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status BatchingSession::RunGroup(Queue* queue, std::vector<std::shared_ptr<Task>>& tasks,
                                       Clock::time_point deadline) {
  int64_t size = 0;
  for (const auto& task : tasks) size += task->size;
  int64_t padded_size = size;
  for (int64_t allowed : options_.allowed_batch_sizes) {
    if (allowed >= size) {
      padded_size = allowed;
      break;
    }
  }
  int64_t padding = padded_size - size;
  if (padding > 0 && size == 0) {
    padding = 0;  // no row to pad with
    padded_size = 0;
  }
  std::vector<TfTensor> merged;
  const size_t num_inputs = tasks[0]->inputs.size();
  const bool single = tasks.size() == 1 && padding == 0 &&
                      !options_.pad_variable_length_inputs && tasks[0]->parent == nullptr;
  std::vector<TfTensor>* values = &tasks[0]->values;
  if (!single) {
    for (size_t k = 0; k < num_inputs; ++k) {
      std::vector<TensorView> parts;
      for (const auto& task : tasks) parts.push_back(task->inputs[k]);
      const TensorView& first = parts[0];
      std::vector<int64_t> dims = first.dims;
      bool ragged = false;
      if (options_.pad_variable_length_inputs && dims.size() >= 2) {
        for (const TensorView& part : parts) {
          for (size_t d = 1; d < dims.size(); ++d) {
            if (part.dims[d] != dims[d]) {
              ragged = true;
              dims[d] = std::max(dims[d], part.dims[d]);
            }
          }
        }
      }
      auto same_rows = [&dims](const TensorView& part) {
        return std::equal(part.dims.begin() + 1, part.dims.end(), dims.begin() + 1);
      };
      if (ragged) {
        for (const TensorView& part : parts) {
          if (!same_rows(part) && part.num_elements == 0) {
            return absl::InvalidArgumentError("Got empty tensor in batch of non-empty tensors.");
          }
        }
      }
      dims[0] = padded_size;
      const size_t element = ElementBytes(first, *api_);
      int64_t row_elements = 1;
      for (size_t d = 1; d < dims.size(); ++d) row_elements *= dims[d];
      const size_t bytes = static_cast<size_t>(padded_size * row_elements) * element;
      TfTensor tensor(api_, api_->AllocateTensor(static_cast<TF_DataType>(first.dtype),
                                                  dims.data(), static_cast<int>(dims.size()),
                                                  bytes));
      char* out = static_cast<char*>(api_->TensorData(tensor.get()));
      size_t offset = 0;
      const TensorView* last_nonempty = nullptr;
      for (const TensorView& part : parts) {
        const size_t part_bytes = static_cast<size_t>(part.dims[0] * row_elements) * element;
        if (ragged && !same_rows(part)) {
          std::vector<int64_t> target = dims;
          target[0] = part.dims[0];
          PadInto(part, target, element, out + offset);
        } else {
          CopyElements(part, 0, part.num_elements, out + offset);
        }
        if (part.dims[0] > 0) last_nonempty = &part;
        offset += part_bytes;
      }
      if (padding > 0 && last_nonempty != nullptr) {
        // Like upstream, pad with copies of a real row, which the model is
        // known to accept: the first row of the last non-empty request.
        const char* row = out + (offset - static_cast<size_t>(last_nonempty->dims[0] *
                                                               row_elements) * element);
        TensorView row_view;
        row_view.dtype = first.dtype;
        row_view.dims = {1};
        row_view.data = row;
        row_view.num_elements = row_elements;
        row_view.byte_size = row_elements * element;
        for (int64_t p = 0; p < padding; ++p) {
          CopyElements(row_view, 0, row_elements, out + offset);
          offset += row_elements * element;
        }
      }
      merged.push_back(std::move(tensor));
    }
    values = &merged;
  }
  Metrics& monitoring = Metrics::Get();
  if (monitoring.enabled()) {
    monitoring.Add(kPaddingSize, {std::to_string(padded_size)}, static_cast<double>(padding));
    monitoring.Add(kProcessedBatchSize, {}, static_cast<double>(padded_size));
    monitoring.Increment(kWrappedRunCount, {});
  }
  std::vector<TfTensor> outputs;
  const absl::Status status = run_(queue->feeds, *values, queue->fetches, deadline, &outputs);
  if (!status.ok()) return status;
  OwnedTensorViews batched = OwnedTensorViews::Of(*api_, std::move(outputs));
  for (size_t k = 0; k < batched.views.size(); ++k) {
    const TensorView& value = batched.views[k];
    const std::string& alias = queue->output_aliases[k];
    if (value.dims.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("Batched output tensor '", alias, "' has 0 dimensions"));
    }
    if (value.dims[0] != padded_size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Batched output tensor '", alias, "' has 0th dimension ", value.dims[0],
          ", which does not equal the sum of the 0th dimension sizes of the input tensors (",
          padded_size, ")"));
    }
  }
  int64_t start = 0;
  for (const auto& task : tasks) {
    task->outputs.owner = batched.owner;
    for (const TensorView& value : batched.views) {
      task->outputs.views.push_back(Rows(value, start, start + task->size));
    }
    task->finished = true;
    start += task->size;
  }
  return absl::OkStatus();
}

}  // namespace serving
}  // namespace tensorflow

// Tests the native BatchingSession with tensors made without TensorFlow and a
// run function that doubles its input (or copies strings): how tasks merge,
// pad, split and come back, and what a full queue or an expired deadline gets.

#include "tensorflow_serving/batching/batching_session.h"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "tensorflow/core/platform/ctstring.h"
#include "tensorflow_serving/servables/tensorflow/fake_tf_c_api.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

// A queue as upstream's defaults make it, one batch thread (the server gets
// its values from batching_parameters.py).
BatchingOptions TestOptions() {
  BatchingOptions options;
  options.max_batch_size = 1000;
  options.max_enqueued_batches = 10;
  options.num_batch_threads = 1;
  options.thread_pool_name = "batch_threads";
  return options;
}

using Clock = BatchingSession::Clock;
constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

// Runs a batch: the one output is 2x the one input (floats) or the input
// strings copied. Records the batch sizes it saw.
struct Model {
  std::mutex mu;
  std::vector<int64_t> batch_sizes;
  std::vector<std::vector<int64_t>> batch_dims;

  BatchingSession::RunFn Fn() {
    return [this](const std::vector<TF_Output>&, const std::vector<TfTensor>& values,
                  const std::vector<TF_Output>&, Clock::time_point,
                  std::vector<TfTensor>* outputs) {
      const TfCApi& api = FakeTfCApi();
      const TensorView in = ViewOf(api, values[0].get());
      {
        std::lock_guard<std::mutex> lock(mu);
        batch_sizes.push_back(in.dims[0]);
        batch_dims.push_back(in.dims);
      }
      TF_Tensor* out = api.AllocateTensor(static_cast<TF_DataType>(in.dtype), in.dims.data(),
                                          static_cast<int>(in.dims.size()), in.byte_size);
      if (in.dtype == DT_STRING) {
        auto* dst = static_cast<TF_TString*>(api.TensorData(out));
        auto* src = reinterpret_cast<const TF_TString*>(in.data);
        for (int64_t i = 0; i < in.num_elements; ++i) {
          TF_TString_Init(&dst[i]);
          TF_TString_Copy(&dst[i], TF_TString_GetDataPointer(&src[i]),
                          TF_TString_GetSize(&src[i]));
        }
      } else {
        auto* dst = static_cast<float*>(api.TensorData(out));
        auto* src = reinterpret_cast<const float*>(in.data);
        for (int64_t i = 0; i < in.num_elements; ++i) dst[i] = 2 * src[i];
      }
      outputs->emplace_back(&api, out);
      return absl::OkStatus();
    };
  }
};

// Closes a session when the test's scope ends, as the bundle does.
struct Closer {
  std::shared_ptr<BatchingSession> session;
  ~Closer() { session->Close(); }
};

// One request's answer, once its callback ran.
struct Answer {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  absl::Status status;
  TensorView view;
  std::vector<float> floats;
  std::vector<std::string> strings;

  BatchingSession::DoneFn Fn() {
    return [this](absl::Status s, OwnedTensorViews outputs) {
      std::lock_guard<std::mutex> lock(mu);
      status = s;
      if (s.ok()) {
        view = outputs.views[0];
        if (view.dtype == DT_STRING) {
          auto* strs = reinterpret_cast<const TF_TString*>(view.data);
          for (int64_t i = 0; i < view.num_elements; ++i) {
            strings.emplace_back(TF_TString_GetDataPointer(&strs[i]),
                                 TF_TString_GetSize(&strs[i]));
          }
        } else {
          auto* f = reinterpret_cast<const float*>(view.data);
          floats.assign(f, f + view.num_elements);
        }
      }
      done = true;
      cv.notify_all();
    };
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return done; });
  }
};

void Submit(BatchingSession* session, TfTensor input, Answer* answer,
            Clock::time_point deadline = kNoDeadline) {
  std::vector<TfTensor> values;
  values.push_back(std::move(input));
  session->Run("sig", {"x"}, {TF_Output{nullptr, 0}}, std::move(values), {"y"},
               {TF_Output{nullptr, 0}}, deadline, answer->Fn());
}

std::vector<float> Doubled(const std::vector<float>& v) {
  std::vector<float> out;
  for (float f : v) out.push_back(2 * f);
  return out;
}

void TestMergesPadsAndSplitsBack() {
  Model model;
  BatchingOptions options = TestOptions();
  options.max_batch_size = 8;
  options.batch_timeout_micros = 200000;
  options.allowed_batch_sizes = {4, 8};
  Answer a, b, c;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, model.Fn());
    Closer closer{session};
    Submit(session.get(), FakeTensor(TF_FLOAT, {1, 2}, {1, 2}), &a);
    Submit(session.get(), FakeTensor(TF_FLOAT, {2, 2}, {3, 4, 5, 6}), &b);
    Submit(session.get(), FakeTensor(TF_FLOAT, {2, 2}, {7, 8, 9, 10}), &c);
    a.Wait();
    b.Wait();
    c.Wait();
  }
  CHECK_TRUE(a.status.ok() && b.status.ok() && c.status.ok());
  CHECK_TRUE(a.floats == Doubled({1, 2}));
  CHECK_TRUE(b.floats == Doubled({3, 4, 5, 6}) && b.view.dims[0] == 2);
  CHECK_TRUE(c.floats == Doubled({7, 8, 9, 10}));
  // 5 rows, padded to the allowed size 8, in one run.
  CHECK_TRUE(model.batch_sizes == std::vector<int64_t>({8}));
}

void TestRaggedRowsArePaddedWithTheirFirstValue() {
  Model model;
  BatchingOptions options = TestOptions();
  options.max_batch_size = 2;
  options.batch_timeout_micros = 10000000;
  options.pad_variable_length_inputs = true;
  Answer a, b;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, model.Fn());
    Closer closer{session};
    Submit(session.get(), FakeTensor(TF_FLOAT, {1, 2}, {1, 2}), &a);
    Submit(session.get(), FakeTensor(TF_FLOAT, {1, 3}, {3, 4, 5}), &b);
    a.Wait();
    b.Wait();
  }
  CHECK_TRUE(a.floats == Doubled({1, 2, 1}));  // padded with its first value
  CHECK_TRUE(b.floats == Doubled({3, 4, 5}));
  CHECK_TRUE(model.batch_dims == std::vector<std::vector<int64_t>>({{2, 3}}));
}

void TestDifferentRowShapesRunApart() {
  Model model;
  BatchingOptions options = TestOptions();
  options.max_batch_size = 2;
  options.batch_timeout_micros = 10000000;
  Answer a, b;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, model.Fn());
    Closer closer{session};
    Submit(session.get(), FakeTensor(TF_FLOAT, {1, 2}, {1, 2}), &a);
    Submit(session.get(), FakeTensor(TF_FLOAT, {1, 3}, {3, 4, 5}), &b);
    a.Wait();
    b.Wait();
  }
  CHECK_TRUE(a.floats == Doubled({1, 2}) && b.floats == Doubled({3, 4, 5}));
  CHECK_TRUE(model.batch_sizes.size() == 2);
}

void TestLargeRequestsAreSplit() {
  Model model;
  BatchingOptions options = TestOptions();
  options.max_batch_size = 8;
  options.batch_timeout_micros = 1000;
  options.enable_large_batch_splitting = true;
  options.max_execution_batch_size = 2;
  Answer a;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, model.Fn());
    Closer closer{session};
    Submit(session.get(), FakeTensor(TF_FLOAT, {5, 1}, {1, 2, 3, 4, 5}), &a);
    a.Wait();
  }
  CHECK_TRUE(a.status.ok());
  CHECK_TRUE(a.floats == Doubled({1, 2, 3, 4, 5}) && a.view.dims[0] == 5);
  for (int64_t size : model.batch_sizes) CHECK_TRUE(size <= 2);
}

void TestStrings() {
  Model model;
  BatchingOptions options = TestOptions();
  options.max_batch_size = 4;
  options.batch_timeout_micros = 10000000;
  Answer a, b;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, model.Fn());
    Closer closer{session};
    Submit(session.get(), FakeStringTensor({2}, {"short", std::string(50, 'l')}), &a);
    Submit(session.get(), FakeStringTensor({2}, {"", std::string("\0x", 2)}), &b);
    a.Wait();
    b.Wait();
  }
  CHECK_TRUE(a.strings == std::vector<std::string>({"short", std::string(50, 'l')}));
  CHECK_TRUE(b.strings == std::vector<std::string>({"", std::string("\0x", 2)}));
  CHECK_TRUE(model.batch_sizes == std::vector<int64_t>({4}));
}

void TestRefusals() {
  Model model;
  BatchingOptions options = TestOptions();
  options.max_batch_size = 2;
  Answer too_big, scalar, expired;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, model.Fn());
    Closer closer{session};
    Submit(session.get(), FakeTensor(TF_FLOAT, {3}, {1, 2, 3}), &too_big);
    Submit(session.get(), FakeTensor(TF_FLOAT, {}, {1}), &scalar);
    Submit(session.get(), FakeTensor(TF_FLOAT, {1}, {1}), &expired,
           Clock::now() - std::chrono::milliseconds(1));
    too_big.Wait();
    scalar.Wait();
    expired.Wait();
  }
  CHECK_TRUE(too_big.status.message() == "Task size 3 is larger than maximum input batch size 2");
  CHECK_TRUE(scalar.status.message() ==
             "Batching Run() input tensors must have at least one dimension");
  CHECK_TRUE(expired.status.code() == absl::StatusCode::kResourceExhausted);
  CHECK_TRUE(model.batch_sizes.empty());
}

void TestFullQueue() {
  // The one batch thread is kept busy; then one batch waits; then the queue
  // (max_enqueued_batches 2, the open batch included) is full.
  std::mutex mu;
  std::condition_variable cv;
  bool running = false, release = false;
  Model model;
  BatchingSession::RunFn inner = model.Fn();
  BatchingSession::RunFn blocking = [&](const std::vector<TF_Output>& feeds,
                                        const std::vector<TfTensor>& values,
                                        const std::vector<TF_Output>& fetches,
                                        Clock::time_point deadline,
                                        std::vector<TfTensor>* outputs) {
    std::unique_lock<std::mutex> lock(mu);
    running = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    lock.unlock();
    return inner(feeds, values, fetches, deadline, outputs);
  };
  BatchingOptions options = TestOptions();
  options.max_batch_size = 1;
  options.max_enqueued_batches = 2;
  options.num_batch_threads = 1;
  Answer a, b, c, d;
  {
    auto session = BatchingSession::Create(&FakeTfCApi(), options, blocking);
    Closer closer{session};
    Submit(session.get(), FakeTensor(TF_FLOAT, {1}, {1}), &a);
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return running; });
    }
    Submit(session.get(), FakeTensor(TF_FLOAT, {1}, {2}), &b);  // the open batch
    Submit(session.get(), FakeTensor(TF_FLOAT, {1}, {3}), &c);  // closes b's, opens one
    Submit(session.get(), FakeTensor(TF_FLOAT, {1}, {4}), &d);  // no room
    d.Wait();
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
      cv.notify_all();
    }
    a.Wait();
    b.Wait();
    c.Wait();
  }
  CHECK_TRUE(a.status.ok() && b.status.ok() && c.status.ok());
  CHECK_TRUE(c.floats == Doubled({3}));
  CHECK_TRUE(d.status.code() == absl::StatusCode::kUnavailable);
  CHECK_TRUE(d.status.message() ==
             "The batch scheduling queue to which this task was submitted is full");
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestMergesPadsAndSplitsBack();
  TestRaggedRowsArePaddedWithTheirFirstValue();
  TestDifferentRowShapesRunApart();
  TestLargeRequestsAreSplit();
  TestStrings();
  TestRefusals();
  TestFullQueue();
  std::puts("batching_session_test: OK");
  return 0;
}

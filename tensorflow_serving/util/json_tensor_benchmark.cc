// Measures json_tensor on the REST hot path and on large bodies:
//
//   tools/bazel run //tensorflow_serving/util:json_tensor_benchmark -- [--large_mb=4,200]
//
// * batch-1 MNIST: the body mnist_client --rest sends (784 float32 pixels
//   written as Python writes them, most of them 0.0) parsed into a
//   PredictRequest, and the 10 scores written back as JSON; CPU microseconds
//   per call, the best of several rounds (a busy machine only adds time);
// * large row-format bodies of each --large_mb size, rows of 784 such pixels
//   (read in one pass) and rows as {"images": [...], "ids": n} objects (read
//   through a DOM): parse time per MB and the peak RSS the parse adds,
//   relative to the body's size; then the same for writing the [rows, 784]
//   floats back as an output.

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tensorflow_serving/util/json_tensor.h"

namespace tensorflow {
namespace serving {
namespace {

double CpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The process's peak RSS (VmHWM), in KiB.
long PeakRssKb() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof(line), status) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  std::fclose(status);
  return kb;
}

// Lowers the peak RSS to the current RSS, so the next peak is one step's.
void ResetPeakRss() {
  FILE* refs = std::fopen("/proc/self/clear_refs", "w");
  if (refs == nullptr || std::fputs("5", refs) < 0 || std::fclose(refs) != 0) {
    std::fprintf(stderr, "cannot reset the peak RSS (/proc/self/clear_refs)\n");
    std::exit(1);
  }
}

// One MNIST-like image as Python's json.dumps writes a float32 list: about
// a fifth of the pixels lit (k/255 as float32, printed with the shortest
// digits of its double), the rest 0.0.
void AppendImage(std::mt19937* rng, std::string* out) {
  out->push_back('[');
  char buffer[32];
  for (int i = 0; i < 784; ++i) {
    if (i > 0) out->append(", ");
    const bool lit = (*rng)() % 5 == 0;
    const double pixel = lit ? static_cast<float>(((*rng)() % 255 + 1) / 255.0) : 0.0;
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), pixel);
    out->append(buffer, result.ptr);
    if (!lit) out->append(".0");
  }
  out->push_back(']');
}

TensorInfoMapGetter MnistInputs() {
  return [](const std::string&, google::protobuf::Map<std::string, TensorInfo>* infos) {
    (*infos)["images"].set_dtype(DT_FLOAT);
    return absl::OkStatus();
  };
}

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
}

// CPU microseconds per call of `fn`, the best of `rounds` rounds.
template <typename Fn>
double BestMicros(int rounds, int calls, Fn fn) {
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    const double start = CpuSeconds();
    for (int i = 0; i < calls; ++i) fn();
    best = std::min(best, (CpuSeconds() - start) * 1e6 / calls);
  }
  return best;
}

void BenchmarkMnist() {
  std::mt19937 rng(1);
  std::string body = R"({"signature_name": "predict_images", "instances": [)";
  AppendImage(&rng, &body);
  body += "]}";
  const TensorInfoMapGetter inputs = MnistInputs();

  google::protobuf::Map<std::string, TensorProto> outputs;
  TensorProto& scores = outputs["scores"];
  scores.set_dtype(DT_FLOAT);
  scores.mutable_tensor_shape()->add_dim()->set_size(1);
  scores.mutable_tensor_shape()->add_dim()->set_size(10);
  for (int i = 0; i < 10; ++i) scores.add_float_val(static_cast<float>(rng() % 1000) / 997.f);

  const auto parse = [&] {
    PredictRequest request;
    JsonPredictRequestFormat format;
    Check(FillPredictRequestFromJson(body, inputs, &request, &format));
  };
  const auto write = [&] {
    std::string json;
    Check(MakeJsonFromTensors(outputs, JsonPredictRequestFormat::kRow, &json, 64 << 20));
  };
  constexpr int kRounds = 15;
  constexpr int kCalls = 2000;
  const double parse_us = BestMicros(kRounds, kCalls, parse);
  const double write_us = BestMicros(kRounds, kCalls, write);
  const double both_us = BestMicros(kRounds, kCalls, [&] {
    parse();
    write();
  });
  std::printf("batch-1 MNIST (%zu-byte body, 784 floats in, 10 out), CPU us per call:\n",
              body.size());
  std::printf("  parse %.2f  write %.2f  parse+write %.2f\n", parse_us, write_us, both_us);
}

// A row-format body of about `megabytes`: rows of 784 pixels, or (`named`)
// objects {"images": [...], "ids": <row>} for a two-input signature.
std::string LargeBody(int megabytes, bool named, int64_t* rows) {
  std::mt19937 rng(2);
  const size_t target = static_cast<size_t>(megabytes) << 20;
  std::string body = R"({"instances": [)";
  body.reserve(target + (64 << 10));
  *rows = 0;
  while (body.size() < target) {
    if ((*rows)++ > 0) body.append(",\n");
    if (named) body.append(R"({"images": )");
    AppendImage(&rng, &body);
    if (named) body.append(R"(, "ids": )").append(std::to_string(*rows)).append("}");
  }
  body += "]}";
  return body;
}

// Parses `body` into `request`, printing time per MB and the peak RSS added.
void MeasureParse(const std::string& body, const char* what, const TensorInfoMapGetter& inputs,
                  PredictRequest* request) {
  const double mb = body.size() / double(1 << 20);
  ResetPeakRss();
  const long rss_before = PeakRssKb();
  JsonPredictRequestFormat format;
  const double wall = WallSeconds();
  const double cpu = CpuSeconds();
  Check(FillPredictRequestFromJson(body, inputs, request, &format));
  const double parse_cpu = CpuSeconds() - cpu;
  const double parse_wall = WallSeconds() - wall;
  const long rss_parse = PeakRssKb();
  std::printf("  parse %s: %.0f us/MB CPU (%.0f wall), %.2f s; peak RSS +%.1f MB = %.2fx the body"
              " (request itself %.1f MB)\n",
              what, parse_cpu * 1e6 / mb, parse_wall * 1e6 / mb, parse_cpu,
              (rss_parse - rss_before) / 1024.0, (rss_parse - rss_before) / 1024.0 / mb,
              request->ByteSizeLong() / double(1 << 20));
}

void BenchmarkLarge(int megabytes) {
  int64_t rows = 0;
  PredictRequest request;
  {
    const std::string body = LargeBody(megabytes, /*named=*/true, &rows);
    std::printf("%.1f MB bodies (%lld rows of 784 floats):\n", body.size() / double(1 << 20),
                static_cast<long long>(rows));
    MeasureParse(body, "rows as objects (DOM path)",
                 [](const std::string&, google::protobuf::Map<std::string, TensorInfo>* infos) {
                   (*infos)["images"].set_dtype(DT_FLOAT);
                   (*infos)["ids"].set_dtype(DT_INT64);
                   return absl::OkStatus();
                 },
                 &request);
  }
  request.Clear();
  {
    const std::string body = LargeBody(megabytes, /*named=*/false, &rows);
    MeasureParse(body, "rows of numbers (one pass)", MnistInputs(), &request);
  }
  const TensorProto& images = request.inputs().at("images");

  // The same values as an output, written back.
  google::protobuf::Map<std::string, TensorProto> outputs;
  outputs["scores"] = images;
  request.Clear();
  ResetPeakRss();
  const long rss_write_before = PeakRssKb();
  std::string json;
  const double write_start = CpuSeconds();
  Check(MakeJsonFromTensors(outputs, JsonPredictRequestFormat::kRow, &json, 64 << 20));
  const double write_cpu = CpuSeconds() - write_start;
  const double json_mb = json.size() / double(1 << 20);
  std::printf("  write: %.1f MB of JSON, %.0f us/MB CPU, %.2f s; peak RSS +%.1f MB = %.2fx the "
              "JSON\n",
              json_mb, write_cpu * 1e6 / json_mb, write_cpu,
              (PeakRssKb() - rss_write_before) / 1024.0,
              (PeakRssKb() - rss_write_before) / 1024.0 / json_mb);
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main(int argc, char** argv) {
  std::vector<int> large_mb;
  for (int i = 1; i < argc; ++i) {
    const char* prefix = "--large_mb=";
    if (std::strncmp(argv[i], prefix, std::strlen(prefix)) != 0) {
      std::fprintf(stderr, "usage: %s [--large_mb=4,200]\n", argv[0]);
      return 2;
    }
    for (absl::string_view part : absl::StrSplit(argv[i] + std::strlen(prefix), ',')) {
      int mb;
      if (!absl::SimpleAtoi(part, &mb) || mb <= 0) {
        std::fprintf(stderr, "bad --large_mb: %s\n", argv[i]);
        return 2;
      }
      large_mb.push_back(mb);
    }
  }
  tensorflow::serving::BenchmarkMnist();
  for (int mb : large_mb) tensorflow::serving::BenchmarkLarge(mb);
  return 0;
}

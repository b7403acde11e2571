// When batching pays in spex-cloud: the cost of one pass of a model's tail
// (the cloud's part) per batch size, through the single-sample path (one
// sample at a time) and the feature-major batch path (one pass of up to 64
// columns), as the inference engine runs them. One thread.
//
// Usage: spex_tail_batch_bench [MODEL] (default results/fashion-default.spex)
// Prints one JSON object per batch size and a table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/kernels/aligned_vector.h"
#include "common/model/model.h"

namespace spex {
namespace {

using Clock = std::chrono::steady_clock;

// Median of `repeats` timings of `run`, in microseconds.
template <typename Fn>
double MedianMicros(Fn run, int repeats) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    run();
    times.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Run(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  const ModelPart& tail = (*model)->tail();
  const int width = tail.input_width();
  const int classes = tail.output_width();
  constexpr int kColumns = 64;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(0.0f, 2.0f);
  AlignedVector<float> x(static_cast<size_t>(width) * kColumns);
  for (float& v : x) v = value(rng);
  AlignedVector<float> y(static_cast<size_t>(classes) * kColumns);
  std::vector<float> sample(width), out(classes);
  Workspace single(tail), batch(tail, kColumns);
  std::printf(
      "| batch | single path us | batch pass us | us/sample single | us/sample "
      "batch |\n");
  std::printf("|---|---|---|---|---|\n");
  std::vector<std::string> json;
  for (int b : {1, 2, 3, 4, 8, 16, 24, 32, 48, 64}) {
    const int repeats = 400;
    const double single_us = MedianMicros(
        [&] {
          for (int s = 0; s < b; ++s) {
            for (int i = 0; i < width; ++i) sample[i] = x[i * kColumns + s];
            tail.Forward(sample.data(), out.data(), nullptr, &single);
          }
        },
        repeats);
    const double batch_us = MedianMicros(
        [&] {
          tail.ForwardBatch(b, x.data(), kColumns, y.data(), kColumns, nullptr,
                            0, &batch);
        },
        repeats);
    std::printf("| %d | %.1f | %.1f | %.2f | %.2f |\n", b, single_us, batch_us,
                single_us / b, batch_us / b);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "{\"bench\": \"tail_pass\", \"batch\": %d, \"single_us\": "
                  "%.1f, \"batch_pass_us\": %.1f, \"tail_macs\": %lld}",
                  b, single_us, batch_us,
                  static_cast<long long>(tail.backbone_cost().macs));
    json.push_back(line);
  }
  for (const std::string& line : json) std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) {
  return spex::Run(argc > 1 ? argv[1] : "results/fashion-default.spex");
}

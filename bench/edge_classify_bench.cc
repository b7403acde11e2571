// The edge's in-process cost: EdgeAgent::Classify round trips (accept, a
// worker runs the head and the exit, answer) one sample at a time, as an
// application linking the library sees them, on the Fashion-MNIST test
// set, with the cloud path never taken. Also LocalClassifier::Run alone
// (the arithmetic without the hand-off to the worker).
//
// Usage: spex_edge_classify_bench [MODEL]
// Prints {"measure": "in_process_classify_us", "p50": a, "p99": b} and
// {"measure": "local_classifier_us", "p50": a, "p99": b}.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "edge_agent/edge_agent.h"
#include "edge_agent/local_classifier.h"
#include "tools/data/dataset.h"

namespace spex {
namespace {

using Clock = std::chrono::steady_clock;

void Print(const char* measure, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  std::printf("{\"measure\": \"%s\", \"p50\": %.1f, \"p99\": %.1f}\n", measure,
              us[us.size() / 2], us[us.size() * 99 / 100]);
}

int Run(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(path);
  absl::StatusOr<Dataset> data = LoadDataset("fashion-mnist", Split::kTest);
  if (!model.ok() || !data.ok()) {
    std::fprintf(
        stderr, "%s\n",
        std::string((model.ok() ? data.status() : model.status()).message())
            .c_str());
    return 1;
  }
  EdgeAgentOptions options;
  options.threshold = 0.0f;  // every sample answers locally
  EdgeAgent agent(*model, options, /*next=*/nullptr, /*metrics=*/nullptr);
  std::vector<double> round_trips;
  for (int i = 0; i < data->size(); ++i) {
    v1::ClassifyRequest request;
    request.set_pixels(data->sample(i), data->width);
    std::promise<void> answered;
    const auto start = Clock::now();
    if (!agent
             .Classify(
                 request,
                 [&answered](v1::ClassifyResponse) { answered.set_value(); })
             .ok()) {
      return 1;
    }
    answered.get_future().wait();
    if (i >= 500) {  // after warm-up
      round_trips.push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - start)
              .count());
    }
  }
  Print("in_process_classify_us", round_trips);

  LocalClassifier classifier(*model);
  const std::vector<ExitRule> rules =
      ExitRulesFor((*model)->head(), std::nullopt);
  std::vector<double> runs;
  for (int i = 0; i < data->size(); ++i) {
    const std::string pixels = data->PixelBytes(i);
    const RawInput input = RawInput::Pixels(absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(pixels.data()), pixels.size()));
    const auto start = Clock::now();
    (void)classifier.Run(input, rules);
    runs.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start)
            .count());
  }
  Print("local_classifier_us", runs);
  return 0;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) {
  return spex::Run(argc > 1 ? argv[1] : "results/fashion-default.spex");
}

// spex-replay: an application on the device. Sends a dataset's test set to
// a running spex-edge through its local API (N streams, flat out or at a
// rate), with a progress bar, writes one JSON line per sample and prints a
// summary: accuracy, the fraction answered by each path, offloaded bytes per
// offloaded sample (read from the agent's metrics), latency per path.
//
//   spex-replay --target=unix:/run/spex/edge.sock [--dataset=fashion-mnist]
//               [--streams=8] [--rate=0] [--limit=0] [--out=FILE]
//               [--summary=FILE] [--edge_metrics=HOST:PORT]
//               [--drift=FIRST-LAST:CORRUPTION:SEVERITY,... --drift_seed=1]
//
// --drift replays a change of the inputs: the samples in each range are
// corrupted (tools/data/corruption.h), deterministically by seed and id,
// and each JSON line names its corruption.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "tools/common/args.h"
#include "tools/common/json.h"
#include "tools/common/metrics_scrape.h"
#include "tools/common/progress.h"
#include "tools/data/corruption.h"
#include "tools/replay/replay.h"

namespace spex {
namespace {

std::string PathJson(const PathSummary& path) {
  return absl::StrFormat("{\"p50\": %.0f, \"p99\": %.0f}", path.p50_us,
                         path.p99_us);
}

int Run(int argc, char** argv) {
  Args args;
  args.Option("target", "unix:/run/spex/edge.sock",
              "the edge agent: unix:PATH or host:port")
      .Option("dataset", "fashion-mnist",
              "fashion-mnist | mnist-digits | train=FILE,test=FILE,... "
              "(its test samples)")
      .Option("limit", "0", "send only the first N samples (0: all)")
      .Option("streams", "8", "concurrent streams")
      .Option("depth", "8", "samples in flight per stream")
      .Option("rate", "0", "samples per second over all streams (0: flat out)")
      .Option("top_k", "0", "classes to ask for per sample")
      .Option("out", "", "write one JSON line per sample here")
      .Option("summary", "", "write the summary as JSON here")
      .Option("edge_metrics", "",
              "host:port of the agent's metrics, to report offloaded bytes")
      .Option("repeat", "1", "send the dataset this many times")
      .Option("drift", "",
              "corrupt ranges of sample ids, e.g. "
              "\"0-9999:none,10000-19999:noise:3\" (corruptions: noise, "
              "blur, contrast, brightness, shift; severities 1-5)")
      .Option("drift_seed", "1", "seed of --drift's corruptions")
      .Option("bench_target", "",
              "print only one JSON line {target, streams, samples_per_s, "
              "p50_us, p99_us} under this target name (scripts/bench.sh edge)");
  if (absl::Status status = args.Parse(argc, argv, 1); !status.ok()) {
    std::fprintf(stderr, "spex-replay: %s\n\n%s",
                 std::string(status.message()).c_str(), args.Help().c_str());
    return 2;
  }
  ReplayOptions options;
  options.target = args.Get("target");
  absl::StatusOr<long> limit = args.GetInt("limit");
  absl::StatusOr<long> streams = args.GetInt("streams");
  absl::StatusOr<long> depth = args.GetInt("depth");
  absl::StatusOr<double> rate = args.GetDouble("rate");
  absl::StatusOr<long> top_k = args.GetInt("top_k");
  absl::StatusOr<long> repeat = args.GetInt("repeat");
  for (const absl::Status& s :
       {limit.status(), streams.status(), depth.status(), rate.status(),
        top_k.status(), repeat.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "spex-replay: %s\n",
                   std::string(s.message()).c_str());
      return 2;
    }
  }
  if (*streams < 1 || *depth < 1 || *limit < 0 || *rate < 0 || *top_k < 0 ||
      *repeat < 1) {
    std::fprintf(stderr, "spex-replay: counts and rates cannot be negative\n");
    return 2;
  }
  options.streams = static_cast<int>(*streams);
  options.depth = static_cast<int>(*depth);
  options.rate = *rate;
  options.top_k = static_cast<uint32_t>(*top_k);
  options.repeat = static_cast<int>(*repeat);
  const std::string bench_target = args.Get("bench_target");

  absl::StatusOr<Dataset> data = LoadDataset(args.Get("dataset"), Split::kTest);
  if (!data.ok()) {
    std::fprintf(stderr, "spex-replay: %s\n",
                 std::string(data.status().message()).c_str());
    return 1;
  }
  if (*limit > 0) data->Truncate(static_cast<int>(*limit));
  std::optional<DriftSchedule> drift;
  if (!args.Get("drift").empty()) {
    absl::StatusOr<long> seed = args.GetInt("drift_seed");
    absl::StatusOr<DriftSchedule> schedule =
        seed.ok() ? DriftSchedule::Parse(args.Get("drift"),
                                         static_cast<uint64_t>(*seed))
                  : absl::StatusOr<DriftSchedule>(seed.status());
    if (!schedule.ok()) {
      std::fprintf(stderr, "spex-replay: %s\n",
                   std::string(schedule.status().message()).c_str());
      return 2;
    }
    if (!data->eight_bit || data->shape.size() != 2) {
      std::fprintf(stderr,
                   "spex-replay: --drift corrupts 8-bit images; %s's samples "
                   "are not\n",
                   data->name.c_str());
      return 2;
    }
    // Every sample sent is its own image: the repeats are made here.
    *data = ApplyDrift(
        *data, static_cast<int64_t>(data->size()) * options.repeat, *schedule);
    options.repeat = 1;
    drift = *schedule;
  }
  const std::string metrics = args.Get("edge_metrics");
  double bytes_before = 0;
  if (!metrics.empty()) {
    bytes_before =
        ScrapeMetric(metrics, "spex_edge_offload_bytes_total").value_or(0);
  }
  Progress progress("replay", static_cast<long>(data->size()) * options.repeat,
                    bench_target.empty());
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<ReplayRecord>> records =
      Replay(*data, options, [&](int answered) {
        progress.Update(answered, absl::StrFormat("%d answered", answered));
      });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (!records.ok()) {
    std::fprintf(stderr, "spex-replay: %s\n",
                 std::string(records.status().message()).c_str());
    return 1;
  }
  if (drift.has_value()) {
    for (ReplayRecord& record : *records) {
      const DriftSegment segment = drift->At(record.id);
      record.corruption = CorruptionName(segment.corruption);
      record.severity = segment.severity;
    }
  }
  const ReplaySummary summary = Summarize(*records, seconds);
  if (!bench_target.empty()) {
    std::vector<double> latencies;
    for (const ReplayRecord& r : *records) {
      if (r.predicted >= 0)
        latencies.push_back(static_cast<double>(r.latency_us));
    }
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double q) {
      return latencies.empty()
                 ? 0.0
                 : latencies[std::min(
                       latencies.size() - 1,
                       static_cast<size_t>(q * latencies.size()))];
    };
    std::printf(
        "{\"target\": %s, \"streams\": %d, \"samples_per_s\": %.0f, "
        "\"p50_us\": %.0f, \"p99_us\": %.0f}\n",
        JsonQuote(bench_target).c_str(), options.streams,
        summary.answered / seconds, at(0.50), at(0.99));
    return summary.answered == summary.samples ? 0 : 1;
  }
  progress.Finish(
      absl::StrFormat("%d answered in %.1f s", summary.answered, seconds));
  double bytes_per_offload = 0;
  const int offloaded = summary.cloud.samples + summary.fallback.samples;
  if (!metrics.empty() && offloaded > 0) {
    const double bytes_after =
        ScrapeMetric(metrics, "spex_edge_offload_bytes_total").value_or(0);
    bytes_per_offload = (bytes_after - bytes_before) / offloaded;
  }
  if (!args.Get("out").empty()) {
    std::ofstream out(args.Get("out"));
    for (const ReplayRecord& record : *records)
      out << RecordJson(record) << "\n";
  }
  const std::string json = absl::StrFormat(
      "{\"samples\": %d, \"answered\": %d, \"refused\": %d, \"accuracy\": "
      "%.4f, \"path_fraction\": {\"local\": %.4f, \"cloud\": %.4f, "
      "\"fallback\": %.4f}, \"offload_bytes_per_sample\": %.1f, "
      "\"latency_us\": {\"local\": %s, \"cloud\": %s, \"fallback\": %s}, "
      "\"seconds\": %.2f}",
      summary.samples, summary.answered, summary.refused, summary.accuracy,
      summary.local.fraction, summary.cloud.fraction, summary.fallback.fraction,
      bytes_per_offload, PathJson(summary.local), PathJson(summary.cloud),
      PathJson(summary.fallback), seconds);
  if (!args.Get("summary").empty())
    std::ofstream(args.Get("summary")) << json << "\n";
  std::printf(
      "samples sent %d, answered %d (refused %d) in %.1f s\n"
      "accuracy %.2f %%\n"
      "answered by  local %.1f %%   cloud %.1f %%   fallback %.1f %%\n"
      "latency us   local p50 %.0f p99 %.0f   cloud p50 %.0f p99 %.0f   "
      "fallback p50 %.0f p99 %.0f\n",
      summary.samples, summary.answered, summary.refused, seconds,
      100 * summary.accuracy, 100 * summary.local.fraction,
      100 * summary.cloud.fraction, 100 * summary.fallback.fraction,
      summary.local.p50_us, summary.local.p99_us, summary.cloud.p50_us,
      summary.cloud.p99_us, summary.fallback.p50_us, summary.fallback.p99_us);
  if (summary.stage_fraction.size() > 2) {
    std::string stages;
    for (size_t s = 0; s < summary.stage_fraction.size(); ++s) {
      absl::StrAppendFormat(&stages, "   %d %.1f %%", s + 1,
                            100 * summary.stage_fraction[s]);
    }
    std::printf("by stage    %s\n", stages.c_str());
  }
  if (!metrics.empty()) {
    std::printf("offloaded bytes per offloaded sample %.1f\n",
                bytes_per_offload);
  }
  return summary.answered + summary.refused == summary.samples ? 0 : 1;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) { return spex::Run(argc, argv); }

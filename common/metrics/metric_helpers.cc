#include "common/metrics/metric_helpers.h"

#include <exception>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "prometheus/gauge.h"

namespace spex {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
          50e-3, 100e-3, 200e-3, 500e-3, 1.0,  2.0,  5.0,  10.0};
}

std::string StatusCodeLabel(absl::StatusCode code) {
  return absl::AsciiStrToUpper(absl::StatusCodeToString(code));
}

void AddBuildInfo(prometheus::Registry& registry, const std::string& component,
                  const std::string& version) {
  prometheus::BuildGauge()
      .Name("spex_build_info")
      .Help("Always 1; the labels say which build is running")
      .Register(registry)
      .Add({{"component", component}, {"version", version}})
      .Set(1);
}

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address,
    const std::shared_ptr<prometheus::Registry>& registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  // civetweb gives each connection a worker thread until its request
  // arrives or request_timeout_ms passes. With prometheus-cpp's defaults (2
  // threads, 30 s) two idle connections stalled every scrape for 30 s.
  // With kMetricsThreads threads and a short timeout, idle connections are
  // dropped fast enough that a scrape behind 200 of them is answered within
  // a second (MetricsEndpointTest); a scraper sends its request at once.
  const std::vector<std::string> options = {
      "listening_ports",    address,
      "num_threads",        std::to_string(kMetricsThreads),
      "request_timeout_ms", std::to_string(kMetricsRequestTimeoutMs)};
  try {
    exposer = std::make_unique<prometheus::Exposer>(options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot serve metrics on %s: %s (port taken?)", address, e.what()));
  }
  exposer->RegisterCollectable(registry);
  return exposer;
}

}  // namespace spex

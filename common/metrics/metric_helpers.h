// What spex's Prometheus metrics share across daemons: the latency buckets,
// the label for a status code, and spex_build_info. Built only with the
// daemons (prometheus-cpp), not into the common library.
#ifndef SPEX_COMMON_METRICS_METRIC_HELPERS_H_
#define SPEX_COMMON_METRICS_METRIC_HELPERS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace spex {

// 50 us to 10 s: a tail pass or a local answer is tens of microseconds, a
// request queued under overload can take seconds.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// The code's canonical name in upper case, as gRPC tools print it ("OK",
// "INVALID_ARGUMENT"); codes share google.rpc.Code's numbers.
std::string StatusCodeLabel(absl::StatusCode code);

// spex_build_info{component, version} = 1 (prometheus-cpp 1.0 has no Info
// metric type).
void AddBuildInfo(prometheus::Registry& registry, const std::string& component,
                  const std::string& version);

// The metrics endpoint's worker threads, and how long a connection may stay
// silent before its request (milliseconds).
inline constexpr int kMetricsThreads = 32;
inline constexpr int kMetricsRequestTimeoutMs = 100;

// Serves `registry` at http://`address`/metrics. prometheus-cpp throws when
// the port is taken; this returns Unavailable naming the address instead.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address,
    const std::shared_ptr<prometheus::Registry>& registry);

}  // namespace spex

#endif  // SPEX_COMMON_METRICS_METRIC_HELPERS_H_

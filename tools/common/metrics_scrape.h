// Reads one value from a Prometheus text endpoint (GET /metrics over plain
// HTTP/1.0), for tools that report what a daemon counted. Not a general HTTP
// client: no redirects, no TLS, one unlabelled sample.
#ifndef SPEX_TOOLS_COMMON_METRICS_SCRAPE_H_
#define SPEX_TOOLS_COMMON_METRICS_SCRAPE_H_

#include <optional>
#include <string>

namespace spex {

// The value of the sample named `metric` (exactly, without labels) at
// http://`address`/metrics (address is host:port); nullopt when the
// endpoint cannot be read or has no such sample.
std::optional<double> ScrapeMetric(const std::string& address,
                                   const std::string& metric);

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_METRICS_SCRAPE_H_

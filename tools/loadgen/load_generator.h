// A load generator for SplitInference servers: N streams (each on its own
// connection, as N edge agents would have), each keeping `depth` requests
// in flight, until M samples have been answered. Reports samples/s and
// latency percentiles. Uses gRPC's callback client API, so a few library
// threads drive every stream and the generator itself costs little CPU.
#ifndef SPEX_TOOLS_LOADGEN_LOAD_GENERATOR_H_
#define SPEX_TOOLS_LOADGEN_LOAD_GENERATOR_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

struct LoadOptions {
  std::string target;  // host:port
  int streams = 1;
  int depth = 8;            // requests in flight per stream
  int64_t samples = 10000;  // measured samples, after a warm-up of a tenth
  // Sent with every request (request_id is overwritten): the layer and one
  // payload of samples_per_request samples. Its model_id goes once per
  // stream, in the `spex-model-id` metadata.
  v1::InferRequest request;
};

struct LoadResult {
  int64_t samples = 0;
  int64_t requests = 0;
  int64_t errors = 0;  // requests answered with a status
  double seconds = 0;
  double samples_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::string first_error;
};

// Unavailable when a stream fails (server down, refused).
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options);

}  // namespace spex

#endif  // SPEX_TOOLS_LOADGEN_LOAD_GENERATOR_H_

// What a StageClient reports of its link to the next stage: each daemon's
// metrics implement it, under the names its dashboards use. No gRPC here,
// so that the metrics classes stay out of it.
#ifndef SPEX_COMMON_RPC_STAGE_CLIENT_METRICS_H_
#define SPEX_COMMON_RPC_STAGE_CLIENT_METRICS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace spex {

class StageClientMetrics {
 public:
  virtual ~StageClientMetrics() = default;
  virtual void SetOffloadsPending(size_t pending) = 0;
  // One request's bytes on the wire.
  virtual void AddOffloadBytes(int64_t bytes) = 0;
  // The next stage answered a call or a request with this error.
  virtual void AddNextStageError(absl::StatusCode code) = 0;
  virtual void ObserveNextStageRtt(double seconds) = 0;
  // Some endpoint's stream is open and serves the model.
  virtual void SetNextStageUp(bool up) = 0;
  virtual void SetModelMismatch(bool mismatch) = 0;
};

}  // namespace spex

#endif  // SPEX_COMMON_RPC_STAGE_CLIENT_METRICS_H_

// A middle stage's ways on over gRPC (NextStages, common/stage/
// next_stage.h): one StageClient per model to the next stage's endpoints (a
// client checks at connect that the next stage serves its model), made when
// the model is first served and kept for the process's life.
//
// Thread-safe.
#ifndef SPEX_CLOUD_SERVICE_STAGE_CLIENT_POOL_H_
#define SPEX_CLOUD_SERVICE_STAGE_CLIENT_POOL_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/stage_client.h"
#include "common/stage/next_stage.h"

namespace spex {

class StageClientPool : public NextStages {
 public:
  // `options` without a model_id (each client gets its model's). `metrics`
  // may be null; otherwise it outlives this object.
  StageClientPool(StageClientOptions options, StageClientMetrics* metrics);

  // The client for `model_id`, connecting from its first use.
  NextStage& For(const std::string& model_id) override;

 private:
  const StageClientOptions options_;
  StageClientMetrics* const metrics_;
  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::unique_ptr<StageClient>> clients_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_STAGE_CLIENT_POOL_H_

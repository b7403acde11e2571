#include "cloud_service/stage_client_pool.h"

#include <utility>

namespace spex {

StageClientPool::StageClientPool(StageClientOptions options,
                                 StageClientMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

NextStage& StageClientPool::For(const std::string& model_id) {
  absl::MutexLock lock(&mutex_);
  std::unique_ptr<StageClient>& client = clients_[model_id];
  if (client == nullptr) {
    StageClientOptions options = options_;
    options.model_id = model_id;
    client = std::make_unique<StageClient>(std::move(options), metrics_);
  }
  return *client;
}

}  // namespace spex

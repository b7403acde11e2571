// The models a cloud replica serves: every model file (*.spex) in one
// directory, keyed by model_id. Reload() rescans the directory; requests
// read an immutable snapshot, so a reload never fails a request in flight
// (the request keeps the snapshot, and with it the model, it started with).
//
// A file that fails to load is reported (log line, metric) and skipped; if
// the same path held a good model before, that model stays served, so a
// half-copied or broken file never takes a model away.
#ifndef SPEX_CLOUD_SERVICE_MODEL_REGISTRY_H_
#define SPEX_CLOUD_SERVICE_MODEL_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/model/model.h"

namespace spex {

class CloudMetrics;

struct ServedModel {
  std::string name;  // the file's stem
  std::string path;
  std::shared_ptr<const Model> model;
};

// One immutable view of what is served.
class ServedModels {
 public:
  explicit ServedModels(std::vector<ServedModel> models);

  // Null when no served model has this id / name.
  const ServedModel* FindById(const std::string& model_id) const;
  const ServedModel* FindByName(const std::string& name) const;
  const std::vector<ServedModel>& all() const { return models_; }
  // "name (id), ..." for error messages; "none" when empty.
  std::string Describe() const;

 private:
  std::vector<ServedModel> models_;
  absl::flat_hash_map<std::string, size_t> by_id_;
  absl::flat_hash_map<std::string, size_t> by_name_;
};

class ModelRegistry {
 public:
  // Loads every model in `directory`. NotFound / PermissionDenied /
  // InvalidArgument when the directory cannot be listed; bad files are only
  // reported. `metrics` may be null; otherwise it outlives the registry.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(
      const std::string& directory, const ModelOptions& options,
      CloudMetrics* metrics);

  // Rescans the directory: loads new and changed files, drops removed ones.
  // Returns an error only when the directory itself cannot be listed (the
  // served models then stay as they were).
  absl::Status Reload();

  std::shared_ptr<const ServedModels> Snapshot() const;
  const std::string& directory() const { return directory_; }

 private:
  ModelRegistry(std::string directory, ModelOptions options,
                CloudMetrics* metrics);

  // What a path held when it was last loaded, to skip unchanged files.
  struct FileState {
    int64_t size = -1;
    int64_t mtime_ns = -1;
    std::shared_ptr<const Model> model;  // null: the file failed to load
  };

  const std::string directory_;
  const ModelOptions options_;
  CloudMetrics* const metrics_;

  absl::Mutex reload_mutex_;  // one reload at a time
  absl::flat_hash_map<std::string, FileState> files_
      ABSL_GUARDED_BY(reload_mutex_);

  mutable absl::Mutex snapshot_mutex_;
  std::shared_ptr<const ServedModels> snapshot_
      ABSL_GUARDED_BY(snapshot_mutex_);
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_MODEL_REGISTRY_H_

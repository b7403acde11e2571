#include "cloud_service/model_registry.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cloud_service/cloud_metrics.h"
#include "common/logging/log.h"

namespace spex {
namespace fs = std::filesystem;

ServedModels::ServedModels(std::vector<ServedModel> models)
    : models_(std::move(models)) {
  for (size_t i = 0; i < models_.size(); ++i) {
    by_id_.emplace(models_[i].model->id(), i);
    by_name_.emplace(models_[i].name, i);
  }
}

const ServedModel* ServedModels::FindById(const std::string& model_id) const {
  auto it = by_id_.find(model_id);
  return it == by_id_.end() ? nullptr : &models_[it->second];
}

const ServedModel* ServedModels::FindByName(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &models_[it->second];
}

std::string ServedModels::Describe() const {
  if (models_.empty()) return "none";
  return absl::StrJoin(models_, ", ",
                       [](std::string* out, const ServedModel& m) {
                         absl::StrAppend(out, m.name, " (", m.model->id(), ")");
                       });
}

ModelRegistry::ModelRegistry(std::string directory, ModelOptions options,
                             CloudMetrics* metrics)
    : directory_(std::move(directory)),
      options_(std::move(options)),
      metrics_(metrics),
      snapshot_(std::make_shared<ServedModels>(std::vector<ServedModel>())) {}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(
    const std::string& directory, const ModelOptions& options,
    CloudMetrics* metrics) {
  std::unique_ptr<ModelRegistry> registry(
      new ModelRegistry(directory, options, metrics));
  absl::Status status = registry->Reload();
  if (!status.ok()) return status;
  return registry;
}

absl::Status ModelRegistry::Reload() {
  absl::MutexLock lock(&reload_mutex_);
  std::error_code error;
  fs::directory_iterator it(directory_, error);
  if (error) {
    const std::string message = absl::StrFormat("model directory '%s': %s",
                                                directory_, error.message());
    if (error == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(message);
    }
    if (error == std::errc::permission_denied) {
      return absl::PermissionDeniedError(message);
    }
    return absl::InvalidArgumentError(message);
  }
  std::vector<fs::path> paths;
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::path& path = it->path();
    if (path.extension() == ".spex" && it->is_regular_file(error)) {
      paths.push_back(path);
    }
  }
  std::sort(paths.begin(), paths.end());

  absl::flat_hash_map<std::string, FileState> files;
  std::vector<ServedModel> served;
  for (const fs::path& path : paths) {
    const std::string key = path.string();
    FileState state;
    state.size = static_cast<int64_t>(fs::file_size(path, error));
    state.mtime_ns = static_cast<int64_t>(
        fs::last_write_time(path, error).time_since_epoch().count());
    auto previous = files_.find(key);
    if (previous != files_.end() && previous->second.size == state.size &&
        previous->second.mtime_ns == state.mtime_ns) {
      state.model = previous->second.model;  // unchanged
    } else {
      absl::StatusOr<std::shared_ptr<const Model>> model =
          Model::Load(key, options_);
      if (model.ok()) {
        state.model = *std::move(model);
        LogInfo(
            absl::StrFormat("model %s loaded from %s", state.model->id(), key));
      } else {
        if (metrics_ != nullptr) metrics_->AddModelLoadError();
        // Keep serving what this path held before, if it was good.
        if (previous != files_.end() && previous->second.model != nullptr) {
          state.model = previous->second.model;
          LogError(
              absl::StrCat("skipped bad model file, keeping its previous "
                           "version: ",
                           model.status().message()));
        } else {
          LogError(absl::StrCat("skipped bad model file: ",
                                model.status().message()));
        }
      }
    }
    if (state.model != nullptr) {
      const std::string name = path.stem().string();
      const bool duplicate =
          std::any_of(served.begin(), served.end(), [&](const ServedModel& m) {
            return m.model->id() == state.model->id();
          });
      if (duplicate) {
        LogWarning(
            absl::StrFormat("%s holds model %s, already served from "
                            "another file; serving it once",
                            key, state.model->id()));
      } else {
        served.push_back({name, key, state.model});
      }
    }
    files.emplace(key, std::move(state));
  }
  files_ = std::move(files);
  const int count = static_cast<int>(served.size());
  auto snapshot = std::make_shared<const ServedModels>(std::move(served));
  {
    absl::MutexLock snapshot_lock(&snapshot_mutex_);
    snapshot_ = std::move(snapshot);
  }
  if (metrics_ != nullptr) metrics_->SetModelsLoaded(count);
  return absl::OkStatus();
}

std::shared_ptr<const ServedModels> ModelRegistry::Snapshot() const {
  absl::MutexLock lock(&snapshot_mutex_);
  return snapshot_;
}

}  // namespace spex

// What a training run produced, for people (a table) and programs
// (<model>.report.json): structure, sparsity, cost per part, bytes at the
// split, accuracies measured through the runtime, time per epoch.
#ifndef SPEX_TOOLS_TRAIN_TRAIN_REPORT_H_
#define SPEX_TOOLS_TRAIN_TRAIN_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model.h"
#include "tools/common/json.h"
#include "tools/data/dataset.h"
#include "tools/train/trainer.h"

namespace spex {

struct TrainRun {
  std::string dataset;
  std::string topology;  // ChainTopologyString of the backbone
  std::string pattern;   // "random", "block" or "dense"
  std::string model_path;
  const Model* model = nullptr;  // as loaded from model_path
  const TrainResult* result = nullptr;
  const TrainOptions* options = nullptr;
  int train_samples = 0;
  int validation_samples = 0;
  const Dataset* test = nullptr;
};

// Runs the test set through the split as deployed (for the label agreement
// per encoding) and gathers the rest from the model and the run.
absl::StatusOr<Json> TrainReportJson(const TrainRun& run);

// The headline figures as a two-column table.
std::string TrainReportText(const TrainRun& run,
                            const std::string& report_path);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_TRAIN_REPORT_H_

// spex-train train: a predefined-sparse network with its exits trained on
// a dataset's training split (less a validation hold-out that picks the
// epoch), its test accuracies measured through the runtime path, written
// as a model file with its recipe, and reported in <prefix>.report.json
// and as a table on stdout.
#ifndef SPEX_TOOLS_TRAIN_TRAIN_WORKFLOW_H_
#define SPEX_TOOLS_TRAIN_TRAIN_WORKFLOW_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/sparsity/pattern.h"
#include "tools/train/trainer.h"

namespace spex {

struct TrainSpec {
  std::string dataset;
  std::vector<int> config;   // layer widths, the input's first
  std::vector<int> fan_out;  // one out-degree per junction
  std::string layers;        // or: layer by layer (layer_list.h)
  bool dense = false;        // every junction full (the dense twin)
  PatternKind pattern = PatternKind::kRandom;
  int split_after = 1;
  std::vector<int> later_cuts;
  std::vector<int> exit_layers;
  std::vector<double> exit_weights;  // one for all exits, or one per exit
  // Each exit's layers (layer_list.h), one list for all exits or one per
  // exit; empty: a linear classifier on the layer's output.
  std::vector<std::string> exit_layer_lists;
  TrainOptions options;
  long validation_samples = 0;  // held out of the training split
  std::string out;              // the model file
  std::string command;          // the command line, recorded in the file
};

absl::Status TrainModel(const TrainSpec& spec);

// Where a command writes its reports beside `model_path`: the path without
// ".spex".
std::string OutputPrefix(const std::string& model_path);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_TRAIN_WORKFLOW_H_

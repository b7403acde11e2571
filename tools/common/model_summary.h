// What a loaded model is, for a person (a table) or a program (JSON):
// layers, sparsity, cost per part, the split and its size on the wire, the
// exits and their thresholds, the model id. Used by `spex-model inspect` and
// by the trainer's report.
#ifndef SPEX_TOOLS_COMMON_MODEL_SUMMARY_H_
#define SPEX_TOOLS_COMMON_MODEL_SUMMARY_H_

#include <string>

#include "common/model/model.h"
#include "tools/common/json.h"

namespace spex {

Json ModelSummaryJson(const Model& model);
std::string ModelSummaryText(const Model& model);

// {"macs", "params", "bytes"} of a part's cost.
Json PartCostJson(const PartCost& cost);

// Bytes of one sample's split activation per encoding:
// {"float32": .., "float16": .., "int8": ..}.
Json SplitBytesJson(const Model& model);

// One object per stage of the model's chain (two for an edge-cloud pair):
// stage, runs_on, first_layer, last_layer, cost (its layers and exits),
// and, but for the last, cut_width and cut_bytes_int8.
Json StagesJson(const Model& model);

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_MODEL_SUMMARY_H_

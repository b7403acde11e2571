// What the full network and the edge's first exit say of every sample of a
// dataset, computed in process as the deployed stages compute it (the
// activation crosses the cut as int8): the reference a replay's answers are
// compared with (the loss against the full network, per window of a
// drift).
#ifndef SPEX_TOOLS_SPEX_MODEL_FULL_LABELS_H_
#define SPEX_TOOLS_SPEX_MODEL_FULL_LABELS_H_

#include <ostream>

#include "absl/status/status.h"
#include "common/model/model.h"
#include "tools/data/dataset.h"

namespace spex {

// One JSON line per sample: {"id", "label" (the dataset's), "full" (the
// full network's label), "exit" (the head's first exit's label),
// "confidence" (that exit's, by its rule's measure)}. FailedPrecondition
// when the model has no exit on the head or its input width differs from
// the dataset's.
absl::Status WriteFullLabels(const Model& model, const Dataset& data,
                             std::ostream& out);

}  // namespace spex

#endif  // SPEX_TOOLS_SPEX_MODEL_FULL_LABELS_H_

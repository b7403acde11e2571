// The connection pattern a model file's layer stores, per its pattern kind
// (see PatternKind in proto/spex/v1/model.proto). Shared by the loader and
// the trainer, so both read indices exactly one way.
#ifndef SPEX_COMMON_MODEL_LAYER_PATTERN_H_
#define SPEX_COMMON_MODEL_LAYER_PATTERN_H_

#include "absl/status/statusor.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"
#include "spex/v1/model.pb.h"

namespace spex {

// `spec` is the layer's junction, already checked for consistent sizes.
// InvalidArgument naming the field ("pattern: ..." or "indices: ...") on an
// unknown kind, a wrong index count, indices out of range or unsorted,
// degrees other than declared, or block codes beyond 16 bits.
absl::StatusOr<Pattern> LayerPattern(const v1::Layer& layer,
                                     const JunctionSpec& spec);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_LAYER_PATTERN_H_

// How sure an exit classifier is, from its softmax output: the number the
// edge compares with the exit's threshold (confident when >= threshold).
#ifndef SPEX_COMMON_MODEL_CONFIDENCE_H_
#define SPEX_COMMON_MODEL_CONFIDENCE_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "spex/v1/model.pb.h"

namespace spex {

// max_softmax: the largest probability, in [1/classes, 1].
// normalized_entropy: 1 - H(p) / log(classes), in [0, 1]; 1 for a one-hot p
// (BranchyNet's entropy criterion, turned so that larger means surer).
// REQUIRES: probs has >= 2 entries; measure is not UNSPECIFIED.
float Confidence(v1::ConfidenceMeasure measure, absl::Span<const float> probs);

// "max_softmax", "normalized_entropy" (and "uncalibrated" for UNSPECIFIED).
absl::string_view ConfidenceMeasureName(v1::ConfidenceMeasure measure);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_CONFIDENCE_H_

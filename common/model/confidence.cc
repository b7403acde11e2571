#include "common/model/confidence.h"

#include <algorithm>
#include <cmath>

namespace spex {

float Confidence(v1::ConfidenceMeasure measure, absl::Span<const float> probs) {
  if (measure == v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY) {
    double entropy = 0.0;
    for (float p : probs) {
      if (p > 0.0f) entropy -= double{p} * std::log(double{p});
    }
    const double normalized =
        entropy / std::log(static_cast<double>(probs.size()));
    return static_cast<float>(std::clamp(1.0 - normalized, 0.0, 1.0));
  }
  return *std::max_element(probs.begin(), probs.end());
}

absl::string_view ConfidenceMeasureName(v1::ConfidenceMeasure measure) {
  switch (measure) {
    case v1::CONFIDENCE_MEASURE_MAX_SOFTMAX:
      return "max_softmax";
    case v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY:
      return "normalized_entropy";
    default:
      return "uncalibrated";
  }
}

}  // namespace spex

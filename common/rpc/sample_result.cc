#include "common/rpc/sample_result.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace spex {

void FillSampleResult(const float* probs, int classes, uint32_t top_k,
                      const Answerer& answerer, v1::SampleResult* result) {
  const int label =
      static_cast<int>(std::max_element(probs, probs + classes) - probs);
  result->set_label(static_cast<uint32_t>(label));
  result->set_confidence(probs[label]);
  result->set_stage(static_cast<uint32_t>(answerer.stage));
  if (answerer.exit > 0) result->set_exit(static_cast<uint32_t>(answerer.exit));
  if (answerer.fallback_reason != v1::FALLBACK_REASON_UNSPECIFIED) {
    result->set_fallback_reason(answerer.fallback_reason);
  }
  if (top_k == 0) return;
  int order[256];
  std::vector<int> large;
  int* indices = order;
  if (classes > 256) {
    large.resize(classes);
    indices = large.data();
  }
  std::iota(indices, indices + classes, 0);
  const int k = std::min<int>(static_cast<int>(top_k), classes);
  std::partial_sort(
      indices, indices + k, indices + classes, [probs](int a, int b) {
        return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
      });
  for (int i = 0; i < k; ++i) {
    v1::ClassProbability* entry = result->add_top_k();
    entry->set_class_index(static_cast<uint32_t>(indices[i]));
    entry->set_probability(probs[indices[i]]);
  }
}

}  // namespace spex

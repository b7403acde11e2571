#include "common/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace spex {

void SoftmaxInPlace(float* y, size_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (size_t o = 0; o < n; ++o) max = std::max(max, y[o]);
  float sum = 0.0f;
  for (size_t o = 0; o < n; ++o) {
    y[o] = std::exp(y[o] - max);
    sum += y[o];
  }
  const float scale = 1.0f / sum;
  for (size_t o = 0; o < n; ++o) y[o] *= scale;
}

void SoftmaxColumnsInPlace(float* y, size_t n, size_t batch, size_t stride) {
  // Columns in chunks, so that the row walks stay sequential in memory and
  // the per-column state fits on the stack.
  constexpr size_t kChunk = 64;
  float max[kChunk], sum[kChunk];
  for (size_t j0 = 0; j0 < batch; j0 += kChunk) {
    const size_t width = std::min(kChunk, batch - j0);
    std::fill(max, max + width, -std::numeric_limits<float>::infinity());
    std::fill(sum, sum + width, 0.0f);
    for (size_t o = 0; o < n; ++o) {
      const float* row = y + o * stride + j0;
      for (size_t j = 0; j < width; ++j) max[j] = std::max(max[j], row[j]);
    }
    for (size_t o = 0; o < n; ++o) {
      float* row = y + o * stride + j0;
      for (size_t j = 0; j < width; ++j) {
        row[j] = std::exp(row[j] - max[j]);
        sum[j] += row[j];
      }
    }
    for (size_t j = 0; j < width; ++j) sum[j] = 1.0f / sum[j];
    for (size_t o = 0; o < n; ++o) {
      float* row = y + o * stride + j0;
      for (size_t j = 0; j < width; ++j) row[j] *= sum[j];
    }
  }
}

}  // namespace spex

// 2-D pooling over channel-major activations (conv2d.h's layout: channel c
// of sample n at x + c * x_stride + n * h * w): max or average over a
// window moved by a stride, without padding, or global average pooling
// (the window is the whole map, the output one value per channel). No
// allocation; the compiler vectorises the loops.
#ifndef SPEX_COMMON_KERNELS_POOLING_H_
#define SPEX_COMMON_KERNELS_POOLING_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"

namespace spex {

enum class PoolKind { kMax, kAverage };

struct Pool2dShape {
  int in_h = 0;
  int in_w = 0;
  int channels = 0;
  // Global: the window is the whole map. Otherwise window x window taps
  // moved by `stride`.
  bool global = false;
  int window = 2;
  int stride = 2;

  int out_h() const { return global ? 1 : (in_h - window) / stride + 1; }
  int out_w() const { return global ? 1 : (in_w - window) / stride + 1; }
  int in_pixels() const { return in_h * in_w; }
  int out_pixels() const { return out_h() * out_w(); }
  std::string DebugString() const;
};

// OK when the sizes are positive and the window fits the map; else
// InvalidArgument naming the field.
absl::Status CheckPool2dShape(const Pool2dShape& shape);

// REQUIRES: x_stride >= samples * in_pixels, y_stride >= samples *
// out_pixels.
void Pool2d(const Pool2dShape& shape, PoolKind kind, size_t samples,
            const float* x, size_t x_stride, float* y, size_t y_stride);

// The gradient of Pool2d, for training: each output's gradient dy goes to
// the input that was its maximum (the first one on a tie, as Pool2d picks
// it) or, for an average, in equal shares to its window; dx (channel-major
// like x) is overwritten, zero where no window reaches.
void Pool2dBackward(const Pool2dShape& shape, PoolKind kind, size_t samples,
                    const float* x, size_t x_stride, const float* dy,
                    size_t dy_stride, float* dx, size_t dx_stride);

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_POOLING_H_

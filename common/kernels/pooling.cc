#include "common/kernels/pooling.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/kernels/conv2d.h"
#include "common/sparsity/junction.h"

namespace spex {

std::string Pool2dShape::DebugString() const {
  if (global) {
    return absl::StrFormat("%dx%dx%d -> 1x1x%d, global", in_h, in_w, channels,
                           channels);
  }
  return absl::StrFormat("%dx%dx%d -> %dx%dx%d, %dx%d stride %d", in_h, in_w,
                         channels, out_h(), out_w(), channels, window, window,
                         stride);
}

absl::Status CheckPool2dShape(const Pool2dShape& shape) {
  if (shape.in_h < 1 || shape.in_w < 1 || shape.channels < 1 ||
      int64_t{shape.in_h} * shape.in_w > kMaxJunctionWidth ||
      shape.channels > kMaxJunctionWidth ||
      int64_t{shape.in_h} * shape.in_w * shape.channels > kMaxMapValues) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pooling over %dx%dx%d: sizes must be positive and "
        "at most %d",
        shape.in_h, shape.in_w, shape.channels, kMaxJunctionWidth));
  }
  if (shape.global) return absl::OkStatus();
  if (shape.window < 1 || shape.stride < 1 || shape.window > shape.in_h ||
      shape.window > shape.in_w) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pooling window %d stride %d does not fit the %dx%d map", shape.window,
        shape.stride, shape.in_h, shape.in_w));
  }
  return absl::OkStatus();
}

void Pool2d(const Pool2dShape& shape, PoolKind kind, size_t samples,
            const float* x, size_t x_stride, float* y, size_t y_stride) {
  const size_t in_pixels = shape.in_pixels();
  const size_t out_pixels = shape.out_pixels();
  if (shape.global) {
    const float scale = 1.0f / static_cast<float>(in_pixels);
    for (int c = 0; c < shape.channels; ++c) {
      for (size_t n = 0; n < samples; ++n) {
        const float* map = x + c * x_stride + n * in_pixels;
        float sum = 0.0f;
        for (size_t p = 0; p < in_pixels; ++p) sum += map[p];
        y[c * y_stride + n] = kind == PoolKind::kMax
                                  ? *std::max_element(map, map + in_pixels)
                                  : sum * scale;
      }
    }
    return;
  }
  const int window = shape.window, stride = shape.stride, in_w = shape.in_w;
  const int out_h = shape.out_h(), out_w = shape.out_w();
  const float scale = 1.0f / static_cast<float>(window * window);
  for (int c = 0; c < shape.channels; ++c) {
    for (size_t n = 0; n < samples; ++n) {
      const float* map = x + c * x_stride + n * in_pixels;
      float* out = y + c * y_stride + n * out_pixels;
      for (int oy = 0; oy < out_h; ++oy) {
        for (int ox = 0; ox < out_w; ++ox) {
          const float* corner = map + (oy * stride) * in_w + ox * stride;
          float best = corner[0], sum = 0.0f;
          for (int wy = 0; wy < window; ++wy) {
            for (int wx = 0; wx < window; ++wx) {
              const float v = corner[wy * in_w + wx];
              best = std::max(best, v);
              sum += v;
            }
          }
          out[oy * out_w + ox] = kind == PoolKind::kMax ? best : sum * scale;
        }
      }
    }
  }
}

}  // namespace spex

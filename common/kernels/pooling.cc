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
  if (window == 2 && stride == 2) {
    // The common 2x2 pooling, written out so that the compiler vectorises
    // it (the general loop below ran at a tenth of the speed).
    for (size_t row = 0; row < shape.channels * samples; ++row) {
      const float* map =
          x + (row / samples) * x_stride + (row % samples) * in_pixels;
      float* out =
          y + (row / samples) * y_stride + (row % samples) * out_pixels;
      for (int oy = 0; oy < out_h; ++oy) {
        const float* __restrict top = map + 2 * oy * in_w;
        const float* __restrict bottom = top + in_w;
        float* __restrict line = out + oy * out_w;
        if (kind == PoolKind::kMax) {
          for (int ox = 0; ox < out_w; ++ox) {
            line[ox] = std::max(std::max(top[2 * ox], top[2 * ox + 1]),
                                std::max(bottom[2 * ox], bottom[2 * ox + 1]));
          }
        } else {
          for (int ox = 0; ox < out_w; ++ox) {
            line[ox] = (top[2 * ox] + top[2 * ox + 1] + bottom[2 * ox] +
                        bottom[2 * ox + 1]) *
                       0.25f;
          }
        }
      }
    }
    return;
  }
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

void Pool2dBackward(const Pool2dShape& shape, PoolKind kind, size_t samples,
                    const float* x, size_t x_stride, const float* dy,
                    size_t dy_stride, float* dx, size_t dx_stride) {
  const size_t in_pixels = shape.in_pixels();
  const size_t out_pixels = shape.out_pixels();
  const int in_w = shape.in_w;
  const int out_h = shape.out_h(), out_w = shape.out_w();
  if (!shape.global && shape.window == 2 && shape.stride == 2) {
    // Windows that tile the map: each input pixel gets one window's share
    // (written, not added), the odd last row or column none.
    for (size_t row = 0; row < shape.channels * samples; ++row) {
      const size_t c = row / samples, n = row % samples;
      const float* map = x + c * x_stride + n * in_pixels;
      const float* grad = dy + c * dy_stride + n * out_pixels;
      float* out = dx + c * dx_stride + n * in_pixels;
      if (shape.in_w % 2 != 0 || shape.in_h % 2 != 0) {
        std::fill(out, out + in_pixels, 0.0f);
      }
      for (int oy = 0; oy < out_h; ++oy) {
        const float* __restrict top = map + 2 * oy * in_w;
        const float* __restrict bottom = top + in_w;
        const float* __restrict g = grad + oy * out_w;
        float* __restrict out_top = out + 2 * oy * in_w;
        float* __restrict out_bottom = out_top + in_w;
        if (kind == PoolKind::kAverage) {
          for (int ox = 0; ox < out_w; ++ox) {
            const float share = 0.25f * g[ox];
            out_top[2 * ox] = out_top[2 * ox + 1] = share;
            out_bottom[2 * ox] = out_bottom[2 * ox + 1] = share;
          }
          continue;
        }
        // The first maximum in Pool2d's order (top left, top right, bottom
        // left, bottom right), chosen by 0/1 factors rather than branches:
        // the compiler turned selects into branches that mispredicted on
        // real maps, which made this loop a sixth of a training epoch.
        for (int ox = 0; ox < out_w; ++ox) {
          const int a = 2 * ox, b = 2 * ox + 1;
          const float right_top = static_cast<float>(top[b] > top[a]);
          const float right_bottom = static_cast<float>(bottom[b] > bottom[a]);
          const float best_top = std::max(top[a], top[b]);
          const float best_bottom = std::max(bottom[a], bottom[b]);
          const float lower = static_cast<float>(best_bottom > best_top);
          const float upper_g = (1.0f - lower) * g[ox];
          const float lower_g = lower * g[ox];
          out_top[a] = (1.0f - right_top) * upper_g;
          out_top[b] = right_top * upper_g;
          out_bottom[a] = (1.0f - right_bottom) * lower_g;
          out_bottom[b] = right_bottom * lower_g;
        }
      }
    }
    return;
  }
  const int window = shape.global ? shape.in_h : shape.window;
  const int stride = shape.global ? 1 : shape.stride;
  const int window_w = shape.global ? shape.in_w : shape.window;
  const float scale = 1.0f / static_cast<float>(window * window_w);
  for (int c = 0; c < shape.channels; ++c) {
    for (size_t n = 0; n < samples; ++n) {
      const float* map = x + c * x_stride + n * in_pixels;
      const float* grad = dy + c * dy_stride + n * out_pixels;
      float* out = dx + c * dx_stride + n * in_pixels;
      std::fill(out, out + in_pixels, 0.0f);
      for (int oy = 0; oy < out_h; ++oy) {
        for (int ox = 0; ox < out_w; ++ox) {
          const size_t corner =
              static_cast<size_t>(oy * stride) * in_w + ox * stride;
          const float g = grad[oy * out_w + ox];
          if (kind == PoolKind::kAverage) {
            for (int wy = 0; wy < window; ++wy) {
              for (int wx = 0; wx < window_w; ++wx) {
                out[corner + wy * in_w + wx] += g * scale;
              }
            }
            continue;
          }
          size_t best = corner;
          for (int wy = 0; wy < window; ++wy) {
            for (int wx = 0; wx < window_w; ++wx) {
              const size_t at = corner + wy * in_w + wx;
              if (map[at] > map[best]) best = at;
            }
          }
          out[best] += g;
        }
      }
    }
  }
}

}  // namespace spex

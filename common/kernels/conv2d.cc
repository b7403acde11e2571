#include "common/kernels/conv2d.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/sparsity/junction.h"

namespace spex {

std::string Conv2dShape::DebugString() const {
  return absl::StrFormat("%dx%dx%d -> %dx%dx%d, %dx%d stride %d pad %d", in_h,
                         in_w, c_in, out_h(), out_w(), c_out, kernel, kernel,
                         stride, pad);
}

absl::Status CheckConv2dShape(const Conv2dShape& shape) {
  const auto field = [&](const char* name, int value, int lo, int64_t hi) {
    if (value < lo || value > hi) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %d is outside [%d, %d]", name, value, lo, hi));
    }
    return absl::OkStatus();
  };
  for (const absl::Status& status :
       {field("in_h", shape.in_h, 1, kMaxJunctionWidth),
        field("in_w", shape.in_w, 1, kMaxJunctionWidth),
        field("c_in", shape.c_in, 1, kMaxJunctionWidth),
        field("c_out", shape.c_out, 1, kMaxJunctionWidth),
        field("kernel", shape.kernel, 1, 15),
        field("stride", shape.stride, 1, shape.kernel),
        field("pad", shape.pad, 0, shape.kernel - 1)}) {
    if (!status.ok()) return status;
  }
  if (shape.in_h + 2 * shape.pad < shape.kernel ||
      shape.in_w + 2 * shape.pad < shape.kernel) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel: %dx%d does not fit the %dx%d input padded by %d", shape.kernel,
        shape.kernel, shape.in_h, shape.in_w, shape.pad));
  }
  if (int64_t{shape.c_in} * shape.taps() > kMaxJunctionWidth ||
      int64_t{shape.in_h} * shape.in_w > kMaxJunctionWidth) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: a patch (%d features) or a map (%d pixels) exceeds %d",
        shape.DebugString(), int64_t{shape.c_in} * shape.taps(),
        int64_t{shape.in_h} * shape.in_w, kMaxJunctionWidth));
  }
  const int64_t out_pixels = int64_t{shape.out_h()} * shape.out_w();
  if (out_pixels * shape.c_out > kMaxMapValues ||
      out_pixels * shape.c_in * shape.taps() > kMaxPatchValues) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the output map (%d values) or the patches (%d) exceed %d and %d "
        "per sample",
        shape.DebugString(), out_pixels * shape.c_out,
        out_pixels * shape.c_in * shape.taps(), kMaxMapValues,
        kMaxPatchValues));
  }
  return absl::OkStatus();
}

absl::StatusOr<Pattern> ExpandChannelPattern(const Pattern& channels,
                                             int taps) {
  const JunctionSpec& c = channels.spec();
  JunctionSpec spec;
  spec.n_in = c.n_in * taps;
  spec.n_out = c.n_out;
  spec.d_in = c.d_in * taps;
  spec.d_out = c.d_out;
  // Tap-major: feature t * c_in + channel, so a row stays ascending.
  const auto expand = [&](absl::Span<const uint32_t> inputs) {
    std::vector<uint32_t> features;
    features.reserve(inputs.size() * taps);
    for (int t = 0; t < taps; ++t) {
      for (uint32_t input : inputs) features.push_back(t * c.n_in + input);
    }
    return features;
  };
  switch (channels.kind()) {
    case PatternKind::kRandom: {
      std::vector<uint32_t> rows;
      rows.reserve(static_cast<size_t>(spec.connections()));
      for (int o = 0; o < c.n_out; ++o) {
        const std::vector<uint32_t> row = expand(channels.row(o));
        rows.insert(rows.end(), row.begin(), row.end());
      }
      return Pattern::FromRowIndices(spec, std::move(rows));
    }
    case PatternKind::kTile4:
    case PatternKind::kTile8: {
      const int g = channels.group_size();
      std::vector<uint32_t> inputs;
      for (int q = 0; q < c.n_out / g; ++q) {
        const std::vector<uint32_t> tile = expand(channels.tile_inputs(q));
        inputs.insert(inputs.end(), tile.begin(), tile.end());
      }
      return Pattern::FromTileInputs(spec, g, std::move(inputs));
    }
    case PatternKind::kBlock: {
      // A code (block b, rotation r) at tap t reads block t * c_in / 8 + b
      // with the same rotation.
      const int blocks_per_tap = c.n_in / kBlockWidth;
      const auto codes = channels.block_codes();
      std::vector<uint16_t> expanded;
      expanded.reserve(codes.size() * taps);
      for (int s = 0; s < c.n_out / kBlockWidth; ++s) {
        const auto slice = codes.subspan(static_cast<size_t>(s) * c.d_in,
                                         static_cast<size_t>(c.d_in));
        for (int t = 0; t < taps; ++t) {
          for (uint16_t code : slice) {
            expanded.push_back(MakeBlockCode(
                t * blocks_per_tap + BlockOfCode(code), RotationOfCode(code)));
          }
        }
      }
      return Pattern::FromBlockCodes(spec, std::move(expanded));
    }
  }
  return absl::InvalidArgumentError("unknown pattern kind");
}

namespace {

// The output columns ox in [lo, hi) whose tap at kernel column kx lands
// inside the input (the others read the padding).
std::pair<int, int> TapColumns(const Conv2dShape& shape, int kx) {
  const int stride = shape.stride, pad = shape.pad, out_w = shape.out_w();
  const int lo = std::min(out_w, std::max(0, (pad - kx + stride - 1) / stride));
  const int hi = std::max(
      lo, std::min(out_w, (shape.in_w + pad - kx + stride - 1) / stride));
  return {lo, hi};
}

// Im2Col for a "same" convolution at stride 1 (the map keeps its size):
// tap (ky, kx)'s patch row of a sample is the image shifted by (ky - pad,
// kx - pad) pixels, so it is one copy of the image's pixels shifted in
// row-major order, zeros where the shift leaves the image and in the
// columns that wrapped around a row's end. One long copy per channel and
// tap instead of a short one per output row (the training's maps are 7 to
// 28 pixels wide).
void Im2ColSame(const Conv2dShape& shape, size_t samples, const float* x,
                size_t x_stride, float* col, size_t col_stride) {
  const int k = shape.kernel, pad = shape.pad, w = shape.in_w;
  const ptrdiff_t pixels = shape.in_pixels();
  for (int ky = 0; ky < k; ++ky) {
    for (int kx = 0; kx < k; ++kx) {
      const int t = ky * k + kx;
      const int dx = kx - pad;
      const ptrdiff_t shift = static_cast<ptrdiff_t>(ky - pad) * w + dx;
      const ptrdiff_t first = std::max<ptrdiff_t>(0, -shift);
      const ptrdiff_t last = std::min(pixels, pixels - shift);
      for (int c = 0; c < shape.c_in; ++c) {
        float* row =
            col + (static_cast<size_t>(t) * shape.c_in + c) * col_stride;
        const float* channel = x + c * x_stride;
        for (size_t n = 0; n < samples; ++n) {
          const float* image = channel + n * pixels;
          float* out = row + n * pixels;
          std::fill(out, out + first, 0.0f);
          std::memcpy(out + first, image + first + shift,
                      sizeof(float) * (last - first));
          std::fill(out + last, out + pixels, 0.0f);
          // The columns whose tap falls off the row's left or right end.
          if (dx == 0) continue;
          const int from = dx > 0 ? w - dx : 0, to = dx > 0 ? w : -dx;
          for (float* line = out; line < out + pixels; line += w) {
            for (int ox = from; ox < to; ++ox) line[ox] = 0.0f;
          }
        }
      }
    }
  }
}

}  // namespace

void Im2Col(const Conv2dShape& shape, size_t samples, const float* x,
            size_t x_stride, float* col, size_t col_stride) {
  if (shape.stride == 1 && shape.out_h() == shape.in_h &&
      shape.out_w() == shape.in_w) {
    Im2ColSame(shape, samples, x, x_stride, col, col_stride);
    return;
  }
  const int k = shape.kernel, stride = shape.stride, pad = shape.pad;
  const int in_h = shape.in_h, in_w = shape.in_w;
  const int out_h = shape.out_h(), out_w = shape.out_w();
  const size_t in_pixels = shape.in_pixels();
  const size_t out_pixels = shape.out_pixels();
  for (int ky = 0; ky < k; ++ky) {
    for (int kx = 0; kx < k; ++kx) {
      const int t = ky * k + kx;
      const auto [lo, hi] = TapColumns(shape, kx);
      for (int c = 0; c < shape.c_in; ++c) {
        float* __restrict row =
            col + (static_cast<size_t>(t) * shape.c_in + c) * col_stride;
        const float* channel = x + c * x_stride;
        for (size_t n = 0; n < samples; ++n) {
          const float* image = channel + n * in_pixels;
          float* out = row + n * out_pixels;
          for (int oy = 0; oy < out_h; ++oy) {
            float* line = out + static_cast<size_t>(oy) * out_w;
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= in_h) {
              std::fill(line, line + out_w, 0.0f);
              continue;
            }
            std::fill(line, line + lo, 0.0f);
            // Input column of output column ox: first + ox * stride (>= 0
            // from lo on).
            const int first = -pad + kx;
            const float* in = image + static_cast<size_t>(iy) * in_w;
            if (stride == 1) {
              std::memcpy(line + lo, in + (first + lo),
                          sizeof(float) * (hi - lo));
            } else {
              for (int ox = lo; ox < hi; ++ox) {
                line[ox] = in[first + ox * stride];
              }
            }
            std::fill(line + hi, line + out_w, 0.0f);
          }
        }
      }
    }
  }
}

int ShiftedPlaneRows(const Conv2dShape& shape) {
  return shape.in_h + 2 * shape.pad;
}

int ShiftedPlaneRow(const Conv2dShape& shape, int feature) {
  const int tap = feature / shape.c_in, c = feature % shape.c_in;
  const int ky = tap / shape.kernel, kx = tap % shape.kernel;
  return (kx * shape.c_in + c) * ShiftedPlaneRows(shape) + ky;
}

void ShiftedPlanes(const Conv2dShape& shape, size_t samples, const float* x,
                   size_t x_stride, float* planes) {
  const int pad = shape.pad, in_h = shape.in_h, in_w = shape.in_w;
  const int out_w = shape.out_w();
  const size_t line = samples * out_w;  // one plane row
  const size_t plane = static_cast<size_t>(ShiftedPlaneRows(shape)) * line;
  const size_t border = static_cast<size_t>(pad) * line;
  const ptrdiff_t pixels = shape.in_pixels();
  for (int kx = 0; kx < shape.kernel; ++kx) {
    // Output column ox reads input column ox + shift; inside for [lo, hi).
    const int shift = kx - pad;
    const int lo = std::min(out_w, std::max(0, -shift));
    const int hi = std::max(lo, std::min(out_w, in_w - shift));
    // The zeros first, for all channels at once: on a 7x7 map, zeroing
    // each plane's border and wrapped columns by calls cost more than the
    // copy (counted under qemu: 265 instructions per 63-float plane).
    float* block = planes + static_cast<size_t>(kx) * shape.c_in * plane;
    std::fill(block, block + shape.c_in * plane, 0.0f);
    for (int c = 0; c < shape.c_in; ++c) {
      float* body = block + c * plane + border;
      const float* channel = x + c * x_stride;
      if (samples > 1 || out_w != in_w) {
        for (int r = 0; r < in_h; ++r) {
          for (size_t n = 0; n < samples; ++n) {
            const float* __restrict in =
                channel + n * pixels + static_cast<size_t>(r) * in_w + shift;
            float* __restrict out = body + r * line + n * out_w;
            for (int ox = lo; ox < hi; ++ox) out[ox] = in[ox];
          }
        }
        continue;
      }
      // One sample of a "same" map: one copy of the image shifted in
      // row-major order (the maps are 7 to 56 pixels wide: one long copy,
      // not one per row), then zeros again in the columns that wrapped
      // around a row's end.
      const ptrdiff_t first = std::max<ptrdiff_t>(0, -shift);
      const ptrdiff_t last = std::min(pixels, pixels - shift);
      std::memcpy(body + first, channel + first + shift,
                  sizeof(float) * (last - first));
      // Column by column (strided stores: a loop along a row became a
      // memset call per row).
      const int wrapped_begin = shift > 0 ? hi : 0;
      const int wrapped_end = shift > 0 ? in_w : lo;
      for (int ox = wrapped_begin; ox < wrapped_end; ++ox) {
        for (ptrdiff_t i = ox; i < pixels; i += in_w) body[i] = 0.0f;
      }
    }
  }
}

void ShiftedPlanesAddBack(const Conv2dShape& shape, size_t samples,
                          const float* planes, float* dx, size_t dx_stride) {
  const int pad = shape.pad, in_h = shape.in_h, in_w = shape.in_w;
  const int out_w = shape.out_w();
  const size_t line = samples * out_w;
  const size_t plane = static_cast<size_t>(ShiftedPlaneRows(shape)) * line;
  const size_t border = static_cast<size_t>(pad) * line;
  const size_t pixels = shape.in_pixels();
  for (int c = 0; c < shape.c_in; ++c) {
    float* channel = dx + c * dx_stride;
    for (int kx = 0; kx < shape.kernel; ++kx) {
      const int shift = kx - pad;
      const int lo = std::min(out_w, std::max(0, -shift));
      const int hi = std::max(lo, std::min(out_w, in_w - shift));
      const float* body =
          planes + (static_cast<size_t>(kx) * shape.c_in + c) * plane + border;
      for (int r = 0; r < in_h; ++r) {
        for (size_t n = 0; n < samples; ++n) {
          const float* __restrict in = body + r * line + n * out_w;
          float* __restrict out =
              channel + n * pixels + static_cast<size_t>(r) * in_w + shift;
          for (int ox = lo; ox < hi; ++ox) out[ox] += in[ox];
        }
      }
    }
  }
}

void Col2ImAdd(const Conv2dShape& shape, size_t samples, const float* col,
               size_t col_stride, float* dx, size_t dx_stride) {
  const int k = shape.kernel, stride = shape.stride, pad = shape.pad;
  const int in_h = shape.in_h, in_w = shape.in_w;
  const int out_h = shape.out_h(), out_w = shape.out_w();
  const size_t in_pixels = shape.in_pixels();
  const size_t out_pixels = shape.out_pixels();
  for (int ky = 0; ky < k; ++ky) {
    for (int kx = 0; kx < k; ++kx) {
      const int t = ky * k + kx;
      const auto [lo, hi] = TapColumns(shape, kx);
      const int first = -pad + kx;
      for (int c = 0; c < shape.c_in; ++c) {
        const float* row =
            col + (static_cast<size_t>(t) * shape.c_in + c) * col_stride;
        float* channel = dx + c * dx_stride;
        for (size_t n = 0; n < samples; ++n) {
          float* image = channel + n * in_pixels;
          const float* in = row + n * out_pixels;
          for (int oy = 0; oy < out_h; ++oy) {
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= in_h) continue;
            const float* __restrict line = in + static_cast<size_t>(oy) * out_w;
            float* __restrict out = image + static_cast<size_t>(iy) * in_w;
            if (stride == 1) {  // unit stride: vectorised
              float* __restrict shifted = out + first;
              for (int ox = lo; ox < hi; ++ox) shifted[ox] += line[ox];
            } else {
              for (int ox = lo; ox < hi; ++ox) {
                out[first + ox * stride] += line[ox];
              }
            }
          }
        }
      }
    }
  }
}

namespace {

// The batch pack with every patch feature t * c_in + c (tap t = ky * k + kx)
// renumbered to the row of its shifted plane, (kx * c_in + c) * rows + ky
// in units of out_w floats; null where shifted planes do not apply: a
// stride, a 1x1 kernel (read in place), a format whose inputs are implicit,
// or plane rows past what a packed index holds.
std::unique_ptr<const PackedWeights> RenumberForShiftedPlanes(
    const Conv2dShape& shape, const PackedWeights& pack) {
  if (shape.stride != 1 || shape.kernel == 1) return nullptr;
  if (pack.format != WeightFormat::kSell8 &&
      pack.format != WeightFormat::kTile4 &&
      pack.format != WeightFormat::kTile8) {
    return nullptr;
  }
  const int64_t rows = ShiftedPlaneRows(shape);
  const int64_t plane_rows = int64_t{shape.kernel} * shape.c_in * rows;
  if (plane_rows > std::numeric_limits<uint16_t>::max() + int64_t{1}) {
    return nullptr;
  }
  auto renumbered = std::make_unique<PackedWeights>(pack);
  renumbered->n_in = static_cast<int>(plane_rows);
  for (uint16_t& index : renumbered->indices) {
    index = static_cast<uint16_t>(ShiftedPlaneRow(shape, index));
  }
  return renumbered;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Conv2dLayer>> Conv2dLayer::Create(
    const Conv2dShape& shape, const Pattern& channels,
    absl::Span<const float> weights, absl::Span<const float> bias,
    Activation activation, const LayerOptions& options) {
  if (absl::Status status = CheckConv2dShape(shape); !status.ok()) {
    return status;
  }
  const JunctionSpec& spec = channels.spec();
  if (spec.n_in != shape.c_in || spec.n_out != shape.c_out) {
    return absl::InvalidArgumentError(
        absl::StrFormat("channel pattern %d -> %d, but the convolution is %s",
                        spec.n_in, spec.n_out, shape.DebugString()));
  }
  if (activation == Activation::kSoftmax) {
    return absl::InvalidArgumentError(
        "a convolution's activation is identity or ReLU");
  }
  absl::StatusOr<Pattern> patches =
      ExpandChannelPattern(channels, shape.taps());
  if (!patches.ok()) return patches.status();
  absl::StatusOr<std::unique_ptr<SparseLayer>> layer =
      SparseLayer::Create(*patches, weights, bias, activation, options);
  if (!layer.ok()) return layer.status();
  std::unique_ptr<const PackedWeights> plane_pack =
      RenumberForShiftedPlanes(shape, (*layer)->batch_pack());
  return std::unique_ptr<Conv2dLayer>(
      new Conv2dLayer(shape, *std::move(layer), std::move(plane_pack)));
}

namespace {

// Columns one kernel call takes at most (samples whole): enough for the
// batch kernels' column blocks, few enough that the patches stay in cache.
// Measured: 16 samples of 56x56 as one call of 50,176 columns ran at a
// third of the speed per sample of one sample at a time (docs/BENCHMARKS.md).
constexpr size_t kMaxColumnsPerCall = 1024;

size_t SamplesPerCall(const Conv2dShape& shape) {
  return std::max<size_t>(1, kMaxColumnsPerCall / shape.out_pixels());
}

}  // namespace

size_t Conv2dLayer::ScratchFloats(size_t samples) const {
  return static_cast<size_t>(shape_.c_in) * shape_.taps() *
         std::min(samples, SamplesPerCall(shape_)) * shape_.out_pixels();
}

int64_t Conv2dLayer::macs() const {
  return int64_t{shape_.out_pixels()} * patches_->spec().connections();
}

void Conv2dLayer::Forward(size_t samples, const float* x, size_t x_stride,
                          float* y, size_t y_stride, float* scratch) const {
  const size_t in_pixels = shape_.in_pixels();
  const size_t out_pixels = shape_.out_pixels();
  const size_t chunk = SamplesPerCall(shape_);
  for (size_t first = 0; first < samples; first += chunk) {
    const size_t count = std::min(chunk, samples - first);
    const size_t columns = count * out_pixels;
    const float* in = x + first * in_pixels;
    float* out = y + first * out_pixels;
    if (shape_.kernel == 1 && shape_.stride == 1 && shape_.pad == 0) {
      // The patches are the input itself.
      patches_->ForwardBatch(columns, in, x_stride, out, y_stride);
      continue;
    }
    if (count == 1 && plane_pack_ != nullptr) {
      ShiftedPlanes(shape_, 1, in, x_stride, scratch);
      patches_->batch_kernel().batch(
          *plane_pack_, patches_->activation() == Activation::kRelu, columns,
          scratch, static_cast<size_t>(shape_.out_w()), out, y_stride);
      continue;
    }
    Im2Col(shape_, count, in, x_stride, scratch, columns);
    patches_->ForwardBatch(columns, scratch, columns, out, y_stride);
  }
}

}  // namespace spex

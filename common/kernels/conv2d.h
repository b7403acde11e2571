// A 2-D convolution with predefined channel sparsity: output channel o reads
// exactly d_in input channels (every k x k tap of each), and every input
// channel feeds exactly d_out output channels. The channel graph is a
// Pattern of any kind (random; block; tile g: g consecutive output channels
// share one input-channel set; dense).
//
// Computed as a sparse layer over patches. Each output pixel's patch is
// k*k*c_in features in tap-major order (feature t * c_in + c is channel c at
// tap t = ky * k + kx, the order of NHWC weights), and output channel o
// reads the d_in*k*k features of its channels: the channel pattern expanded
// over the taps (ExpandChannelPattern), which keeps its kind (a tile
// shares its expanded set; a block code becomes one code per tap) and its
// exact degrees. The sparse layer's batch kernel, any format and ISA of the
// kernel table, runs over feature rows whose columns are output pixels: a
// GEMM of pixels x (d_in*k*k) x c_out that touches only the connections
// that exist. Two ways to give it those rows, by what the call holds:
//  shifted planes  one sample, stride 1, a kernel format that lists every
//          connection's input (sell8, tile4, tile8): for each kernel column
//          kx and channel c, the zero-padded input shifted left by kx
//          columns and cut to the output's width. Feature (ky, kx, c)'s row
//          is that plane from its row ky on, read in place: the layer keeps
//          a copy of the batch pack with the inputs renumbered to plane
//          rows. k copies of the input instead of im2col's k*k (the
//          edge's path, one sample at a time).
//  patches (Im2Col)  everything else (several samples in one call, the
//          cloud's batches of small maps; strides; the dense and block8
//          formats, whose inputs are implicit): one row per feature, one
//          column per output pixel of every sample of the call.
// A 1x1 convolution at stride 1 reads its input as it is.
//
// Activations are channel-major: channel c of sample n at
// x + c * x_stride + n * h * w, row-major pixels within (CHW per sample, the
// channel rows of a batch side by side). A single sample is plain CHW.
#ifndef SPEX_COMMON_KERNELS_CONV2D_H_
#define SPEX_COMMON_KERNELS_CONV2D_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/kernels/sparse_layer.h"
#include "common/sparsity/pattern.h"

namespace spex {

// Bounds that keep a model file from making a loader or a daemon allocate
// without limit: values of one sample's output map, and floats of one
// sample's patches (a convolution's scratch).
inline constexpr int64_t kMaxMapValues = int64_t{1} << 22;
inline constexpr int64_t kMaxPatchValues = int64_t{1} << 24;

struct Conv2dShape {
  int in_h = 0;
  int in_w = 0;
  int c_in = 0;
  int c_out = 0;
  int kernel = 1;  // k x k taps
  int stride = 1;
  int pad = 0;  // zeros on every side

  int taps() const { return kernel * kernel; }
  int out_h() const { return (in_h + 2 * pad - kernel) / stride + 1; }
  int out_w() const { return (in_w + 2 * pad - kernel) / stride + 1; }
  int in_pixels() const { return in_h * in_w; }
  int out_pixels() const { return out_h() * out_w(); }
  // "28x28x1 -> 28x28x32, 3x3 stride 1 pad 1".
  std::string DebugString() const;
};

// OK when every size is positive, the kernel fits the padded input, the
// padding is smaller than the kernel, the patch (k*k*c_in features) and the
// input map stay within kMaxJunctionWidth, the output map within
// kMaxMapValues and the patches within kMaxPatchValues; else
// InvalidArgument naming the field.
absl::Status CheckConv2dShape(const Conv2dShape& shape);

// The pattern over patch features of a channel pattern (c_in -> c_out):
// n_in = c_in * taps, d_in = channel d_in * taps, n_out and d_out kept, the
// same kind. Output o reads feature t * c_in + c for every tap t and every
// channel c it reads.
absl::StatusOr<Pattern> ExpandChannelPattern(const Pattern& channels, int taps);

// Writes the patches of `samples` samples, feature-major: feature f of
// output pixel p of sample n at col + f * col_stride + n * out_pixels + p
// (zeros where a tap falls in the padding). x is channel-major as above.
// REQUIRES: col_stride >= samples * out_pixels.
void Im2Col(const Conv2dShape& shape, size_t samples, const float* x,
            size_t x_stride, float* col, size_t col_stride);

// The shifted planes of `samples` samples (stride 1): plane (kx, c), at
// planes + (kx * c_in + c) * ShiftedPlaneRows(shape) * samples * out_w,
// holds for every row r, sample n and column ox (in that order) the value
// of sample n's input padded by `pad` zeros at row r, column ox + kx. So
// patch feature (ky, kx, c) of output pixel (oy, ox) of sample n is the
// value at plane row ShiftedPlaneRow(shape, feature) + oy, offset n * out_w
// + ox, in rows of samples * out_w floats: each feature's values over the
// columns (oy, n, ox) are one run, read in place. x is channel-major with
// channel stride x_stride (one sample: plain CHW).
int ShiftedPlaneRows(const Conv2dShape& shape);
int ShiftedPlaneRow(const Conv2dShape& shape, int feature);
void ShiftedPlanes(const Conv2dShape& shape, size_t samples, const float* x,
                   size_t x_stride, float* planes);

// The adjoint of ShiftedPlanes, for training: adds each plane value back
// to the input pixel it was copied from (padding is dropped). dx is
// channel-major like x and is added to.
void ShiftedPlanesAddBack(const Conv2dShape& shape, size_t samples,
                          const float* planes, float* dx, size_t dx_stride);

// The adjoint of Im2Col, for training: adds each patch feature's value back
// to the input pixel it was copied from (padding taps are dropped). dx is
// channel-major like x and is added to, not overwritten.
void Col2ImAdd(const Conv2dShape& shape, size_t samples, const float* col,
               size_t col_stride, float* dx, size_t dx_stride);

class Conv2dLayer {
 public:
  // `channels`: the channel pattern (c_in -> c_out). `weights` in logical
  // order: output channel o's weights at o * d_in * taps, tap-major (its
  // t-th tap of its k-th channel, channels ascending, at t * d_in + k): the
  // expanded pattern's row order. `bias`: c_out entries. Activation
  // identity or ReLU. Errors name the problem.
  static absl::StatusOr<std::unique_ptr<Conv2dLayer>> Create(
      const Conv2dShape& shape, const Pattern& channels,
      absl::Span<const float> weights, absl::Span<const float> bias,
      Activation activation, const LayerOptions& options = {});

  // `samples` samples, channel-major in and out (y: output channel o's rows
  // at y + o * y_stride). `scratch` holds ScratchFloats(samples) floats.
  // REQUIRES: x_stride >= samples * in_pixels, y_stride >= samples *
  // out_pixels.
  void Forward(size_t samples, const float* x, size_t x_stride, float* y,
               size_t y_stride, float* scratch) const;

  // Floats of scratch Forward needs for `samples` samples: the patches of
  // the samples one kernel call takes (as many as fill about 1,024 columns,
  // at least one), which also hold one sample's shifted planes.
  size_t ScratchFloats(size_t samples) const;

  // Whether a call with one sample reads shifted planes (see the top).
  bool reads_shifted_planes() const { return plane_pack_ != nullptr; }

  const Conv2dShape& shape() const { return shape_; }
  // The sparse layer over patches (its spec, kernels and packed bytes).
  const SparseLayer& patch_layer() const { return *patches_; }
  // Multiply-adds per sample: out pixels x c_out x d_in x taps.
  int64_t macs() const;

 private:
  Conv2dLayer(const Conv2dShape& shape, std::unique_ptr<SparseLayer> patches,
              std::unique_ptr<const PackedWeights> plane_pack)
      : shape_(shape),
        patches_(std::move(patches)),
        plane_pack_(std::move(plane_pack)) {}

  const Conv2dShape shape_;
  const std::unique_ptr<SparseLayer> patches_;
  // patches_'s batch pack with its inputs renumbered to shifted-plane rows;
  // null where planes do not apply.
  const std::unique_ptr<const PackedWeights> plane_pack_;
};

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_CONV2D_H_

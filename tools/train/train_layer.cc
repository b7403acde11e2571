#include "tools/train/train_layer.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/kernels/conv2d.h"
#include "common/kernels/pooling.h"
#include "common/model/layer_pattern.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

// A batch of maps (row c at x + c * batch * pixels) <-> the feature-major
// batch of their channel-major flattening (value c * pixels + p of sample n
// at flat + (c * pixels + p) * batch + n).
void Flatten(int batch, const ActivationShape& shape, const float* x,
             float* flat) {
  const size_t pixels = shape.pixels(), b = batch;
  for (int c = 0; c < shape.channels; ++c) {
    for (size_t n = 0; n < b; ++n) {
      const float* map = x + (c * b + n) * pixels;
      float* out = flat + c * pixels * b + n;
      for (size_t p = 0; p < pixels; ++p) out[p * b] = map[p];
    }
  }
}

void Unflatten(int batch, const ActivationShape& shape, const float* flat,
               float* x) {
  const size_t pixels = shape.pixels(), b = batch;
  for (int c = 0; c < shape.channels; ++c) {
    for (size_t n = 0; n < b; ++n) {
      float* map = x + (c * b + n) * pixels;
      const float* in = flat + c * pixels * b + n;
      for (size_t p = 0; p < pixels; ++p) map[p] = in[p * b];
    }
  }
}

class FullyConnected final : public TrainLayer {
 public:
  FullyConnected(const ActivationShape& in, const ActivationShape& out,
                 std::unique_ptr<TrainJunction> junction)
      : TrainLayer(in, out), junction_(std::move(junction)) {}

  bool relu() const override { return junction_->relu(); }
  bool dense() const override { return junction_->spec().dense(); }
  size_t ScratchFloats(int batch) const override {
    return in_shape().is_map() ? 2 * static_cast<size_t>(n_in()) * batch : 0;
  }
  void Forward(int batch, const float* x, float* y,
               float* scratch) const override {
    if (in_shape().is_map()) {
      Flatten(batch, in_shape(), x, scratch);
      x = scratch;
    }
    const size_t b = batch;
    junction_->Forward(b, {x, b}, {y, b});
  }
  void Backward(int batch, const float* x, const float* dy, float* dx,
                JunctionGradients* gradients, float* scratch) const override {
    const size_t b = batch;
    if (!in_shape().is_map()) {
      junction_->Backward(b, {x, b}, {dy, b}, {dx, b}, gradients);
      return;
    }
    float* flat_dx = scratch + static_cast<size_t>(n_in()) * batch;
    Flatten(batch, in_shape(), x, scratch);
    junction_->Backward(b, {scratch, b}, {dy, b}, {dx ? flat_dx : nullptr, b},
                        gradients);
    if (dx != nullptr) Unflatten(batch, in_shape(), flat_dx, dx);
  }
  TrainBuffer& weights() override { return junction_->weights(); }
  TrainBuffer& bias() override { return junction_->bias(); }
  void Prepare() override { junction_->Prepare(); }
  void WriteTo(v1::Layer* layer) const override { junction_->WriteTo(layer); }

 private:
  const std::unique_ptr<TrainJunction> junction_;
};

// How a convolution's junction reads its patches (conv2d.h).
enum class PatchSource {
  kInPlace,  // 1x1, stride 1, no padding: the input is its own patches
  kPlanes,   // shifted planes (stride 1, a tile junction): 3 copies for 3x3
  kIm2Col,   // everything else: 9 copies for 3x3
};

// The batch goes through in slices of whole samples, about
// kColumnsPerSlice output pixels each, so that a slice's patches (and their
// gradient) stay in cache between the copy, the kernels and the copy back:
// a whole batch's patches (128 samples of 14x14 x 288 features: 29 MB)
// went to memory and back at every step.
constexpr size_t kColumnsPerSlice = 4096;

// Shifted planes give a slice's columns in the order (oy, n, ox); the
// network's maps are (n, oy, ox). One map's rows of `samples` samples
// between the two orders (rows of `width` floats, `height` of them).
void PixelsToRowMajorSamples(size_t samples, int height, int width,
                             const float* maps, float* rows) {
  for (size_t n = 0; n < samples; ++n) {
    for (int oy = 0; oy < height; ++oy) {
      const float* from = maps + (n * height + oy) * width;
      float* to = rows + (oy * samples + n) * width;
      for (int ox = 0; ox < width; ++ox) to[ox] = from[ox];
    }
  }
}
void RowMajorSamplesToPixels(size_t samples, int height, int width,
                             const float* rows, float* maps) {
  for (size_t n = 0; n < samples; ++n) {
    for (int oy = 0; oy < height; ++oy) {
      const float* from = rows + (oy * samples + n) * width;
      float* to = maps + (n * height + oy) * width;
      for (int ox = 0; ox < width; ++ox) to[ox] = from[ox];
    }
  }
}

class Convolution final : public TrainLayer {
 public:
  Convolution(const ActivationShape& in, const ActivationShape& out,
              const Conv2dShape& shape, PatchSource source,
              std::unique_ptr<TrainJunction> patches)
      : TrainLayer(in, out),
        shape_(shape),
        source_(source),
        patches_(std::move(patches)) {}

  bool relu() const override { return patches_->relu(); }
  bool dense() const override { return patches_->spec().dense(); }
  size_t ScratchFloats(int batch) const override {
    const size_t columns = SliceSamples(batch) * shape_.out_pixels();
    switch (source_) {
      case PatchSource::kInPlace:
        return 0;
      case PatchSource::kPlanes:
        // Planes, their gradient, and the output's (or dy's) columns.
        return 2 * PlaneFloats(SliceSamples(batch)) + shape_.c_out * columns;
      case PatchSource::kIm2Col:
        break;
    }
    return 2 * static_cast<size_t>(patches_->n_in()) * columns;
  }

  void Forward(int batch, const float* x, float* y,
               float* scratch) const override {
    const size_t in_pixels = shape_.in_pixels();
    const size_t out_pixels = shape_.out_pixels();
    const size_t x_stride = static_cast<size_t>(batch) * in_pixels;
    const size_t y_stride = static_cast<size_t>(batch) * out_pixels;
    const size_t slice = SliceSamples(batch);
    for (size_t first = 0; first < static_cast<size_t>(batch); first += slice) {
      const size_t samples = std::min<size_t>(slice, batch - first);
      const size_t cols = samples * out_pixels;
      const float* in = x + first * in_pixels;
      float* out = y + first * out_pixels;
      switch (source_) {
        case PatchSource::kInPlace:
          patches_->Forward(cols, {in, x_stride}, {out, y_stride});
          break;
        case PatchSource::kPlanes: {
          float* planes = scratch;
          float* columns = scratch + 2 * PlaneFloats(slice);
          ShiftedPlanes(shape_, samples, in, x_stride, planes);
          patches_->Forward(cols, {planes, samples * shape_.out_w()},
                            {columns, cols});
          for (int o = 0; o < shape_.c_out; ++o) {
            RowMajorSamplesToPixels(samples, shape_.out_h(), shape_.out_w(),
                                    columns + o * cols, out + o * y_stride);
          }
          break;
        }
        case PatchSource::kIm2Col:
          Im2Col(shape_, samples, in, x_stride, scratch, cols);
          patches_->Forward(cols, {scratch, cols}, {out, y_stride});
          break;
      }
    }
  }

  void Backward(int batch, const float* x, const float* dy, float* dx,
                JunctionGradients* gradients, float* scratch) const override {
    const size_t in_pixels = shape_.in_pixels();
    const size_t out_pixels = shape_.out_pixels();
    const size_t x_stride = static_cast<size_t>(batch) * in_pixels;
    const size_t y_stride = static_cast<size_t>(batch) * out_pixels;
    const size_t slice = SliceSamples(batch);
    // The copies back add up.
    if (dx != nullptr && source_ != PatchSource::kInPlace) {
      std::fill_n(dx, static_cast<size_t>(n_in()) * batch, 0.0f);
    }
    for (size_t first = 0; first < static_cast<size_t>(batch); first += slice) {
      const size_t samples = std::min<size_t>(slice, batch - first);
      const size_t cols = samples * out_pixels;
      const float* in = x + first * in_pixels;
      const float* grad_out = dy + first * out_pixels;
      float* grad_in = dx == nullptr ? nullptr : dx + first * in_pixels;
      switch (source_) {
        case PatchSource::kInPlace:
          patches_->Backward(cols, {in, x_stride}, {grad_out, y_stride},
                             {grad_in, x_stride}, gradients);
          break;
        case PatchSource::kPlanes: {
          float* planes = scratch;
          float* plane_dx = scratch + PlaneFloats(slice);
          float* columns = scratch + 2 * PlaneFloats(slice);
          ShiftedPlanes(shape_, samples, in, x_stride, planes);
          for (int o = 0; o < shape_.c_out; ++o) {
            PixelsToRowMajorSamples(samples, shape_.out_h(), shape_.out_w(),
                                    grad_out + o * y_stride,
                                    columns + o * cols);
          }
          const size_t line = samples * shape_.out_w();
          patches_->Backward(cols, {planes, line}, {columns, cols},
                             {grad_in ? plane_dx : nullptr, line}, gradients);
          if (grad_in != nullptr) {
            ShiftedPlanesAddBack(shape_, samples, plane_dx, grad_in, x_stride);
          }
          break;
        }
        case PatchSource::kIm2Col: {
          float* patch_dx = scratch + patches_->n_in() * cols;
          Im2Col(shape_, samples, in, x_stride, scratch, cols);
          patches_->Backward(cols, {scratch, cols}, {grad_out, y_stride},
                             {grad_in ? patch_dx : nullptr, cols}, gradients);
          if (grad_in != nullptr) {
            Col2ImAdd(shape_, samples, patch_dx, cols, grad_in, x_stride);
          }
          break;
        }
      }
    }
  }
  TrainBuffer& weights() override { return patches_->weights(); }
  TrainBuffer& bias() override { return patches_->bias(); }
  void Prepare() override { patches_->Prepare(); }
  void WriteTo(v1::Layer* layer) const override { patches_->WriteTo(layer); }

 private:
  size_t SliceSamples(int batch) const {
    return std::max<size_t>(
        1, std::min<size_t>(kColumnsPerSlice / shape_.out_pixels(),
                            static_cast<size_t>(batch)));
  }
  size_t PlaneFloats(size_t samples) const {
    return static_cast<size_t>(shape_.kernel) * shape_.c_in *
           ShiftedPlaneRows(shape_) * samples * shape_.out_w();
  }

  const Conv2dShape shape_;
  const PatchSource source_;
  const std::unique_ptr<TrainJunction> patches_;
};

class Pooling final : public TrainLayer {
 public:
  Pooling(const ActivationShape& in, const ActivationShape& out,
          const Pool2dShape& shape, PoolKind kind)
      : TrainLayer(in, out), shape_(shape), kind_(kind) {}

  bool relu() const override { return false; }
  bool dense() const override { return true; }
  size_t ScratchFloats(int) const override { return 0; }
  void Forward(int batch, const float* x, float* y, float*) const override {
    Pool2d(shape_, kind_, batch, x,
           static_cast<size_t>(batch) * shape_.in_pixels(), y,
           static_cast<size_t>(batch) * shape_.out_pixels());
  }
  void Backward(int batch, const float* x, const float* dy, float* dx,
                JunctionGradients*, float*) const override {
    if (dx == nullptr) return;
    const size_t x_stride = static_cast<size_t>(batch) * shape_.in_pixels();
    Pool2dBackward(shape_, kind_, batch, x, x_stride, dy,
                   static_cast<size_t>(batch) * shape_.out_pixels(), dx,
                   x_stride);
  }
  TrainBuffer& weights() override { return none_; }
  TrainBuffer& bias() override { return none_; }
  void Prepare() override {}
  void WriteTo(v1::Layer*) const override {}

 private:
  const Pool2dShape shape_;
  const PoolKind kind_;
  TrainBuffer none_;
};

}  // namespace

JunctionGradients TrainLayer::NewGradients() {
  JunctionGradients g;
  g.weights.assign(weights().size(), 0.0f);
  g.bias.assign(bias().size(), 0.0f);
  return g;
}

absl::StatusOr<std::unique_ptr<TrainLayer>> TrainLayer::FromLayer(
    const v1::Layer& layer, const Layer& runtime) {
  const ActivationShape& in = runtime.in_shape();
  const ActivationShape& out = runtime.out_shape();
  const bool relu = layer.activation() == v1::ACTIVATION_RELU;
  switch (layer.kind()) {
    case v1::LAYER_KIND_UNSPECIFIED: {
      SPEX_ASSIGN_OR_RETURN(auto junction, TrainJunction::FromLayer(layer));
      return std::make_unique<FullyConnected>(in, out, std::move(junction));
    }
    case v1::LAYER_KIND_CONV2D: {
      Conv2dShape shape;
      shape.in_h = in.height;
      shape.in_w = in.width;
      shape.c_in = in.channels;
      shape.c_out = out.channels;
      shape.kernel = static_cast<int>(layer.window());
      shape.stride = static_cast<int>(layer.stride());
      shape.pad = static_cast<int>(layer.padding());
      const int taps = shape.taps();
      const bool in_place =
          shape.kernel == 1 && shape.stride == 1 && shape.pad == 0;
      const PatchSource im2col =
          in_place ? PatchSource::kInPlace : PatchSource::kIm2Col;
      if (layer.pattern() == v1::PATTERN_KIND_DENSE) {
        const JunctionSpec spec{shape.c_in * taps, shape.c_out,
                                shape.c_in * taps, shape.c_out};
        SPEX_ASSIGN_OR_RETURN(
            auto junction,
            TrainJunction::Create(spec, nullptr, relu, layer.weights(),
                                  layer.bias()));
        return std::make_unique<Convolution>(in, out, shape, im2col,
                                             std::move(junction));
      }
      const JunctionSpec channel_spec{
          static_cast<int>(layer.n_in()), static_cast<int>(layer.n_out()),
          static_cast<int>(layer.d_in()), static_cast<int>(layer.d_out())};
      SPEX_ASSIGN_OR_RETURN(const Pattern channels,
                            LayerPattern(layer, channel_spec));
      SPEX_ASSIGN_OR_RETURN(const Pattern patches,
                            ExpandChannelPattern(channels, taps));
      // A tile junction reads shifted planes where their rows fit a packed
      // index (as the runtime's conv2d.cc decides).
      std::vector<uint32_t> plane_rows;
      if (!in_place && shape.stride == 1 &&
          TrainJunction::RunsAsTiles(patches) &&
          int64_t{shape.kernel} * shape.c_in * ShiftedPlaneRows(shape) <=
              std::numeric_limits<uint16_t>::max() + int64_t{1}) {
        plane_rows.resize(patches.spec().n_in);
        for (int f = 0; f < patches.spec().n_in; ++f) {
          plane_rows[f] = static_cast<uint32_t>(ShiftedPlaneRow(shape, f));
        }
      }
      SPEX_ASSIGN_OR_RETURN(
          auto junction,
          TrainJunction::Create(patches.spec(), &patches, relu, layer.weights(),
                                layer.bias(), plane_rows));
      return std::make_unique<Convolution>(
          in, out, shape, plane_rows.empty() ? im2col : PatchSource::kPlanes,
          std::move(junction));
    }
    case v1::LAYER_KIND_MAX_POOL:
    case v1::LAYER_KIND_AVERAGE_POOL:
    case v1::LAYER_KIND_GLOBAL_AVERAGE_POOL: {
      Pool2dShape shape;
      shape.in_h = in.height;
      shape.in_w = in.width;
      shape.channels = in.channels;
      shape.global = layer.kind() == v1::LAYER_KIND_GLOBAL_AVERAGE_POOL;
      if (!shape.global) {
        shape.window = static_cast<int>(layer.window());
        shape.stride = static_cast<int>(layer.stride());
      }
      return std::make_unique<Pooling>(in, out, shape,
                                       layer.kind() == v1::LAYER_KIND_MAX_POOL
                                           ? PoolKind::kMax
                                           : PoolKind::kAverage);
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrFormat("layer kind %d cannot be trained", layer.kind()));
  }
}

}  // namespace spex

#include "tools/train/train_layer.h"

#include <algorithm>

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
    junction_->Forward(batch, x, y);
  }
  void Backward(int batch, const float* x, const float* dy, float* dx,
                JunctionGradients* gradients, float* scratch) const override {
    if (!in_shape().is_map()) {
      junction_->Backward(batch, x, dy, dx, gradients);
      return;
    }
    float* flat_dx = scratch + static_cast<size_t>(n_in()) * batch;
    Flatten(batch, in_shape(), x, scratch);
    junction_->Backward(batch, scratch, dy, dx ? flat_dx : nullptr, gradients);
    if (dx != nullptr) Unflatten(batch, in_shape(), flat_dx, dx);
  }
  TrainBuffer& weights() override { return junction_->weights(); }
  TrainBuffer& bias() override { return junction_->bias(); }
  void Prepare() override { junction_->Prepare(); }
  void WriteTo(v1::Layer* layer) const override { junction_->WriteTo(layer); }

 private:
  const std::unique_ptr<TrainJunction> junction_;
};

class Convolution final : public TrainLayer {
 public:
  Convolution(const ActivationShape& in, const ActivationShape& out,
              const Conv2dShape& shape, std::unique_ptr<TrainJunction> patches)
      : TrainLayer(in, out), shape_(shape), patches_(std::move(patches)) {}

  bool relu() const override { return patches_->relu(); }
  bool dense() const override { return patches_->spec().dense(); }
  size_t ScratchFloats(int batch) const override {
    return 2 * static_cast<size_t>(patches_->n_in()) * columns(batch);
  }
  void Forward(int batch, const float* x, float* y,
               float* scratch) const override {
    const size_t cols = columns(batch);
    Im2Col(shape_, batch, x, static_cast<size_t>(batch) * shape_.in_pixels(),
           scratch, cols);
    patches_->Forward(static_cast<int>(cols), scratch, y);
  }
  void Backward(int batch, const float* x, const float* dy, float* dx,
                JunctionGradients* gradients, float* scratch) const override {
    const size_t cols = columns(batch);
    const size_t x_stride = static_cast<size_t>(batch) * shape_.in_pixels();
    float* patch_dx = scratch + patches_->n_in() * cols;
    Im2Col(shape_, batch, x, x_stride, scratch, cols);
    patches_->Backward(static_cast<int>(cols), scratch, dy,
                       dx ? patch_dx : nullptr, gradients);
    if (dx == nullptr) return;
    std::fill_n(dx, static_cast<size_t>(n_in()) * batch, 0.0f);
    Col2ImAdd(shape_, batch, patch_dx, cols, dx, x_stride);
  }
  TrainBuffer& weights() override { return patches_->weights(); }
  TrainBuffer& bias() override { return patches_->bias(); }
  void Prepare() override { patches_->Prepare(); }
  void WriteTo(v1::Layer* layer) const override { patches_->WriteTo(layer); }

 private:
  size_t columns(int batch) const {
    return static_cast<size_t>(batch) * shape_.out_pixels();
  }

  const Conv2dShape shape_;
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
      if (layer.pattern() == v1::PATTERN_KIND_DENSE) {
        const JunctionSpec spec{shape.c_in * taps, shape.c_out,
                                shape.c_in * taps, shape.c_out};
        SPEX_ASSIGN_OR_RETURN(
            auto junction,
            TrainJunction::Create(spec, nullptr, relu, layer.weights(),
                                  layer.bias()));
        return std::make_unique<Convolution>(in, out, shape,
                                             std::move(junction));
      }
      const JunctionSpec channel_spec{
          static_cast<int>(layer.n_in()), static_cast<int>(layer.n_out()),
          static_cast<int>(layer.d_in()), static_cast<int>(layer.d_out())};
      SPEX_ASSIGN_OR_RETURN(const Pattern channels,
                            LayerPattern(layer, channel_spec));
      SPEX_ASSIGN_OR_RETURN(const Pattern patches,
                            ExpandChannelPattern(channels, taps));
      SPEX_ASSIGN_OR_RETURN(
          auto junction, TrainJunction::Create(patches.spec(), &patches, relu,
                                               layer.weights(), layer.bias()));
      return std::make_unique<Convolution>(in, out, shape, std::move(junction));
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

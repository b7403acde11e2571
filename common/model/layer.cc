#include "common/model/layer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spex {

std::string ActivationShape::DebugString() const {
  if (!is_map()) return absl::StrCat(channels);
  return absl::StrFormat("%dx%dx%d", height, width, channels);
}

void PutSampleInBatch(const ActivationShape& shape, size_t n,
                      const float* sample, float* x, size_t x_stride) {
  const size_t pixels = shape.pixels();
  for (int r = 0; r < shape.channels; ++r) {
    std::copy(sample + r * pixels, sample + (r + 1) * pixels,
              x + r * x_stride + n * pixels);
  }
}

void TakeSampleFromBatch(const ActivationShape& shape, size_t n, const float* x,
                         size_t x_stride, float* sample) {
  const size_t pixels = shape.pixels();
  for (int r = 0; r < shape.channels; ++r) {
    std::copy(x + r * x_stride + n * pixels,
              x + r * x_stride + (n + 1) * pixels, sample + r * pixels);
  }
}

PartCost& PartCost::operator+=(const PartCost& other) {
  macs += other.macs;
  params += other.params;
  bytes += other.bytes;
  return *this;
}

namespace {

class FullyConnected final : public Layer {
 public:
  FullyConnected(const ActivationShape& in, std::unique_ptr<SparseLayer> layer)
      : Layer(in, ActivationShape{layer->n_out()}), layer_(std::move(layer)) {}

  void Forward(const float* x, float* y, float*) const override {
    // One sample of a map is already its channel-major flattening.
    layer_->Forward(x, y);
  }

  void ForwardBatch(size_t batch, const float* x, size_t x_stride, float* y,
                    size_t y_stride, float* scratch) const override {
    const size_t pixels = in_shape().pixels();
    if (pixels == 1) {
      layer_->ForwardBatch(batch, x, x_stride, y, y_stride);
      return;
    }
    // Input (c, p) of sample n from x[c * x_stride + n * pixels + p] to
    // scratch[(c * pixels + p) * batch + n].
    for (int c = 0; c < in_shape().channels; ++c) {
      const float* row = x + c * x_stride;
      float* features = scratch + c * pixels * batch;
      for (size_t n = 0; n < batch; ++n) {
        for (size_t p = 0; p < pixels; ++p) {
          features[p * batch + n] = row[n * pixels + p];
        }
      }
    }
    layer_->ForwardBatch(batch, scratch, batch, y, y_stride);
  }

  size_t ScratchFloats(size_t batch) const override {
    return in_shape().is_map() ? static_cast<size_t>(n_in()) * batch : 0;
  }

  PartCost Cost() const override {
    PartCost cost;
    cost.macs = layer_->spec().connections();
    cost.params = layer_->spec().connections() + layer_->n_out();
    cost.bytes = static_cast<int64_t>(layer_->packed_bytes());
    return cost;
  }
  double density() const override { return layer_->spec().density(); }
  Activation activation() const override { return layer_->activation(); }
  std::string single_kernel() const override {
    return std::string(layer_->single_kernel().name);
  }
  std::string batch_kernel() const override {
    return std::string(layer_->batch_kernel().name);
  }

 private:
  const std::unique_ptr<SparseLayer> layer_;
};

class Convolution final : public Layer {
 public:
  explicit Convolution(std::unique_ptr<Conv2dLayer> conv)
      : Layer({conv->shape().c_in, conv->shape().in_h, conv->shape().in_w},
              {conv->shape().c_out, conv->shape().out_h(),
               conv->shape().out_w()}),
        conv_(std::move(conv)) {}

  void Forward(const float* x, float* y, float* scratch) const override {
    conv_->Forward(1, x, in_shape().pixels(), y, out_shape().pixels(), scratch);
  }
  void ForwardBatch(size_t batch, const float* x, size_t x_stride, float* y,
                    size_t y_stride, float* scratch) const override {
    conv_->Forward(batch, x, x_stride, y, y_stride, scratch);
  }
  size_t ScratchFloats(size_t batch) const override {
    return conv_->ScratchFloats(batch);
  }

  PartCost Cost() const override {
    const JunctionSpec& patches = conv_->patch_layer().spec();
    PartCost cost;
    cost.macs = conv_->macs();
    cost.params = patches.connections() + patches.n_out;
    cost.bytes = static_cast<int64_t>(conv_->patch_layer().packed_bytes());
    return cost;
  }
  double density() const override {
    return conv_->patch_layer().spec().density();
  }
  Activation activation() const override {
    return conv_->patch_layer().activation();
  }
  // One sample's patches are a batch of its pixels.
  std::string single_kernel() const override { return batch_kernel(); }
  std::string batch_kernel() const override {
    return std::string(conv_->patch_layer().batch_kernel().name);
  }

 private:
  const std::unique_ptr<Conv2dLayer> conv_;
};

class Pooling final : public Layer {
 public:
  Pooling(const Pool2dShape& shape, PoolKind kind)
      : Layer({shape.channels, shape.in_h, shape.in_w},
              {shape.channels, shape.out_h(), shape.out_w()}),
        shape_(shape),
        kind_(kind) {}

  void Forward(const float* x, float* y, float*) const override {
    Pool2d(shape_, kind_, 1, x, in_shape().pixels(), y, out_shape().pixels());
  }
  void ForwardBatch(size_t batch, const float* x, size_t x_stride, float* y,
                    size_t y_stride, float*) const override {
    Pool2d(shape_, kind_, batch, x, x_stride, y, y_stride);
  }
  size_t ScratchFloats(size_t) const override { return 0; }

  PartCost Cost() const override { return PartCost(); }
  double density() const override { return 1.0; }
  Activation activation() const override { return Activation::kIdentity; }
  std::string single_kernel() const override { return ""; }
  std::string batch_kernel() const override { return ""; }

 private:
  const Pool2dShape shape_;
  const PoolKind kind_;
};

}  // namespace

std::unique_ptr<Layer> MakeFullyConnected(const ActivationShape& in,
                                          std::unique_ptr<SparseLayer> layer) {
  return std::make_unique<FullyConnected>(in, std::move(layer));
}

std::unique_ptr<Layer> MakeConvolution(std::unique_ptr<Conv2dLayer> conv) {
  return std::make_unique<Convolution>(std::move(conv));
}

std::unique_ptr<Layer> MakePooling(const Pool2dShape& shape, PoolKind kind) {
  return std::make_unique<Pooling>(shape, kind);
}

}  // namespace spex

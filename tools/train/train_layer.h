// One layer of the network under training, in the runtime's layout
// (common/model/layer.h): row r of a batch of B samples at x + r * B *
// pixels, sample n's pixels in turn; for a vector (one pixel) that is the
// feature-major batch the sparse kernels take, for a map the channel-major
// batch a convolution takes.
//
// - Fully connected: a TrainJunction. After a map it flattens channel-major
//   as the runtime does (value (c, p) is input c * pixels + p), regrouping
//   the batch into scratch.
// - Convolution: a TrainJunction over the patches (conv2d.h: the channel
//   pattern expanded over the taps), one column per output pixel, the batch
//   in slices of whole samples (about 4,096 columns, so the patches stay in
//   cache). A tile junction at stride 1 reads the slice's shifted planes in
//   place and its input gradient goes back through ShiftedPlanesAddBack (k
//   copies of the input for a k x k kernel); a 1x1 convolution reads the
//   input itself; the others read Im2Col's columns and go back through
//   Col2ImAdd (k * k copies). So forward, dW and dx touch only the
//   connections that exist, and the dense twin is Eigen's GEMM over the
//   same columns.
// - Pooling: Pool2d and its gradient.
#ifndef SPEX_TOOLS_TRAIN_TRAIN_LAYER_H_
#define SPEX_TOOLS_TRAIN_TRAIN_LAYER_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "common/model/layer.h"
#include "spex/v1/model.pb.h"
#include "tools/train/junction.h"

namespace spex {

class TrainLayer {
 public:
  virtual ~TrainLayer() = default;

  // From a layer of a model file whose shapes the runtime has checked:
  // `runtime` is the same layer as Model::FromProto built it.
  static absl::StatusOr<std::unique_ptr<TrainLayer>> FromLayer(
      const v1::Layer& layer, const Layer& runtime);

  const ActivationShape& in_shape() const { return in_shape_; }
  const ActivationShape& out_shape() const { return out_shape_; }
  // Values per sample in and out.
  int n_in() const { return in_shape_.values(); }
  int n_out() const { return out_shape_.values(); }
  virtual bool relu() const = 0;
  // True when it runs on Eigen's GEMM (or has no weights).
  virtual bool dense() const = 0;

  // Floats of scratch Forward and Backward need for `batch` samples.
  virtual size_t ScratchFloats(int batch) const = 0;
  // y = act(layer(x)); a softmax classifier's y stays logits.
  virtual void Forward(int batch, const float* x, float* y,
                       float* scratch) const = 0;
  // From dy (the gradient at the pre-activation output), adds the
  // parameters' gradients to `gradients` and, if dx is not null, writes the
  // input's gradient into it.
  virtual void Backward(int batch, const float* x, const float* dy, float* dx,
                        JunctionGradients* gradients, float* scratch) const = 0;

  // The parameters (empty for a pooling), in the model file's order.
  virtual TrainBuffer& weights() = 0;
  virtual TrainBuffer& bias() = 0;
  JunctionGradients NewGradients();
  // Re-packs the weights after an update.
  virtual void Prepare() = 0;
  virtual void WriteTo(v1::Layer* layer) const = 0;

 protected:
  TrainLayer(const ActivationShape& in, const ActivationShape& out)
      : in_shape_(in), out_shape_(out) {}

 private:
  const ActivationShape in_shape_;
  const ActivationShape out_shape_;
};

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_TRAIN_LAYER_H_

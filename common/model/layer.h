// One layer of a model as the runtime runs it: fully connected, a
// convolution, or a pooling (model.proto's LayerKind), behind one interface
// so that a model part chains any of them.
//
// Activations are rows. A vector of n values is n rows of one pixel; a
// feature map is one row per channel of height x width pixels (row-major).
// One sample is the rows one after another (a vector; CHW for a map). A
// batch of B samples keeps row r at x + r * stride, holding each sample's
// pixels in turn (sample n's pixel p at n * pixels + p; for a vector, sample
// n's value at n): feature-major for vectors, as the sparse kernels take
// them, and channel-major for maps, as convolutions take them. The stride
// is at least B x pixels.
//
// A layer is immutable once built; any number of threads may run it, each
// with its own scratch (ScratchFloats), and running it allocates nothing.
#ifndef SPEX_COMMON_MODEL_LAYER_H_
#define SPEX_COMMON_MODEL_LAYER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/kernels/conv2d.h"
#include "common/kernels/pooling.h"
#include "common/kernels/sparse_layer.h"

namespace spex {

struct ActivationShape {
  int channels = 0;  // rows
  int height = 1;
  int width = 1;

  int pixels() const { return height * width; }
  int values() const { return channels * pixels(); }
  bool is_map() const { return pixels() > 1; }
  // {channels, height, width} for a map (its values channel-major), or
  // {channels} for a vector: the shape a client sees.
  std::vector<int> extents() const {
    if (!is_map()) return {channels};
    return {channels, height, width};
  }
  // "64" for a vector, "14x14x64" for a map.
  std::string DebugString() const;
};

// One sample's values (its rows one after another, CHW for a map) into
// position n of a batch in the layout above, and back out of it.
void PutSampleInBatch(const ActivationShape& shape, size_t n,
                      const float* sample, float* x, size_t x_stride);
void TakeSampleFromBatch(const ActivationShape& shape, size_t n, const float* x,
                         size_t x_stride, float* sample);

// What running a layer costs per sample and what it holds in memory.
struct PartCost {
  int64_t macs = 0;    // multiply-accumulates per sample
  int64_t params = 0;  // weights + biases
  int64_t bytes = 0;   // packed weights, indices and biases held in memory

  PartCost& operator+=(const PartCost& other);
};

class Layer {
 public:
  virtual ~Layer() = default;

  const ActivationShape& in_shape() const { return in_shape_; }
  const ActivationShape& out_shape() const { return out_shape_; }
  // Values per sample in and out.
  int n_in() const { return in_shape_.values(); }
  int n_out() const { return out_shape_.values(); }

  // One sample: x holds n_in() floats, y receives n_out(); `scratch` holds
  // ScratchFloats(1).
  virtual void Forward(const float* x, float* y, float* scratch) const = 0;
  // A batch in the layout above; `scratch` holds ScratchFloats(batch).
  virtual void ForwardBatch(size_t batch, const float* x, size_t x_stride,
                            float* y, size_t y_stride,
                            float* scratch) const = 0;
  virtual size_t ScratchFloats(size_t batch) const = 0;

  virtual PartCost Cost() const = 0;
  // For reports: the connections' density (1 for a pooling), the
  // activation, and the kernels that run one sample and a batch ("" for a
  // pooling).
  virtual double density() const = 0;
  virtual Activation activation() const = 0;
  virtual std::string single_kernel() const = 0;
  virtual std::string batch_kernel() const = 0;

 protected:
  Layer(const ActivationShape& in, const ActivationShape& out)
      : in_shape_(in), out_shape_(out) {}

 private:
  const ActivationShape in_shape_;
  const ActivationShape out_shape_;
};

// y = act(W x + b) over the flattened input. After a feature map it
// flattens channel-major (value (c, p) is input c * pixels + p); a batch
// is regrouped into the feature-major layout first, in scratch.
std::unique_ptr<Layer> MakeFullyConnected(const ActivationShape& in,
                                          std::unique_ptr<SparseLayer> layer);

// `conv` from an in_shape map of its c_in channels.
std::unique_ptr<Layer> MakeConvolution(std::unique_ptr<Conv2dLayer> conv);

std::unique_ptr<Layer> MakePooling(const Pool2dShape& shape, PoolKind kind);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_LAYER_H_

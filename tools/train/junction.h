// One junction being trained, in the form it is stored and run: only the
// connections that exist. Activations are feature-major batches (feature i's
// `batch` values contiguous at x + i * batch), as the common kernels take.
//
// A sparse junction runs forward through the common kernels (packed once per
// optimiser step), backward for its inputs through the same kernels on the
// transposed pattern (which also has a fixed degree: every input feeds d_out
// outputs), and backward for its weights as one dot product over the batch
// per connection. A tile junction (tile4/tile8 patterns) runs its dW tile by
// tile, each x row loaded once for the tile's rows, and dx by scattering
// through the forward pack (tile_input_gradient.h). A dense junction (every
// output reads every input, or any junction under --dense) uses Eigen's GEMM
// for all three.
#ifndef SPEX_TOOLS_TRAIN_JUNCTION_H_
#define SPEX_TOOLS_TRAIN_JUNCTION_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/kernels/aligned_vector.h"
#include "common/kernels/kernel.h"
#include "common/kernels/packed_weights.h"
#include "common/sparsity/pattern.h"
#include "spex/v1/model.pb.h"

namespace spex {

// Every trainer buffer is cache-line aligned: Eigen peels unaligned heads
// off its loops, so a buffer's address would otherwise change the order of
// additions, and the same seed would not give the same model.
using TrainBuffer = AlignedVector<float>;

// `columns` values of each of a batch's feature rows, row i at data + i *
// stride: a whole batch (stride = columns), or a slice of a wider one.
struct ConstRows {
  const float* data;
  size_t stride;
};
struct Rows {
  float* data;
  size_t stride;
};

// Gradients of one junction's parameters, in the logical order.
struct JunctionGradients {
  TrainBuffer weights;
  TrainBuffer bias;
  void Zero();
  void Add(const JunctionGradients& other);
};

class TrainJunction {
 public:
  // From a fully connected model layer (validated by the caller: the model
  // passed Model::FromProto or came from InitializeModel).
  static absl::StatusOr<std::unique_ptr<TrainJunction>> FromLayer(
      const v1::Layer& layer);
  // Over `spec` with `pattern` (null: dense) and the weights in its logical
  // order (o * d_in + k); a convolution's junction runs over its patches.
  //
  // `input_rows`, if not empty (tile patterns only): input i is read from
  // row input_rows[i] of the rows Forward and Backward are given instead of
  // row i, and those rows may overlap (a convolution's shifted planes,
  // conv2d.h: feature rows that are runs of one plane, starting at least
  // one row apart). Backward then writes dx over the rows' whole span
  // (zeros, then every connection's share added).
  static absl::StatusOr<std::unique_ptr<TrainJunction>> Create(
      const JunctionSpec& spec, const Pattern* pattern, bool relu,
      absl::Span<const float> weights, absl::Span<const float> bias,
      absl::Span<const uint32_t> input_rows = {});

  // Whether a junction over `pattern` runs on a tile format (and so can
  // take input rows, below).
  static bool RunsAsTiles(const Pattern& pattern);

  int n_in() const { return spec_.n_in; }
  int n_out() const { return spec_.n_out; }
  const JunctionSpec& spec() const { return spec_; }
  bool relu() const { return relu_; }

  // Re-packs the weights for the kernels (a gather into the fixed packed
  // layout); call after every update and before Forward/Backward.
  void Prepare();

  // y = act(W x + b) over `columns` columns; softmax classifiers stay
  // logits (the loss applies it).
  void Forward(size_t columns, ConstRows x, Rows y) const;

  // From dy (the gradient at the pre-activation output), adds dW and db to
  // `gradients` and, if dx.data is not null, writes dx = W^T dy.
  void Backward(size_t columns, ConstRows x, ConstRows dy, Rows dx,
                JunctionGradients* gradients) const;

  TrainBuffer& weights() { return weights_; }
  TrainBuffer& bias() { return bias_; }
  JunctionGradients NewGradients() const;

  // Writes the current parameters into `layer`.
  void WriteTo(v1::Layer* layer) const;

 private:
  TrainJunction() = default;

  JunctionSpec spec_;
  bool relu_ = false;
  bool dense_ = false;
  TrainBuffer weights_;  // o * d_in + k
  TrainBuffer bias_;

  // Sparse form only.
  std::vector<uint32_t> row_inputs_;  // input row of connection o * d_in + k
  int input_row_count_ = 0;           // rows x and dx span: 1 + the last
  int tile_group_ = 0;  // g when forward_pack_ is in a tile format, else 0
  const KernelInfo* forward_kernel_ = nullptr;
  const KernelInfo* backward_kernel_ = nullptr;  // null for tiles
  PackedWeights forward_pack_;                   // W, for forward
  PackedWeights backward_pack_;  // W^T with zero bias, for dx (not tiles)
  // 1 + the connection whose weight each packed slot holds; 0 for padding.
  std::vector<uint32_t> forward_source_;
  std::vector<uint32_t> backward_source_;
};

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_JUNCTION_H_

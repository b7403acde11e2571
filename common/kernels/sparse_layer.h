// A predefined-sparse fully connected layer, packed and ready to run.
//
// Create() validates the weights, chooses a kernel for each path (one sample,
// feature-major batch) by the layer's shape, density and pattern kind, and
// packs the weights once for each chosen format; running it afterwards costs
// no allocation. The connection pattern itself is not kept: only the packed
// form, so a dense matrix exists only where the dense kernel was chosen.
//
// Thread safety: immutable after Create(); Forward and ForwardBatch may run
// concurrently from any number of threads.
#ifndef SPEX_COMMON_KERNELS_SPARSE_LAYER_H_
#define SPEX_COMMON_KERNELS_SPARSE_LAYER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/kernels/kernel.h"
#include "common/sparsity/pattern.h"

namespace spex {

enum class Activation { kIdentity, kRelu, kSoftmax };

absl::string_view ActivationName(Activation activation);

struct LayerOptions {
  // Empty: choose by shape and density. Otherwise a kernel name from
  // kernel_table.inc, used for both paths.
  std::string kernel;
  // With `kernel` empty: when set, the chosen formats' kernels of this ISA
  // instead of the best available (see ChooseKernels).
  std::optional<Isa> isa;
};

class SparseLayer {
 public:
  // `weights` in logical order: output o's weight for its k-th ascending
  // input (pattern.row(o)[k]) at o * d_in + k. `bias` has n_out entries.
  // InvalidArgument on size mismatch or a non-finite weight or bias (the
  // message names the entry); see ChooseKernels for a bad forced kernel.
  static absl::StatusOr<std::unique_ptr<SparseLayer>> Create(
      const Pattern& pattern, absl::Span<const float> weights,
      absl::Span<const float> bias, Activation activation,
      const LayerOptions& options = {});

  SparseLayer(const SparseLayer&) = delete;
  SparseLayer& operator=(const SparseLayer&) = delete;

  // One sample. REQUIRES: x holds n_in() floats, y room for n_out().
  void Forward(const float* x, float* y) const;

  // A feature-major batch: input i's `batch` values at x + i * x_stride,
  // output o's written at y + o * y_stride. REQUIRES: strides >= batch.
  void ForwardBatch(size_t batch, const float* x, size_t x_stride, float* y,
                    size_t y_stride) const;

  const JunctionSpec& spec() const { return spec_; }
  int n_in() const { return spec_.n_in; }
  int n_out() const { return spec_.n_out; }
  Activation activation() const { return activation_; }
  const KernelInfo& single_kernel() const { return *single_kernel_; }
  const KernelInfo& batch_kernel() const { return *batch_kernel_; }
  // Bytes of packed weights, indices and biases each path reads per call,
  // and held by the layer in all (the paths share one pack when they use the
  // same format).
  size_t single_path_bytes() const { return single_pack_->bytes(); }
  // The batch path's pack, as batch_kernel() reads it (for a caller that
  // runs the kernel over its own copy with the inputs renumbered: the
  // convolutions' shifted planes).
  const PackedWeights& batch_pack() const { return *batch_pack_; }
  size_t batch_path_bytes() const { return batch_pack_->bytes(); }
  size_t packed_bytes() const;

 private:
  SparseLayer(const JunctionSpec& spec, Activation activation,
              const KernelInfo* single_kernel, const KernelInfo* batch_kernel,
              std::shared_ptr<const PackedWeights> single_pack,
              std::shared_ptr<const PackedWeights> batch_pack);

  const JunctionSpec spec_;
  const Activation activation_;
  const KernelInfo* const single_kernel_;
  const KernelInfo* const batch_kernel_;
  // The two paths share one pack when they use the same format.
  const std::shared_ptr<const PackedWeights> single_pack_;
  const std::shared_ptr<const PackedWeights> batch_pack_;
};

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_SPARSE_LAYER_H_

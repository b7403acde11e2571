#include "common/kernels/sparse_layer.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/kernels/kernel_choice.h"
#include "common/kernels/softmax.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

absl::Status CheckFinite(absl::Span<const float> values, absl::string_view what,
                         const JunctionSpec& spec) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "layer %s: %s %d is %g (weights and biases must be finite)",
          spec.DebugString(), what, i, values[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return "identity";
    case Activation::kRelu:
      return "relu";
    case Activation::kSoftmax:
      return "softmax";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<SparseLayer>> SparseLayer::Create(
    const Pattern& pattern, absl::Span<const float> weights,
    absl::Span<const float> bias, Activation activation,
    const LayerOptions& options) {
  const JunctionSpec& spec = pattern.spec();
  SPEX_RETURN_IF_ERROR(CheckFinite(weights, "weight", spec));
  SPEX_RETURN_IF_ERROR(CheckFinite(bias, "bias", spec));
  SPEX_ASSIGN_OR_RETURN(KernelChoice choice,
                        ChooseKernels(spec, pattern.kind(), options.kernel,
                                      options.isa ? &*options.isa : nullptr));
  SPEX_ASSIGN_OR_RETURN(
      PackedWeights single,
      PackWeights(pattern, weights, bias, choice.single->format));
  auto single_pack = std::make_shared<const PackedWeights>(std::move(single));
  std::shared_ptr<const PackedWeights> batch_pack = single_pack;
  if (choice.batch->format != choice.single->format) {
    SPEX_ASSIGN_OR_RETURN(
        PackedWeights batch,
        PackWeights(pattern, weights, bias, choice.batch->format));
    batch_pack = std::make_shared<const PackedWeights>(std::move(batch));
  }
  return std::unique_ptr<SparseLayer>(
      new SparseLayer(spec, activation, choice.single, choice.batch,
                      std::move(single_pack), std::move(batch_pack)));
}

SparseLayer::SparseLayer(const JunctionSpec& spec, Activation activation,
                         const KernelInfo* single_kernel,
                         const KernelInfo* batch_kernel,
                         std::shared_ptr<const PackedWeights> single_pack,
                         std::shared_ptr<const PackedWeights> batch_pack)
    : spec_(spec),
      activation_(activation),
      single_kernel_(single_kernel),
      batch_kernel_(batch_kernel),
      single_pack_(std::move(single_pack)),
      batch_pack_(std::move(batch_pack)) {}

void SparseLayer::Forward(const float* x, float* y) const {
  single_kernel_->single(*single_pack_, activation_ == Activation::kRelu, x, y);
  if (activation_ == Activation::kSoftmax) SoftmaxInPlace(y, spec_.n_out);
}

void SparseLayer::ForwardBatch(size_t batch, const float* x, size_t x_stride,
                               float* y, size_t y_stride) const {
  batch_kernel_->batch(*batch_pack_, activation_ == Activation::kRelu, batch, x,
                       x_stride, y, y_stride);
  if (activation_ == Activation::kSoftmax) {
    SoftmaxColumnsInPlace(y, spec_.n_out, batch, y_stride);
  }
}

size_t SparseLayer::packed_bytes() const {
  size_t bytes = single_pack_->bytes();
  if (batch_pack_ != single_pack_) bytes += batch_pack_->bytes();
  return bytes;
}

}  // namespace spex

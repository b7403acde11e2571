#include "tools/train/junction.h"

#include <Eigen/Core>
#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/kernels/kernel_choice.h"
#include "common/model/layer_pattern.h"
#include "common/status/status_macros.h"
#include "tools/train/row_gradients.h"
#include "tools/train/tile_input_gradient.h"

namespace spex {
namespace {

using RowMajor =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapConst = Eigen::Map<const RowMajor>;
using Map = Eigen::Map<RowMajor>;

// The connection behind each slot of a pack made from numbered weights.
void NumberedSources(const PackedWeights& pack, std::vector<uint32_t>* source) {
  source->resize(pack.weights.size());
  for (size_t at = 0; at < source->size(); ++at) {
    (*source)[at] = static_cast<uint32_t>(pack.weights[at]);
  }
}

}  // namespace

void JunctionGradients::Zero() {
  std::fill(weights.begin(), weights.end(), 0.0f);
  std::fill(bias.begin(), bias.end(), 0.0f);
}

void JunctionGradients::Add(const JunctionGradients& other) {
  for (size_t i = 0; i < weights.size(); ++i) weights[i] += other.weights[i];
  for (size_t i = 0; i < bias.size(); ++i) bias[i] += other.bias[i];
}

absl::StatusOr<std::unique_ptr<TrainJunction>> TrainJunction::FromLayer(
    const v1::Layer& layer) {
  if (layer.kind() != v1::LAYER_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "a junction is a fully connected layer; this one is a convolution or "
        "a pooling");
  }
  const JunctionSpec spec{
      static_cast<int>(layer.n_in()), static_cast<int>(layer.n_out()),
      static_cast<int>(layer.d_in()), static_cast<int>(layer.d_out())};
  const bool relu = layer.activation() == v1::ACTIVATION_RELU;
  if (layer.pattern() == v1::PATTERN_KIND_DENSE) {
    return Create(spec, nullptr, relu, layer.weights(), layer.bias());
  }
  SPEX_ASSIGN_OR_RETURN(const Pattern pattern, LayerPattern(layer, spec));
  return Create(spec, &pattern, relu, layer.weights(), layer.bias());
}

absl::StatusOr<std::unique_ptr<TrainJunction>> TrainJunction::Create(
    const JunctionSpec& spec, const Pattern* pattern, bool relu,
    absl::Span<const float> weights, absl::Span<const float> bias) {
  if (static_cast<int64_t>(weights.size()) != spec.connections() ||
      static_cast<int64_t>(bias.size()) != spec.n_out) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d weights and %d biases for a junction of %d connections and %d "
        "outputs",
        weights.size(), bias.size(), spec.connections(), spec.n_out));
  }
  std::unique_ptr<TrainJunction> j(new TrainJunction());
  j->spec_ = spec;
  j->relu_ = relu;
  j->dense_ = pattern == nullptr;
  j->weights_.assign(weights.begin(), weights.end());
  j->bias_.assign(bias.begin(), bias.end());
  if (j->dense_) return j;

  j->row_inputs_.assign(pattern->row_indices().begin(),
                        pattern->row_indices().end());
  SPEX_ASSIGN_OR_RETURN(KernelChoice forward,
                        ChooseKernels(j->spec_, pattern->kind()));
  j->forward_kernel_ = forward.batch;
  j->tile_group_ = TileGroupSizeOfFormat(forward.batch->format);
  // Pack once with each weight replaced by its (1-based) index: the packed
  // layout stays fixed while training, so every later pack is a gather
  // through these maps (0: a padding slot). Floats hold integers exactly up
  // to 2^24 connections.
  const JunctionSpec& s = j->spec_;
  if (s.connections() >= (int64_t{1} << 24)) {
    return absl::InvalidArgumentError("junction too large to train");
  }
  std::vector<float> numbered(static_cast<size_t>(s.connections()));
  for (size_t c = 0; c < numbered.size(); ++c)
    numbered[c] = static_cast<float>(c + 1);
  SPEX_ASSIGN_OR_RETURN(
      j->forward_pack_,
      PackWeights(*pattern, numbered, j->bias_, forward.batch->format));
  NumberedSources(j->forward_pack_, &j->forward_source_);
  // A tile junction's dx scatters through the forward pack
  // (tile_input_gradient.h); the others run the kernels on the transpose.
  if (j->tile_group_ == 0) {
    // The transpose: input i's outputs, ascending, and which connection
    // each slot came from, so its weights can be gathered after every
    // update.
    std::vector<std::vector<std::pair<uint32_t, uint32_t>>> columns(s.n_in);
    for (int o = 0; o < s.n_out; ++o) {
      for (int k = 0; k < s.d_in; ++k) {
        const uint32_t c = static_cast<uint32_t>(o * s.d_in + k);
        columns[j->row_inputs_[c]].push_back({static_cast<uint32_t>(o), c});
      }
    }
    std::vector<uint32_t> transposed_rows;
    std::vector<float> transposed_numbered;
    for (const auto& column : columns) {
      for (const auto& [output, connection] : column) {
        transposed_rows.push_back(output);
        transposed_numbered.push_back(static_cast<float>(connection + 1));
      }
    }
    const JunctionSpec transposed_spec{s.n_out, s.n_in, s.d_out, s.d_in};
    SPEX_ASSIGN_OR_RETURN(
        Pattern transposed,
        Pattern::FromRowIndices(transposed_spec, std::move(transposed_rows)));
    SPEX_ASSIGN_OR_RETURN(KernelChoice backward,
                          ChooseKernels(transposed_spec, transposed.kind()));
    j->backward_kernel_ = backward.batch;
    SPEX_ASSIGN_OR_RETURN(
        j->backward_pack_,
        PackWeights(transposed, transposed_numbered,
                    std::vector<float>(s.n_in, 0.0f), backward.batch->format));
    NumberedSources(j->backward_pack_, &j->backward_source_);
  }
  j->Prepare();
  return j;
}

JunctionGradients TrainJunction::NewGradients() const {
  JunctionGradients g;
  g.weights.assign(weights_.size(), 0.0f);
  g.bias.assign(bias_.size(), 0.0f);
  return g;
}

void TrainJunction::Prepare() {
  if (dense_) return;
  const auto gather = [this](const std::vector<uint32_t>& source,
                             float* packed) {
    for (size_t at = 0; at < source.size(); ++at) {
      packed[at] = source[at] == 0 ? 0.0f : weights_[source[at] - 1];
    }
  };
  gather(forward_source_, forward_pack_.weights.data());
  gather(backward_source_, backward_pack_.weights.data());
  std::copy(bias_.begin(), bias_.end(), forward_pack_.bias.begin());
}

void TrainJunction::Forward(int batch, const float* x, float* y) const {
  if (!dense_) {
    forward_kernel_->batch(forward_pack_, relu_, batch, x, batch, y, batch);
    return;
  }
  MapConst w(weights_.data(), spec_.n_out, spec_.n_in);
  MapConst in(x, spec_.n_in, batch);
  Map out(y, spec_.n_out, batch);
  out.noalias() = w * in;
  out.colwise() += Eigen::Map<const Eigen::VectorXf>(bias_.data(), spec_.n_out);
  if (relu_) out = out.cwiseMax(0.0f);
}

void TrainJunction::Backward(int batch, const float* x, const float* dy,
                             float* dx, JunctionGradients* g) const {
  MapConst grad_out(dy, spec_.n_out, batch);
  Eigen::Map<Eigen::VectorXf>(g->bias.data(), spec_.n_out) +=
      grad_out.rowwise().sum();
  if (dense_) {
    MapConst in(x, spec_.n_in, batch);
    Map(g->weights.data(), spec_.n_out, spec_.n_in).noalias() +=
        grad_out * in.transpose();
    if (dx != nullptr) {
      Map(dx, spec_.n_in, batch).noalias() =
          MapConst(weights_.data(), spec_.n_out, spec_.n_in).transpose() *
          grad_out;
    }
    return;
  }
  const size_t d_in = spec_.d_in;
  if (tile_group_ > 0) {
    // Per tile: each x row once for the tile's rows, then dx by scatter.
    const size_t group = tile_group_;
    for (int q = 0; q < spec_.n_out / tile_group_; ++q) {
      AccumulateTileGradients(dy + q * group * batch, x, batch,
                              &row_inputs_[q * group * d_in], spec_.d_in,
                              tile_group_, &g->weights[q * group * d_in]);
    }
    if (dx != nullptr) TileInputGradient(forward_pack_, batch, dy, dx);
    return;
  }
  // dW: one dot product over the batch per connection (the gradient exists
  // only where a connection does).
  for (int o = 0; o < spec_.n_out; ++o) {
    AccumulateRowGradients(dy + static_cast<size_t>(o) * batch, x, batch,
                           &row_inputs_[o * d_in], spec_.d_in,
                           &g->weights[o * d_in]);
  }
  if (dx != nullptr) {
    backward_kernel_->batch(backward_pack_, false, batch, dy, batch, dx, batch);
  }
}

void TrainJunction::WriteTo(v1::Layer* layer) const {
  layer->mutable_weights()->Assign(weights_.begin(), weights_.end());
  layer->mutable_bias()->Assign(bias_.begin(), bias_.end());
}

}  // namespace spex

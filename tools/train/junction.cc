#include "tools/train/junction.h"

#include <Eigen/Core>
#include <algorithm>
#include <limits>

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
// A slice of a wider batch: rows `stride` floats apart.
using Stride = Eigen::OuterStride<>;
using StridedConst = Eigen::Map<const RowMajor, 0, Stride>;
using Strided = Eigen::Map<RowMajor, 0, Stride>;

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
    absl::Span<const float> weights, absl::Span<const float> bias,
    absl::Span<const uint32_t> input_rows) {
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
  j->input_row_count_ = spec.n_in;
  if (j->dense_) {
    if (!input_rows.empty()) {
      return absl::InvalidArgumentError("input rows are for tile junctions");
    }
    return j;
  }

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
  if (!input_rows.empty()) {
    if (j->tile_group_ == 0 ||
        input_rows.size() != static_cast<size_t>(s.n_in)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input rows are for tile junctions, one per input (%d given for "
          "%d inputs)",
          input_rows.size(), s.n_in));
    }
    const uint32_t last =
        *std::max_element(input_rows.begin(), input_rows.end());
    if (last > std::numeric_limits<uint16_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("input row %d past what a packed index holds", last));
    }
    for (uint16_t& index : j->forward_pack_.indices) {
      index = static_cast<uint16_t>(input_rows[index]);
    }
    for (uint32_t& input : j->row_inputs_) input = input_rows[input];
    j->input_row_count_ = static_cast<int>(last) + 1;
    j->forward_pack_.n_in = j->input_row_count_;
  }
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

bool TrainJunction::RunsAsTiles(const Pattern& pattern) {
  const absl::StatusOr<KernelChoice> choice =
      ChooseKernels(pattern.spec(), pattern.kind());
  return choice.ok() && TileGroupSizeOfFormat(choice->batch->format) > 0;
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

void TrainJunction::Forward(size_t columns, ConstRows x, Rows y) const {
  if (!dense_) {
    forward_kernel_->batch(forward_pack_, relu_, columns, x.data, x.stride,
                           y.data, y.stride);
    return;
  }
  const Eigen::Index cols = static_cast<Eigen::Index>(columns);
  MapConst w(weights_.data(), spec_.n_out, spec_.n_in);
  StridedConst in(x.data, spec_.n_in, cols, Stride(x.stride));
  Strided out(y.data, spec_.n_out, cols, Stride(y.stride));
  out.noalias() = w * in;
  out.colwise() += Eigen::Map<const Eigen::VectorXf>(bias_.data(), spec_.n_out);
  if (relu_) out = out.cwiseMax(0.0f);
}

void TrainJunction::Backward(size_t columns, ConstRows x, ConstRows dy, Rows dx,
                             JunctionGradients* g) const {
  const Eigen::Index cols = static_cast<Eigen::Index>(columns);
  StridedConst grad_out(dy.data, spec_.n_out, cols, Stride(dy.stride));
  Eigen::Map<Eigen::VectorXf>(g->bias.data(), spec_.n_out) +=
      grad_out.rowwise().sum();
  if (dense_) {
    StridedConst in(x.data, spec_.n_in, cols, Stride(x.stride));
    Map(g->weights.data(), spec_.n_out, spec_.n_in).noalias() +=
        grad_out * in.transpose();
    if (dx.data != nullptr) {
      Strided(dx.data, spec_.n_in, cols, Stride(dx.stride)).noalias() =
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
      AccumulateTileGradients(columns, dy.data + q * group * dy.stride,
                              dy.stride, x.data, x.stride,
                              &row_inputs_[q * group * d_in], spec_.d_in,
                              tile_group_, &g->weights[q * group * d_in]);
    }
    if (dx.data != nullptr) {
      const size_t rows = input_row_count_;
      if (dx.stride >= columns) {
        for (size_t i = 0; i < rows; ++i) {
          std::fill_n(dx.data + i * dx.stride, columns, 0.0f);
        }
      } else {  // overlapping rows: one span
        std::fill_n(dx.data, (rows - 1) * dx.stride + columns, 0.0f);
      }
      TileInputGradient(forward_pack_, columns, dy.data, dy.stride, dx.data,
                        dx.stride);
    }
    return;
  }
  // dW: one dot product over the batch per connection (the gradient exists
  // only where a connection does).
  for (int o = 0; o < spec_.n_out; ++o) {
    AccumulateRowGradients(columns, dy.data + o * dy.stride, x.data, x.stride,
                           &row_inputs_[o * d_in], spec_.d_in,
                           &g->weights[o * d_in]);
  }
  if (dx.data != nullptr) {
    backward_kernel_->batch(backward_pack_, false, columns, dy.data, dy.stride,
                            dx.data, dx.stride);
  }
}

void TrainJunction::WriteTo(v1::Layer* layer) const {
  layer->mutable_weights()->Assign(weights_.begin(), weights_.end());
  layer->mutable_bias()->Assign(bias_.begin(), bias_.end());
}

}  // namespace spex

#include "common/model/model_part.h"

#include <algorithm>
#include <utility>

namespace spex {
namespace {

using LayerList = std::vector<std::shared_ptr<const Layer>>;

// Runs `layers` on one sample from x into y, alternating between two scratch
// buffers for the intermediate activations.
void RunChain(const LayerList& layers, const float* x, float* y, float* even,
              float* odd, float* scratch) {
  const float* in = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    float* out = i + 1 == layers.size() ? y : (i % 2 == 0 ? even : odd);
    layers[i]->Forward(in, out, scratch);
    in = out;
  }
}

// The same for a batch; an intermediate activation's rows are max_batch
// samples wide.
void RunChainBatch(const LayerList& layers, size_t batch, const float* x,
                   size_t x_stride, float* y, size_t y_stride, float* even,
                   float* odd, size_t max_batch, float* scratch) {
  const float* in = x;
  size_t in_stride = x_stride;
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool last = i + 1 == layers.size();
    float* out = last ? y : (i % 2 == 0 ? even : odd);
    const size_t out_stride =
        last ? y_stride : max_batch * layers[i]->out_shape().pixels();
    layers[i]->ForwardBatch(batch, in, in_stride, out, out_stride, scratch);
    in = out;
    in_stride = out_stride;
  }
}

}  // namespace

ModelPart::ModelPart(std::string name, LayerList layers,
                     std::vector<ExitBranchRuntime> exits)
    : name_(std::move(name)),
      layers_(std::move(layers)),
      exits_(std::move(exits)) {
  max_width_ = layers_.front()->n_in();
  for (const auto& layer : layers_) {
    max_width_ = std::max(max_width_, layer->n_out());
    backbone_cost_ += layer->Cost();
  }
  for (const ExitBranchRuntime& exit : exits_) {
    for (const auto& layer : exit.layers) {
      max_width_ = std::max(max_width_, layer->n_out());
      exits_cost_ += layer->Cost();
    }
  }
}

int ModelPart::exit_width() const {
  return exits_.empty() ? 0 : exits_.front().layers.back()->n_out();
}

size_t ModelPart::MaxScratchFloats(size_t batch) const {
  size_t most = 0;
  for (const auto& layer : layers_) {
    most = std::max(most, layer->ScratchFloats(batch));
  }
  for (const ExitBranchRuntime& exit : exits_) {
    for (const auto& layer : exit.layers) {
      most = std::max(most, layer->ScratchFloats(batch));
    }
  }
  return most;
}

PartCost ModelPart::cost() const {
  PartCost total = backbone_cost_;
  total += exits_cost_;
  return total;
}

void ModelPart::Forward(const float* x, float* y, float* exit_probs,
                        Workspace* workspace) const {
  // Layer by layer, so that each exit runs while its input is at hand.
  const float* in = x;
  size_t next_exit = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    float* out = i + 1 == layers_.size() ? y : workspace->buffer(i % 2);
    layers_[i]->Forward(in, out, workspace->scratch());
    in = out;
    for (; exit_probs != nullptr && next_exit < exits_.size() &&
           exits_[next_exit].after_layer == static_cast<int>(i) + 1;
         ++next_exit) {
      RunChain(exits_[next_exit].layers, out,
               exit_probs + next_exit * exit_width(), workspace->buffer(2),
               workspace->buffer(3), workspace->scratch());
    }
  }
}

void ModelPart::ForwardBatch(size_t batch, const float* x, size_t x_stride,
                             float* y, size_t y_stride, float* exit_probs,
                             size_t exit_stride, Workspace* workspace) const {
  const size_t max_batch = workspace->max_batch();
  const float* in = x;
  size_t in_stride = x_stride;
  size_t next_exit = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool last = i + 1 == layers_.size();
    float* out = last ? y : workspace->buffer(i % 2);
    const size_t out_stride =
        last ? y_stride : max_batch * layers_[i]->out_shape().pixels();
    layers_[i]->ForwardBatch(batch, in, in_stride, out, out_stride,
                             workspace->scratch());
    in = out;
    in_stride = out_stride;
    for (; exit_probs != nullptr && next_exit < exits_.size() &&
           exits_[next_exit].after_layer == static_cast<int>(i) + 1;
         ++next_exit) {
      RunChainBatch(exits_[next_exit].layers, batch, out, out_stride,
                    exit_probs + next_exit * exit_width() * exit_stride,
                    exit_stride, workspace->buffer(2), workspace->buffer(3),
                    max_batch, workspace->scratch());
    }
  }
}

Workspace::Workspace(const ModelPart& part, size_t max_batch)
    : max_batch_(std::max<size_t>(max_batch, 1)) {
  for (auto& buffer : buffers_) {
    buffer.assign(static_cast<size_t>(part.max_width()) * max_batch_, 0.0f);
  }
  scratch_.assign(part.MaxScratchFloats(max_batch_), 0.0f);
}

}  // namespace spex

#include "tools/train/network.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "common/kernels/softmax.h"
#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

// Softmax cross-entropy of logits (classes x batch, feature-major): returns
// the summed loss, counts correct argmaxes, and writes
// weight * (p - onehot) / scale into grad.
double SoftmaxCrossEntropy(const float* logits, int classes, int batch,
                           const uint8_t* labels, float weight, float scale,
                           float* grad, int* correct) {
  double loss = 0.0;
  std::vector<float> column(classes);
  for (int j = 0; j < batch; ++j) {
    int best = 0;
    for (int c = 0; c < classes; ++c) {
      column[c] = logits[c * batch + j];
      if (column[c] > column[best]) best = c;
    }
    *correct += best == labels[j];
    SoftmaxInPlace(column.data(), classes);
    loss -= std::log(std::max(column[labels[j]], 1e-30f));
    for (int c = 0; c < classes; ++c) {
      const float target = c == labels[j] ? 1.0f : 0.0f;
      grad[c * batch + j] = weight * (column[c] - target) / scale;
    }
  }
  return loss;
}

// The gradient at a ReLU layer's pre-activation: zero where it output 0.
void MaskRelu(const float* output, size_t n, float* grad) {
  for (size_t i = 0; i < n; ++i) {
    if (output[i] <= 0.0f) grad[i] = 0.0f;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrainNetwork>> TrainNetwork::FromModel(
    const v1::Model& model) {
  // The runtime checks the file and derives every layer's shapes; the
  // trainer takes them from it rather than deriving them a second way.
  v1::Model probe = model;
  SerializeModel(&probe);
  SPEX_ASSIGN_OR_RETURN(const auto runtime, Model::FromProto(probe));
  const ModelPart& full = runtime->full();
  auto network = std::unique_ptr<TrainNetwork>(new TrainNetwork());
  for (int l = 0; l < model.layers_size(); ++l) {
    SPEX_ASSIGN_OR_RETURN(
        auto layer, TrainLayer::FromLayer(model.layers(l), *full.layers()[l]));
    network->backbone_.push_back(std::move(layer));
  }
  for (const ExitBranchRuntime& built : full.exits()) {
    const v1::ExitBranch& exit = model.exits(built.index);
    Exit e{static_cast<int>(exit.after_layer()), exit.loss_weight(), {}};
    for (int l = 0; l < exit.layers_size(); ++l) {
      SPEX_ASSIGN_OR_RETURN(
          auto layer, TrainLayer::FromLayer(exit.layers(l), *built.layers[l]));
      e.layers.push_back(std::move(layer));
    }
    network->exits_.push_back(std::move(e));
  }
  network->exit_reads_.assign(network->backbone_.size(), false);
  for (const Exit& e : network->exits_) {
    network->exit_reads_[e.after_layer - 1] = true;
  }
  network->Prepare();
  return network;
}

bool TrainNetwork::all_dense() const {
  for (const auto& layer : backbone_) {
    if (!layer->dense()) return false;
  }
  for (const Exit& e : exits_) {
    for (const auto& layer : e.layers) {
      if (!layer->dense()) return false;
    }
  }
  return true;
}

size_t TrainNetwork::FloatsPerSample() const {
  size_t widest = backbone_.front()->n_in(), total = widest, scratch = 0;
  const auto count = [&](const TrainLayer& layer) {
    total += 2 * static_cast<size_t>(layer.n_out());  // output, gradient at
    widest = std::max<size_t>(widest, layer.n_out());
    scratch = std::max(scratch, layer.ScratchFloats(1));
  };
  for (const auto& layer : backbone_) count(*layer);
  for (const Exit& e : exits_) {
    for (const auto& layer : e.layers) count(*layer);
  }
  return total + 4 * widest + scratch;  // + grad_a, grad_b, the exits' two
}

BatchState TrainNetwork::NewState(int capacity) const {
  BatchState s;
  s.capacity = capacity;
  size_t widest = backbone_.front()->n_in(), scratch = 0;
  s.backbone.emplace_back(static_cast<size_t>(backbone_.front()->n_in()) *
                          capacity);
  for (const auto& j : backbone_) {
    s.backbone.emplace_back(static_cast<size_t>(j->n_out()) * capacity);
    s.grad_at.emplace_back(static_cast<size_t>(j->n_out()) * capacity);
    s.backbone_gradients.push_back(j->NewGradients());
    widest = std::max<size_t>(widest, j->n_out());
    scratch = std::max(scratch, j->ScratchFloats(capacity));
  }
  for (const Exit& e : exits_) {
    s.exits.emplace_back();
    s.exit_gradients.emplace_back();
    for (const auto& j : e.layers) {
      s.exits.back().emplace_back(static_cast<size_t>(j->n_out()) * capacity);
      s.exit_gradients.back().push_back(j->NewGradients());
      widest = std::max<size_t>(widest, j->n_out());
      scratch = std::max(scratch, j->ScratchFloats(capacity));
    }
  }
  s.scratch.resize(scratch);
  for (auto* buffer : {&s.grad_a, &s.grad_b, &s.grad_exit_a, &s.grad_exit_b}) {
    buffer->resize(widest * capacity);
  }
  return s;
}

void TrainNetwork::Forward(int batch, BatchState* s) const {
  for (size_t l = 0; l < backbone_.size(); ++l) {
    backbone_[l]->Forward(batch, s->backbone[l].data(),
                          s->backbone[l + 1].data(), s->scratch.data());
  }
  for (size_t e = 0; e < exits_.size(); ++e) {
    const float* in = s->backbone[exits_[e].after_layer].data();
    for (size_t l = 0; l < exits_[e].layers.size(); ++l) {
      exits_[e].layers[l]->Forward(batch, in, s->exits[e][l].data(),
                                   s->scratch.data());
      in = s->exits[e][l].data();
    }
  }
}

LossReport TrainNetwork::Step(int batch, const uint8_t* labels,
                              float loss_scale, BatchState* s) const {
  Forward(batch, s);
  LossReport report;
  report.exit_loss.assign(exits_.size(), 0.0);
  report.exit_correct.assign(exits_.size(), 0);
  const int n_classes = classes();
  const size_t n_layers = backbone_.size();
  // Only the layers an exit reads get gradient from the side.
  for (const Exit& exit : exits_) {
    const int l = exit.after_layer - 1;
    std::fill_n(s->grad_at[l].begin(),
                static_cast<size_t>(backbone_[l]->n_out()) * batch, 0.0f);
  }

  // Exits first: each adds its gradient at the backbone layer it reads.
  for (size_t e = 0; e < exits_.size(); ++e) {
    const Exit& exit = exits_[e];
    float* dy = s->grad_exit_a.data();
    float* dx = s->grad_exit_b.data();
    report.exit_loss[e] = SoftmaxCrossEntropy(
        s->exits[e].back().data(), n_classes, batch, labels, exit.loss_weight,
        loss_scale, dy, &report.exit_correct[e]);
    for (int l = static_cast<int>(exit.layers.size()) - 1; l >= 0; --l) {
      const float* in = l == 0 ? s->backbone[exit.after_layer].data()
                               : s->exits[e][l - 1].data();
      exit.layers[l]->Backward(batch, in, dy, dx, &s->exit_gradients[e][l],
                               s->scratch.data());
      const size_t n = static_cast<size_t>(exit.layers[l]->n_in()) * batch;
      if (l == 0) {
        float* at = s->grad_at[exit.after_layer - 1].data();
        for (size_t i = 0; i < n; ++i) at[i] += dx[i];
      } else {
        if (exit.layers[l - 1]->relu()) MaskRelu(in, n, dx);
        std::swap(dy, dx);
      }
    }
  }

  // The backbone, from the classifier down.
  float* dy = s->grad_a.data();
  report.final_loss =
      SoftmaxCrossEntropy(s->backbone.back().data(), n_classes, batch, labels,
                          1.0f, loss_scale, dy, &report.final_correct);
  // The gradient at layer l's output from the exits that read it.
  const auto add_exits = [&](size_t l, float* grad) {
    if (!exit_reads_[l]) return;
    const float* at = s->grad_at[l].data();
    const size_t n = static_cast<size_t>(backbone_[l]->n_out()) * batch;
    for (size_t i = 0; i < n; ++i) grad[i] += at[i];
  };
  add_exits(n_layers - 1, dy);
  for (int l = static_cast<int>(n_layers) - 1; l >= 0; --l) {
    // dy and dx alternate between the two buffers.
    float* dx = l == 0                   ? nullptr
                : dy == s->grad_a.data() ? s->grad_b.data()
                                         : s->grad_a.data();
    backbone_[l]->Backward(batch, s->backbone[l].data(), dy, dx,
                           &s->backbone_gradients[l], s->scratch.data());
    if (l == 0) break;
    add_exits(l - 1, dx);
    if (backbone_[l - 1]->relu()) {
      MaskRelu(s->backbone[l].data(),
               static_cast<size_t>(backbone_[l]->n_in()) * batch, dx);
    }
    dy = dx;
  }
  return report;
}

void TrainNetwork::Predict(int batch, BatchState* s, std::vector<float>* probs,
                           std::vector<std::vector<float>>* exit_probs) const {
  Forward(batch, s);
  const int n_classes = classes();
  const auto softmax = [&](const float* logits, std::vector<float>* out) {
    out->assign(logits, logits + static_cast<size_t>(n_classes) * batch);
    SoftmaxColumnsInPlace(out->data(), n_classes, batch, batch);
  };
  softmax(s->backbone.back().data(), probs);
  exit_probs->resize(exits_.size());
  for (size_t e = 0; e < exits_.size(); ++e) {
    softmax(s->exits[e].back().data(), &(*exit_probs)[e]);
  }
}

std::vector<TrainLayer*> TrainNetwork::layers() {
  std::vector<TrainLayer*> all;
  for (auto& j : backbone_) all.push_back(j.get());
  for (auto& e : exits_) {
    for (auto& j : e.layers) all.push_back(j.get());
  }
  return all;
}

void TrainNetwork::Prepare() {
  for (TrainLayer* layer : layers()) layer->Prepare();
}

void TrainNetwork::WriteTo(v1::Model* model) const {
  for (size_t l = 0; l < backbone_.size(); ++l) {
    backbone_[l]->WriteTo(model->mutable_layers(static_cast<int>(l)));
  }
  for (size_t e = 0; e < exits_.size(); ++e) {
    for (size_t l = 0; l < exits_[e].layers.size(); ++l) {
      exits_[e].layers[l]->WriteTo(model->mutable_exits(static_cast<int>(e))
                                       ->mutable_layers(static_cast<int>(l)));
    }
  }
}

}  // namespace spex

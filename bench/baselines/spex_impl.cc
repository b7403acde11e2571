// spex itself, as a user gets it: SparseLayer picks its kernels.
#include <random>

#include "bench/layer_problem.h"
#include "common/kernels/sparse_layer.h"
#include "common/status/status_macros.h"

namespace spex::bench {
namespace {

class SpexImpl : public LayerImpl {
 public:
  SpexImpl(std::unique_ptr<SparseLayer> layer, int batch)
      : layer_(std::move(layer)),
        batch_(batch),
        x_(static_cast<size_t>(layer_->n_in()) * batch, 0.5f),
        y_(static_cast<size_t>(layer_->n_out()) * batch) {}

  void Run() override {
    if (batch_ == 1) {
      layer_->Forward(x_.data(), y_.data());
    } else {
      layer_->ForwardBatch(batch_, x_.data(), batch_, y_.data(), batch_);
    }
  }
  size_t BytesPerCall() const override {
    const size_t weights =
        batch_ == 1 ? layer_->single_path_bytes() : layer_->batch_path_bytes();
    return weights + (x_.size() + y_.size()) * sizeof(float);
  }
  double MacsPerCall() const override {
    return static_cast<double>(layer_->spec().connections()) * batch_;
  }
  std::string KernelName() const override {
    return std::string(batch_ == 1 ? layer_->single_kernel().name
                                   : layer_->batch_kernel().name);
  }

 private:
  std::unique_ptr<SparseLayer> layer_;
  int batch_;
  std::vector<float> x_, y_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeSpexImpl(const LayerProblem& p) {
  SPEX_ASSIGN_OR_RETURN(
      std::unique_ptr<SparseLayer> layer,
      SparseLayer::Create(p.pattern, p.weights, p.bias, Activation::kIdentity));
  return std::make_unique<SpexImpl>(std::move(layer), p.batch);
}

std::vector<float> LayerProblem::DenseWeights() const {
  const JunctionSpec& spec = pattern.spec();
  std::vector<float> dense(static_cast<size_t>(spec.n_out) * spec.n_in, 0.0f);
  for (int o = 0; o < spec.n_out; ++o) {
    const auto row = pattern.row(o);
    for (int k = 0; k < spec.d_in; ++k) {
      dense[static_cast<size_t>(o) * spec.n_in + row[k]] =
          weights[static_cast<size_t>(o) * spec.d_in + k];
    }
  }
  return dense;
}

}  // namespace spex::bench

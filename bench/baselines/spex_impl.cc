// spex itself, as a user gets it (SparseLayer picks its kernels), or with
// one kernel of the table forced.
#include <string>

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
  return MakeSpexKernelImpl(p, "");
}

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeSpexKernelImpl(
    const LayerProblem& p, absl::string_view kernel) {
  LayerOptions options;
  options.kernel = std::string(kernel);
  SPEX_ASSIGN_OR_RETURN(std::unique_ptr<SparseLayer> layer,
                        SparseLayer::Create(p.pattern, p.weights, p.bias,
                                            Activation::kIdentity, options));
  return std::make_unique<SpexImpl>(std::move(layer), p.batch);
}

}  // namespace spex::bench

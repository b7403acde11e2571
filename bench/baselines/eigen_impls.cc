// Eigen 3.4 baselines: dense GEMV/GEMM on a row-major matrix, and
// SparseMatrix<float, RowMajor> (CSR) with the same pattern. Compiled with
// -march=native so that Eigen uses AVX2 and FMA as a user's build would.
#include <Eigen/Dense>
#include <Eigen/Sparse>

#include "bench/layer_problem.h"

namespace spex::bench {
namespace {

using RowMajorMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class EigenDenseImpl : public LayerImpl {
 public:
  explicit EigenDenseImpl(const LayerProblem& p)
      : batch_(p.batch),
        w_(Eigen::Map<const RowMajorMatrix>(p.DenseWeights().data(),
                                            p.pattern.spec().n_out,
                                            p.pattern.spec().n_in)),
        b_(Eigen::Map<const Eigen::VectorXf>(p.bias.data(), p.bias.size())),
        x_(Eigen::MatrixXf::Constant(p.pattern.spec().n_in, p.batch, 0.5f)),
        y_(p.pattern.spec().n_out, p.batch) {}

  void Run() override {
    // Samples are columns (batch-major storage): the layout GEMM wants.
    if (batch_ == 1) {
      y_.col(0).noalias() = w_ * x_.col(0);
      y_.col(0) += b_;
    } else {
      y_.noalias() = w_ * x_;
      y_.colwise() += b_;
    }
  }
  size_t BytesPerCall() const override {
    return (w_.size() + b_.size() + x_.size() + y_.size()) * sizeof(float);
  }
  double MacsPerCall() const override {
    return static_cast<double>(w_.size()) * batch_;
  }

 private:
  int batch_;
  RowMajorMatrix w_;
  Eigen::VectorXf b_;
  Eigen::MatrixXf x_, y_;
};

class EigenSparseImpl : public LayerImpl {
 public:
  explicit EigenSparseImpl(const LayerProblem& p)
      : batch_(p.batch),
        w_(p.pattern.spec().n_out, p.pattern.spec().n_in),
        b_(Eigen::Map<const Eigen::VectorXf>(p.bias.data(), p.bias.size())),
        x_(RowMajorMatrix::Constant(p.pattern.spec().n_in, p.batch, 0.5f)),
        y_(p.pattern.spec().n_out, p.batch) {
    const JunctionSpec& spec = p.pattern.spec();
    std::vector<Eigen::Triplet<float>> triplets;
    triplets.reserve(spec.connections());
    for (int o = 0; o < spec.n_out; ++o) {
      const auto row = p.pattern.row(o);
      for (int k = 0; k < spec.d_in; ++k) {
        triplets.emplace_back(
            o, static_cast<int>(row[k]),
            p.weights[static_cast<size_t>(o) * spec.d_in + k]);
      }
    }
    w_.setFromTriplets(triplets.begin(), triplets.end());
    w_.makeCompressed();
  }

  void Run() override {
    // Feature-major right-hand side (row-major X): each nonzero scales one
    // contiguous row of X, Eigen's fast case for CSR times dense.
    y_.noalias() = w_ * x_;
    y_.colwise() += b_;
  }
  size_t BytesPerCall() const override {
    return w_.nonZeros() * (sizeof(float) + sizeof(int)) +
           (b_.size() + x_.size() + y_.size()) * sizeof(float);
  }
  double MacsPerCall() const override {
    return static_cast<double>(w_.nonZeros()) * batch_;
  }

 private:
  int batch_;
  Eigen::SparseMatrix<float, Eigen::RowMajor> w_;
  Eigen::VectorXf b_;
  RowMajorMatrix x_, y_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeEigenDenseImpl(
    const LayerProblem& p) {
  return std::make_unique<EigenDenseImpl>(p);
}

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeEigenSparseImpl(
    const LayerProblem& p) {
  return std::make_unique<EigenSparseImpl>(p);
}

}  // namespace spex::bench

// A benchmark problem: one layer (pattern, weights, bias) and a batch size,
// and the interface every implementation under test fills in.
#ifndef SPEX_BENCH_LAYER_PROBLEM_H_
#define SPEX_BENCH_LAYER_PROBLEM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sparsity/pattern.h"

namespace spex::bench {

struct LayerProblem {
  Pattern pattern;
  std::vector<float> weights;  // logical order, see SparseLayer::Create
  std::vector<float> bias;
  int batch = 1;

  // Row-major n_out x n_in with zeros where no connection exists: what a
  // dense library computes with.
  std::vector<float> DenseWeights() const;
};

// A problem of `spec` with a `kind` pattern and fixed-seed weights: every
// implementation and kind sees the same sizes and weights. Exits on a spec
// the kind cannot take.
LayerProblem MakeProblem(const JunctionSpec& spec, PatternKind kind, int batch);

// One way of computing y = W x + b for a problem, set up ahead of time so
// that Run() times only the computation. Each implementation lays out its
// input as it prefers (the dense libraries batch-major, spex and Eigen's
// sparse product feature-major).
class LayerImpl {
 public:
  virtual ~LayerImpl() = default;
  virtual void Run() = 0;
  // Bytes the implementation reads and writes per call when its data is in
  // cache: weights, indices, bias, input and output.
  virtual size_t BytesPerCall() const = 0;
  // Multiply-adds it performs per call (dense libraries do the zeros too).
  virtual double MacsPerCall() const = 0;
  // Which kernel ran, when the implementation chooses one.
  virtual std::string KernelName() const { return ""; }
};

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeSpexImpl(const LayerProblem& p);
// One kernel of kernel_table.inc for both paths.
absl::StatusOr<std::unique_ptr<LayerImpl>> MakeSpexKernelImpl(
    const LayerProblem& p, absl::string_view kernel);
absl::StatusOr<std::unique_ptr<LayerImpl>> MakeEigenDenseImpl(
    const LayerProblem& p);
absl::StatusOr<std::unique_ptr<LayerImpl>> MakeEigenSparseImpl(
    const LayerProblem& p);
absl::StatusOr<std::unique_ptr<LayerImpl>> MakeOneDnnImpl(
    const LayerProblem& p);
absl::StatusOr<std::unique_ptr<LayerImpl>> MakeXnnpackImpl(
    const LayerProblem& p);

}  // namespace spex::bench

#endif  // SPEX_BENCH_LAYER_PROBLEM_H_

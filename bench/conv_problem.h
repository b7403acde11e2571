// A convolution benchmark problem: its shape, where the shape comes from,
// and the interface every implementation under test fills in. Shared by the
// timed benchmark (conv_bench.cc) and the arm64 instruction count
// (arm64/instruction_count_main.cc), so both measure the same layers with
// the same weights.
#ifndef SPEX_BENCH_CONV_PROBLEM_H_
#define SPEX_BENCH_CONV_PROBLEM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/kernels/conv2d.h"
#include "common/sparsity/pattern.h"

namespace spex::bench {

struct ConvCase {
  std::string name;  // where the shape comes from
  Conv2dShape shape;
};

// The sparse CNN's 3x3 convolutions with at least 4 channels in (layers 3,
// 6 and 7 of the recipe in docs/TRAINING.md) and two MobileNet-like
// layers.
std::vector<ConvCase> ConvCases();

// The channel pattern of `kind` at the valid density nearest `density`
// (seed 1, the same for every implementation); an error when the kind does
// not fit the channel counts.
absl::StatusOr<Pattern> ChannelPattern(const Conv2dShape& shape,
                                       PatternKind kind, double density);

// Fixed-seed numbers in [-1, 1): inputs and weights.
std::vector<float> Numbers(size_t n, uint64_t seed);

// One way of computing a convolution, set up ahead of time so that Run()
// times only the computation.
class ConvImpl {
 public:
  virtual ~ConvImpl() = default;
  virtual void Run() = 0;
  // Which kernel ran, when the implementation chooses one.
  virtual std::string KernelName() const { return ""; }
};

// spex's predefined-sparse convolution (channel-major maps), its kernel
// chosen by the run-time dispatch as in the daemons.
std::unique_ptr<ConvImpl> MakeSpexConv(const Conv2dShape& shape,
                                       const Pattern& channels, int batch);
// XNNPACK's NHWC convolution, dense, one thread; exits if XNNPACK refuses.
std::unique_ptr<ConvImpl> MakeXnnpackConv(const Conv2dShape& shape, int batch);

// Multiply-adds of the connections that exist (dense libraries do the zeros
// too).
inline double ConvMacs(const Conv2dShape& s, double density, int batch) {
  return static_cast<double>(s.out_pixels()) * s.c_out * s.c_in * density *
         s.taps() * batch;
}

}  // namespace spex::bench

#endif  // SPEX_BENCH_CONV_PROBLEM_H_

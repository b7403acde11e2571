#include "bench/conv_problem.h"

#include "common/sparsity/junction.h"
#include "common/status/status_macros.h"

namespace spex::bench {
namespace {

// Keeps the compiler from dropping a result nobody reads (no Google
// Benchmark in the arm64 count program).
inline void KeepResult(const float* y) {
  asm volatile("" : : "r"(y) : "memory");
}

class SpexConv : public ConvImpl {
 public:
  SpexConv(const Conv2dShape& shape, const Pattern& channels, int batch)
      : shape_(shape), batch_(batch) {
    const std::vector<float> weights = Numbers(
        static_cast<size_t>(channels.spec().connections()) * shape.taps(), 1);
    const std::vector<float> bias = Numbers(shape.c_out, 2);
    layer_ =
        *Conv2dLayer::Create(shape, channels, weights, bias, Activation::kRelu);
    x_ =
        Numbers(static_cast<size_t>(shape.c_in) * batch * shape.in_pixels(), 3);
    y_.resize(static_cast<size_t>(shape.c_out) * batch * shape.out_pixels());
    scratch_.resize(layer_->ScratchFloats(batch));
  }
  void Run() override {
    layer_->Forward(batch_, x_.data(),
                    static_cast<size_t>(batch_) * shape_.in_pixels(), y_.data(),
                    static_cast<size_t>(batch_) * shape_.out_pixels(),
                    scratch_.data());
    KeepResult(y_.data());
  }
  std::string KernelName() const override {
    return std::string(layer_->patch_layer().batch_kernel().name);
  }

 private:
  Conv2dShape shape_;
  int batch_;
  std::unique_ptr<Conv2dLayer> layer_;
  std::vector<float> x_, y_, scratch_;
};

}  // namespace

std::vector<ConvCase> ConvCases() {
  return {
      {"cnn layer 3", {14, 14, 32, 128, 3, 1, 1}},
      {"cnn layer 6", {7, 7, 4, 128, 3, 1, 1}},
      {"cnn layer 7", {7, 7, 128, 128, 3, 1, 1}},
      {"mobilenet 56", {56, 56, 64, 64, 3, 1, 1}},
      {"mobilenet 28", {28, 28, 128, 128, 3, 1, 1}},
  };
}

absl::StatusOr<Pattern> ChannelPattern(const Conv2dShape& shape,
                                       PatternKind kind, double density) {
  const int d_out = NearestValidOutDegree(shape.c_in, shape.c_out, density);
  SPEX_ASSIGN_OR_RETURN(const JunctionSpec spec,
                        JunctionFromFanOut(0, shape.c_in, shape.c_out, d_out));
  return GeneratePattern(spec, kind, 1);
}

std::vector<float> Numbers(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 6364136223846793005u + 1442695040888963407u;
    x = static_cast<float>((s >> 40) & 0xffffff) / 8388608.0f - 1.0f;
  }
  return v;
}

std::unique_ptr<ConvImpl> MakeSpexConv(const Conv2dShape& shape,
                                       const Pattern& channels, int batch) {
  return std::make_unique<SpexConv>(shape, channels, batch);
}

}  // namespace spex::bench

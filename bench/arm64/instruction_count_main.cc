// The guest side of `scripts/bench.sh kernels-arm64`: runs one layer
// implementation at batch 1, calling spex_instruction_mark() before and
// after `calls` calls, so that the counting plugin
// (instruction_count_plugin.c) under qemu-aarch64 reports the instructions
// those calls retired.
//
// Usage: spex_instruction_count IMPL OUT IN DENSITY CALLS
//   IMPL: a NEON kernel of kernel_table.inc (its pattern kind follows from
//   its format: sell8 random, block8 block, tileG tileG, dense random),
//   "xnnpack" or "eigen_dense" (the dense layer, whatever DENSITY says).
// stdout: {"macs_per_call": n, "density": the layer's (the nearest valid
// one to DENSITY)}.
//        spex_instruction_count conv IMPL CASE DENSITY BATCH CALLS
//   a convolution of conv_problem.h's ConvCases() (CASE its index): IMPL a
//   pattern kind (random, block, tile4, tile8; spex's convolution with the
//   kernel the dispatch picks) or "xnnpack" (dense, whatever DENSITY says).
//   stdout: {"macs_per_call", "density", "kernel", "case", "h", "w", "c_in",
//   "c_out", "k", "stride"}; an error naming the kind when it does not fit.
//        spex_instruction_count conv-cases
//   stdout: the number of convolution cases.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench/conv_problem.h"
#include "bench/layer_problem.h"
#include "common/kernels/kernel.h"
#include "common/sparsity/junction.h"

// Not inlined and not static, so the plugin finds it by symbol.
extern "C" __attribute__((noinline)) void spex_instruction_mark() {
  asm volatile("" ::: "memory");
}

namespace spex::bench {
namespace {

int ConvMain(int argc, char** argv) {
  const std::vector<ConvCase> cases = ConvCases();
  if (std::strcmp(argv[1], "conv-cases") == 0) {
    std::printf("%zu\n", cases.size());
    return 0;
  }
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: spex_instruction_count conv IMPL CASE DENSITY BATCH "
                 "CALLS\n");
    return 2;
  }
  const std::string impl = argv[2];
  const int index = std::atoi(argv[3]);
  const double requested = std::atof(argv[4]);
  const int batch = std::atoi(argv[5]), calls = std::atoi(argv[6]);
  if (index < 0 || index >= static_cast<int>(cases.size())) {
    std::fprintf(stderr, "no convolution case %d\n", index);
    return 2;
  }
  const ConvCase& c = cases[index];
  std::unique_ptr<ConvImpl> conv;
  double density = 1.0;
  if (impl == "xnnpack") {
    conv = MakeXnnpackConv(c.shape, batch);
  } else {
    absl::StatusOr<PatternKind> kind = ParsePatternKind(impl);
    if (!kind.ok()) {
      std::fprintf(stderr, "%s\n", kind.status().ToString().c_str());
      return 2;
    }
    absl::StatusOr<Pattern> channels =
        ChannelPattern(c.shape, *kind, requested);
    if (!channels.ok()) {
      std::fprintf(stderr, "%s\n", channels.status().ToString().c_str());
      return 1;
    }
    density = channels->spec().density();
    conv = MakeSpexConv(c.shape, *channels, batch);
  }
  conv->Run();  // first-call work stays outside the marks
  spex_instruction_mark();
  for (int i = 0; i < calls; ++i) conv->Run();
  spex_instruction_mark();
  const Conv2dShape& s = c.shape;
  std::printf(
      "{\"macs_per_call\": %.0f, \"density\": %.9g, \"kernel\": \"%s\", "
      "\"case\": \"%s\", \"h\": %d, \"w\": %d, \"c_in\": %d, \"c_out\": %d, "
      "\"k\": %d, \"stride\": %d}\n",
      ConvMacs(s, density, batch), density, conv->KernelName().c_str(),
      c.name.c_str(), s.in_h, s.in_w, s.c_in, s.c_out, s.kernel, s.stride);
  return 0;
}

int Main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "conv") == 0 ||
                    std::strcmp(argv[1], "conv-cases") == 0)) {
    return ConvMain(argc, argv);
  }
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: spex_instruction_count IMPL OUT IN DENSITY CALLS\n");
    return 2;
  }
  const std::string impl = argv[1];
  const int n_out = std::atoi(argv[2]), n_in = std::atoi(argv[3]);
  const double density = std::atof(argv[4]);
  const int calls = std::atoi(argv[5]);
  const bool dense_library = impl == "xnnpack" || impl == "eigen_dense";
  const int d_out =
      dense_library ? n_out : NearestValidOutDegree(n_in, n_out, density);
  absl::StatusOr<JunctionSpec> spec = JunctionFromFanOut(0, n_in, n_out, d_out);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<LayerImpl>> made =
      absl::InternalError("unset");
  if (dense_library) {
    const LayerProblem problem = MakeProblem(*spec, PatternKind::kRandom, 1);
    made = impl == "xnnpack" ? MakeXnnpackImpl(problem)
                             : MakeEigenDenseImpl(problem);
  } else {
    const KernelInfo* kernel = FindKernel(impl);
    if (kernel == nullptr) {
      std::fprintf(stderr, "no kernel named %s\n", impl.c_str());
      return 1;
    }
    made = MakeSpexKernelImpl(
        MakeProblem(*spec, PatternKindOf(kernel->format), 1), impl);
  }
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 1;
  }
  LayerImpl& layer = **made;
  layer.Run();  // first-call work (lazy setup) stays outside the marks
  spex_instruction_mark();
  for (int c = 0; c < calls; ++c) layer.Run();
  spex_instruction_mark();
  std::printf("{\"macs_per_call\": %.0f, \"density\": %.9g}\n",
              layer.MacsPerCall(), spec->density());
  return 0;
}

}  // namespace
}  // namespace spex::bench

int main(int argc, char** argv) { return spex::bench::Main(argc, argv); }

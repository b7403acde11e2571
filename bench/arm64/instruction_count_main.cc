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
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "bench/layer_problem.h"
#include "common/kernels/kernel.h"
#include "common/sparsity/junction.h"

// Not inlined and not static, so the plugin finds it by symbol.
extern "C" __attribute__((noinline)) void spex_instruction_mark() {
  asm volatile("" ::: "memory");
}

namespace spex::bench {
namespace {

int Main(int argc, char** argv) {
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

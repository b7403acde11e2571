#include "common/kernels/kernel.h"

namespace spex {

absl::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kReference:
      return "reference";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kNeon:
      return "neon";
  }
  return "unknown";
}

bool IsaAvailable(Isa isa) {
  switch (isa) {
    case Isa::kReference:
      return true;
    case Isa::kAvx2: {
#if SPEX_ARCH_X86_64
      static const bool available =
          __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
      return available;
#else
      return false;
#endif
    }
    case Isa::kAvx512: {
#if SPEX_ARCH_X86_64
      // The AVX-512 kernels reuse the AVX2 ones for single samples.
      static const bool available =
          __builtin_cpu_supports("avx512f") && IsaAvailable(Isa::kAvx2);
      return available;
#else
      return false;
#endif
    }
    case Isa::kNeon:
      // Advanced SIMD is mandatory on AArch64.
      return SPEX_ARCH_AARCH64 == 1;
  }
  return false;
}

absl::Span<const KernelInfo> AllKernels() {
  static const KernelInfo kKernels[] = {
#define SPEX_KERNEL(name, format, isa) \
  {#name, format, isa, &name##_single, &name##_batch},
#include "common/kernels/kernel_table.inc"
#undef SPEX_KERNEL
  };
  return kKernels;
}

const KernelInfo* FindKernel(absl::string_view name) {
  for (const KernelInfo& kernel : AllKernels()) {
    if (kernel.name == name) return &kernel;
  }
  return nullptr;
}

}  // namespace spex

#include "common/kernels/kernel_choice.h"

#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging/log.h"

namespace spex {
namespace {

// Best first: the widest SIMD this binary has, then the reference loops.
constexpr Isa kIsaPreference[] = {Isa::kAvx512, Isa::kAvx2, Isa::kNeon,
                                  Isa::kReference};

const KernelInfo* BestKernelFor(WeightFormat format) {
  for (Isa isa : kIsaPreference) {
    if (!IsaAvailable(isa)) continue;
    for (const KernelInfo& kernel : AllKernels()) {
      if (kernel.format == format && kernel.isa == isa) return &kernel;
    }
  }
  return nullptr;  // Unreachable: every format has a reference kernel.
}

void LogIsaOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (Isa isa : kIsaPreference) {
      if (!IsaAvailable(isa)) continue;
      LogInfo(absl::StrCat("spex kernels: using ", IsaName(isa),
                           " kernels (best instruction set this CPU runs)"));
      return;
    }
  });
}

}  // namespace

WeightFormat ChooseSingleFormat(const JunctionSpec& spec, PatternKind kind) {
  if (kind == PatternKind::kBlock) {
    return spec.density() < kBlock8DenseCrossover ? WeightFormat::kBlock8
                                                  : WeightFormat::kDense;
  }
  return spec.density() < kSell8DenseCrossover ? WeightFormat::kSell8
                                               : WeightFormat::kDense;
}

WeightFormat ChooseBatchFormat(const JunctionSpec& spec, PatternKind kind) {
  if (spec.dense()) return WeightFormat::kDense;
  return kind == PatternKind::kBlock ? WeightFormat::kBlock8
                                     : WeightFormat::kSell8;
}

absl::StatusOr<KernelChoice> ChooseKernels(const JunctionSpec& spec,
                                           PatternKind kind,
                                           absl::string_view forced) {
  if (!forced.empty()) {
    const KernelInfo* kernel = FindKernel(forced);
    if (kernel == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no kernel named '", forced, "'"));
    }
    if (!IsaAvailable(kernel->isa)) {
      return absl::FailedPreconditionError(
          absl::StrCat("kernel ", forced, " needs ", IsaName(kernel->isa),
                       ", which this CPU lacks"));
    }
    if (kernel->format == WeightFormat::kBlock8 &&
        kind != PatternKind::kBlock) {
      return absl::FailedPreconditionError(
          absl::StrCat("kernel ", forced, " needs a block pattern, layer has ",
                       PatternKindName(kind)));
    }
    return KernelChoice{kernel, kernel};
  }
  LogIsaOnce();
  return KernelChoice{BestKernelFor(ChooseSingleFormat(spec, kind)),
                      BestKernelFor(ChooseBatchFormat(spec, kind))};
}

}  // namespace spex

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

// `only`: that ISA's kernel; null: the best available.
const KernelInfo* BestKernelFor(WeightFormat format, const Isa* only) {
  for (Isa isa : kIsaPreference) {
    if (!IsaAvailable(isa) || (only != nullptr && isa != *only)) continue;
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

// The density from which the dense kernel beats `format` for one sample.
double DenseCrossover(WeightFormat format) {
  switch (format) {
    case WeightFormat::kBlock8:
      return kBlock8DenseCrossover;
    case WeightFormat::kTile4:
    case WeightFormat::kTile8:
      return kTileDenseCrossover;
    case WeightFormat::kSell8:
    case WeightFormat::kDense:
      break;
  }
  return kSell8DenseCrossover;
}

}  // namespace

WeightFormat ChooseSingleFormat(const JunctionSpec& spec, PatternKind kind) {
  const WeightFormat sparse = SparseFormatOf(kind);
  return spec.density() < DenseCrossover(sparse) ? sparse
                                                 : WeightFormat::kDense;
}

WeightFormat ChooseBatchFormat(const JunctionSpec& spec, PatternKind kind) {
  const WeightFormat sparse = SparseFormatOf(kind);
  if (spec.dense()) return WeightFormat::kDense;
  if (TileGroupSizeOfFormat(sparse) > 0) return sparse;
  return spec.density() < kRowBatchDenseCrossover ? sparse
                                                  : WeightFormat::kDense;
}

absl::StatusOr<KernelChoice> ChooseKernels(const JunctionSpec& spec,
                                           PatternKind kind,
                                           absl::string_view forced,
                                           const Isa* isa) {
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
    if (!FormatFitsPattern(kernel->format, kind)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kernel ", forced, " runs the ", WeightFormatName(kernel->format),
          " format, which does not fit the layer's ", PatternKindName(kind),
          " pattern"));
    }
    return KernelChoice{kernel, kernel};
  }
  if (isa != nullptr) {
    if (!IsaAvailable(*isa)) {
      return absl::FailedPreconditionError(absl::StrCat(
          IsaName(*isa), " kernels were asked for, but this CPU lacks ",
          IsaName(*isa)));
    }
    // Every ISA this binary has provides every format (kernel_table.inc).
    const KernelInfo* single =
        BestKernelFor(ChooseSingleFormat(spec, kind), isa);
    const KernelInfo* batch = BestKernelFor(ChooseBatchFormat(spec, kind), isa);
    if (single == nullptr || batch == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("this build has no ", IsaName(*isa), " kernels"));
    }
    return KernelChoice{single, batch};
  }
  LogIsaOnce();
  return KernelChoice{BestKernelFor(ChooseSingleFormat(spec, kind), nullptr),
                      BestKernelFor(ChooseBatchFormat(spec, kind), nullptr)};
}

}  // namespace spex

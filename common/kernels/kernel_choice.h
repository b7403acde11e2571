// Which kernel a layer runs: chosen once, when the layer is built.
//
// The choice is a fixed rule on the pattern kind and density (measured
// crossovers, see docs/BENCHMARKS.md), not a timing race at load: a model
// must run the same kernels on every load so that results are reproducible
// and a head and a full network built from one file agree bit for bit.
#ifndef SPEX_COMMON_KERNELS_KERNEL_CHOICE_H_
#define SPEX_COMMON_KERNELS_KERNEL_CHOICE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kernels/kernel.h"
#include "common/sparsity/pattern.h"

namespace spex {

struct KernelChoice {
  const KernelInfo* single = nullptr;  // one sample at a time (the edge)
  const KernelInfo* batch = nullptr;   // feature-major batches (the cloud)
};

// Density from which a dense matrix beats each sparse format for one sample.
inline constexpr double kSell8DenseCrossover = 0.3;
inline constexpr double kBlock8DenseCrossover = 0.75;
inline constexpr double kTileDenseCrossover = 0.75;
// The same for batches. The dense batch kernel is a GEMM that loads each X
// row once for 4 rows and runs near the FMA peak; sell8 and block8 load one
// X row per FMA and reach about a third of it, so from density 0.4 the
// dense matrix's extra zeros cost less than the sparse formats' loads. Tile
// formats share their loads as the GEMM does and stay sparse up to full
// density.
inline constexpr double kRowBatchDenseCrossover = 0.4;

WeightFormat ChooseSingleFormat(const JunctionSpec& spec, PatternKind kind);
WeightFormat ChooseBatchFormat(const JunctionSpec& spec, PatternKind kind);

// The fastest available ISA's kernel for each path. A non-empty `forced`
// names one kernel from the table for both paths (tests and benchmarks);
// NotFound if no such kernel, FailedPrecondition if the CPU cannot run it or
// its format does not fit the pattern kind. Otherwise a non-null `isa` picks
// that ISA's kernels for the formats the rule chooses (a whole model on one
// ISA); FailedPrecondition if the CPU cannot run it.
absl::StatusOr<KernelChoice> ChooseKernels(const JunctionSpec& spec,
                                           PatternKind kind,
                                           absl::string_view forced = "",
                                           const Isa* isa = nullptr);

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_KERNEL_CHOICE_H_

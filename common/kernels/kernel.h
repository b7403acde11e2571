// The kernel interface: what every sparse layer kernel computes, and the
// table that lists them all.
//
// A kernel computes y = act(W x + b) for a layer packed in one WeightFormat,
// act being identity or ReLU (softmax is applied by the layer afterwards,
// since it spans all outputs). Two entry points per kernel:
//  single  one sample: x has n_in floats, y receives n_out floats.
//  batch   a feature-major batch: input i's `batch` values are contiguous at
//          x + i * x_stride, output o's at y + o * y_stride. This is the
//          layout the cloud batches in: each index addresses a contiguous run.
// Kernels never allocate and are safe to call concurrently on one
// PackedWeights.
//
// kernel_table.inc is the one list of kernels; declarations, AllKernels(),
// dispatch, tests and benchmarks all expand it.
#ifndef SPEX_COMMON_KERNELS_KERNEL_H_
#define SPEX_COMMON_KERNELS_KERNEL_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/kernels/packed_weights.h"

#if defined(__x86_64__)
#define SPEX_ARCH_X86_64 1
#else
#define SPEX_ARCH_X86_64 0
#endif
#if defined(__aarch64__)
#define SPEX_ARCH_AARCH64 1
#else
#define SPEX_ARCH_AARCH64 0
#endif

namespace spex {

enum class Isa { kReference, kAvx2, kAvx512, kNeon };

absl::string_view IsaName(Isa isa);

// Whether this CPU runs `isa`'s kernels. Detected once per process.
bool IsaAvailable(Isa isa);

using SingleKernelFn = void (*)(const PackedWeights& weights, bool relu,
                                const float* x, float* y);
using BatchKernelFn = void (*)(const PackedWeights& weights, bool relu,
                               size_t batch, const float* x, size_t x_stride,
                               float* y, size_t y_stride);

struct KernelInfo {
  absl::string_view name;
  WeightFormat format;
  Isa isa;
  SingleKernelFn single;
  BatchKernelFn batch;
};

#define SPEX_KERNEL(name, format, isa)                                        \
  void name##_single(const PackedWeights& weights, bool relu, const float* x, \
                     float* y);                                               \
  void name##_batch(const PackedWeights& weights, bool relu, size_t batch,    \
                    const float* x, size_t x_stride, float* y,                \
                    size_t y_stride);
#include "common/kernels/kernel_table.inc"
#undef SPEX_KERNEL

// Every kernel compiled into this binary, available on this CPU or not.
absl::Span<const KernelInfo> AllKernels();

// nullptr when no kernel has this name.
const KernelInfo* FindKernel(absl::string_view name);

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_KERNEL_H_

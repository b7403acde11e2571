// The physical limits a kernel is measured against, measured on this machine
// in the same run as the kernels (the machine is shared and its speed
// drifts, so figures from another run would not do).
#ifndef SPEX_BENCH_MACHINE_LIMITS_H_
#define SPEX_BENCH_MACHINE_LIMITS_H_

#include <cstddef>
#include <string>

namespace spex::bench {

struct CacheLevel {
  std::string name;           // "L1", "L2", "L3", "DRAM"
  size_t capacity_bytes = 0;  // SIZE_MAX for DRAM
  double read_gbps = 0;       // measured single-thread read bandwidth
};

struct MachineLimits {
  double peak_gflops = 0;  // single-thread FP32 FMA throughput
  CacheLevel levels[4];

  // The innermost level that holds `bytes` of hot data (with headroom for
  // everything else living there).
  const CacheLevel& LevelFor(size_t bytes) const;
};

// Takes about a second.
MachineLimits MeasureMachineLimits();

}  // namespace spex::bench

#endif  // SPEX_BENCH_MACHINE_LIMITS_H_

// Turns benchmark medians into the JSON lines and the ratio table.
#ifndef SPEX_BENCH_REPORT_H_
#define SPEX_BENCH_REPORT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "bench/machine_limits.h"

namespace spex::bench {

struct Measurement {
  std::string impl;    // spex_random, spex_block, eigen_dense, ...
  std::string kernel;  // the spex kernel that ran, empty for libraries
  // The kernel a user gets for this layer; false: another kernel of the
  // table that can run it, forced (an extra row, left out of the ratios).
  bool chosen = true;
  int n_out = 0;
  int n_in = 0;
  double density = 1;            // of the pattern actually timed
  double density_requested = 1;  // what the sweep asked for
  int batch = 1;
  size_t bytes = 0;  // touched per call
  double macs = 0;   // per call
  double ns = 0;     // median per call
};

// One JSON object per line. Dense libraries appear once per layer size and
// batch, with density 1.
void PrintJsonLines(const std::vector<Measurement>& results, std::FILE* out);

// For each layer, density and batch: time, speed-up over the fastest dense
// library and over Eigen's sparse product, and the fraction of the physical
// limit (bytes / bandwidth of the level the data lives in at batch 1;
// FLOPs / peak FMA at larger batches). Then the floors, checked.
void PrintReport(const std::vector<Measurement>& results,
                 const MachineLimits& limits, std::FILE* out);

}  // namespace spex::bench

#endif  // SPEX_BENCH_REPORT_H_

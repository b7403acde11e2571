#include "bench/machine_limits.h"

#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "common/kernels/aligned_vector.h"

namespace spex::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Twelve independent FMA chains of the widest vectors this CPU has (the
// file is built with -march=native): enough to cover the FMA latency on
// every pipe. Returns GFLOP/s, best of several bursts.
#if defined(__AVX512F__)
using Vector = __m512;
inline Vector Splat(float v) { return _mm512_set1_ps(v); }
inline Vector Fma(Vector a, Vector b, Vector c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline float FirstLane(Vector v) { return _mm512_cvtss_f32(v); }
#else
using Vector = __m256;
inline Vector Splat(float v) { return _mm256_set1_ps(v); }
inline Vector Fma(Vector a, Vector b, Vector c) {
  return _mm256_fmadd_ps(a, b, c);
}
inline float FirstLane(Vector v) { return _mm256_cvtss_f32(v); }
#endif

double MeasurePeakGflops() {
  constexpr int kChains = 12;
  constexpr int kLanes = sizeof(Vector) / sizeof(float);
  constexpr int64_t kIterations = 20'000'000;
  double best = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    Vector acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = Splat(0.001f * c);
    const Vector a = Splat(0.999999f), b = Splat(1e-7f);
    const auto start = Clock::now();
    for (int64_t i = 0; i < kIterations; ++i) {
      for (int c = 0; c < kChains; ++c) acc[c] = Fma(acc[c], a, b);
    }
    const double seconds = SecondsSince(start);
    float sink = 0;
    for (int c = 0; c < kChains; ++c) sink += FirstLane(acc[c]);
    if (sink == 12345.0f) best = -1;  // keeps the loop alive
    best = std::max(best, 2.0 * kLanes * kChains * kIterations / seconds / 1e9);
  }
  return best;
}

// Sums a buffer of `bytes` repeatedly with 256-bit loads. GB/s, best of
// several passes.
double MeasureReadGbps(size_t bytes) {
  const size_t floats = bytes / sizeof(float);
  AlignedVector<float> buffer(floats, 1.0f);
  const size_t passes = std::max<size_t>(3, (size_t{1} << 28) / bytes);
  double best = 0;
  float sink = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const auto start = Clock::now();
    for (size_t pass = 0; pass < passes; ++pass) {
      const float* p = buffer.data();
      for (size_t i = 0; i + 32 <= floats; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
      }
    }
    const double seconds = SecondsSince(start);
    alignas(32) float lanes[8];
    _mm256_store_ps(
        lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    sink += lanes[0];
    best = std::max(best, static_cast<double>(bytes) * passes / seconds / 1e9);
  }
  if (sink == -1.0f) best = 0;  // keeps the loop alive
  return best;
}

size_t CacheBytes(int name, size_t fallback) {
  const long value = sysconf(name);
  return value > 0 ? static_cast<size_t>(value) : fallback;
}

}  // namespace

const CacheLevel& MachineLimits::LevelFor(size_t bytes) const {
  for (const CacheLevel& level : levels) {
    // Three quarters of the capacity: code, stack and other data share it.
    if (bytes <= level.capacity_bytes / 4 * 3) return level;
  }
  return levels[3];
}

MachineLimits MeasureMachineLimits() {
  MachineLimits limits;
  const size_t l1 = CacheBytes(_SC_LEVEL1_DCACHE_SIZE, 32 << 10);
  const size_t l2 = CacheBytes(_SC_LEVEL2_CACHE_SIZE, 512 << 10);
  const size_t l3 = CacheBytes(_SC_LEVEL3_CACHE_SIZE, 32 << 20);
  limits.peak_gflops = MeasurePeakGflops();
  limits.levels[0] = {"L1", l1, MeasureReadGbps(l1 / 2)};
  limits.levels[1] = {"L2", l2, MeasureReadGbps(l2 / 2)};
  limits.levels[2] = {"L3", l3,
                      MeasureReadGbps(std::min<size_t>(l3 / 4, 8 << 20))};
  limits.levels[3] = {"DRAM", SIZE_MAX,
                      MeasureReadGbps(std::max<size_t>(4 * l3, 256 << 20))};
  return limits;
}

}  // namespace spex::bench

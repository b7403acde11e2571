// A random source whose sequence depends only on its seed, on every platform.
//
// std::uniform_int_distribution and std::shuffle are implementation-defined,
// so a pattern generated with them could differ between the trainer's and the
// edge's standard library. Patterns (and so model ids) must not: this class
// pins both the engine (std::mt19937_64, fully specified) and the mapping to
// ranges.
#ifndef SPEX_COMMON_SPARSITY_SEEDED_RANDOM_H_
#define SPEX_COMMON_SPARSITY_SEEDED_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

namespace spex {

// A well-mixed seed for a (seed, salt) pair (splitmix64's step and
// finaliser): distinct salts give unrelated seeds, so each pattern, weight
// matrix or augmentation draw gets its own stream from one user seed.
inline uint64_t MixSeed(uint64_t seed, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n). REQUIRES: n > 0. Rejection sampling removes the
  // modulo bias.
  uint64_t Below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
      v = engine_();
    } while (v >= limit);
    return v % n;
  }

  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Fisher-Yates shuffle of [first, first + n).
  // A standard normal sample (Box-Muller; one of the pair is discarded so
  // that the stream does not depend on call parity).
  double Normal() {
    const double u1 = 1.0 - Unit();  // in (0, 1]
    const double u2 = Unit();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  template <typename T>
  void Shuffle(T* first, uint64_t n) {
    for (uint64_t i = n; i > 1; --i) {
      std::swap(first[i - 1], first[Below(i)]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace spex

#endif  // SPEX_COMMON_SPARSITY_SEEDED_RANDOM_H_

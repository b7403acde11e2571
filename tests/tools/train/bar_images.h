// A small synthetic task for training tests: side x side images of noise
// with a bright horizontal bar in one of three positions (the label),
// moved up or down by up to max_shift rows. Easy for a network, impossible
// for a constant guess.
#ifndef SPEX_TESTS_TOOLS_TRAIN_BAR_IMAGES_H_
#define SPEX_TESTS_TOOLS_TRAIN_BAR_IMAGES_H_

#include <cstdint>
#include <random>

#include "tools/data/dataset.h"

namespace spex {

inline Dataset BarImages(int n, uint64_t seed, int side, int max_shift = 0) {
  Dataset d;
  d.eight_bit = true;
  d.name = "bars";
  d.shape = {side, side};
  d.width = side * side;
  d.classes = 3;
  d.class_names = {"top", "middle", "bottom"};
  const int step = (side - 1) / 3;  // rows between bar positions
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int> noise(0, 90);
  for (int i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng() % 3);
    const int shift =
        max_shift > 0
            ? static_cast<int>(rng() % (2 * max_shift + 1)) - max_shift
            : 0;
    for (int p = 0; p < side * side; ++p) {
      const int row = p / side - shift;
      const bool bar = row >= 1 + step * label && row < 3 + step * label;
      d.values.push_back(
          static_cast<uint8_t>(bar ? 160 + noise(rng) : noise(rng)));
    }
    d.labels.push_back(static_cast<uint8_t>(label));
  }
  return d;
}

}  // namespace spex

#endif  // SPEX_TESTS_TOOLS_TRAIN_BAR_IMAGES_H_

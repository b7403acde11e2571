// libFuzzer target over a user's dataset files (spex-train --dataset
// train=FILE...): the first byte picks the reader (CSV, .npy, .npz), the
// rest is the file. Any bytes must give samples or a clear error, never a
// crash, a hang, a sanitizer report or an allocation far beyond the input's
// size (scripts/fuzz.sh runs it with a 2 GB limit).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "tools/data/csv_file.h"
#include "tools/data/npy_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      std::istringstream in(bytes);
      const auto dataset = spex::ParseCsvDataset(in, "fuzz.csv", "label");
      // A dataset that parsed is whole: a label and width values per row.
      if (dataset.ok() &&
          dataset->values.size() !=
              dataset->labels.size() * static_cast<size_t>(dataset->width)) {
        __builtin_trap();
      }
      break;
    }
    case 1:
      (void)spex::ParseNpy(bytes, "fuzz.npy");
      break;
    default:
      (void)spex::ParseNpz(bytes, "fuzz.npz");
      break;
  }
  return 0;
}

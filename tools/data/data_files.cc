#include "tools/data/data_files.h"

#include <cmath>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "tools/data/csv_file.h"
#include "tools/data/npy_file.h"

namespace spex {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

// Samples and labels from NumPy arrays into `data`.
absl::Status FromArrays(const NpyArray& x, const NpyArray& y,
                        const std::string& x_name, const std::string& y_name,
                        Dataset* data) {
  if (x.shape.size() < 2) {
    return Invalid(absl::StrFormat(
        "%s: shape (%s): samples need at least two dimensions (samples, "
        "features...)",
        x_name, absl::StrJoin(x.shape, ", ")));
  }
  if (y.shape.size() != 1 && !(y.shape.size() == 2 && y.shape[1] == 1)) {
    return Invalid(absl::StrFormat(
        "%s: shape (%s): labels need one dimension (one class per sample)",
        y_name, absl::StrJoin(y.shape, ", ")));
  }
  if (x.shape[0] != y.shape[0]) {
    return Invalid(absl::StrFormat("%s has %d samples but %s has %d labels",
                                   x_name, x.shape[0], y_name, y.shape[0]));
  }
  data->shape.clear();
  int64_t width = 1;
  for (size_t d = 1; d < x.shape.size(); ++d) {
    width *= x.shape[d];
    data->shape.push_back(static_cast<int>(x.shape[d]));
  }
  if (width < 1 || width > (int64_t{1} << 24)) {
    return Invalid(absl::StrFormat("%s: %d values per sample", x_name, width));
  }
  data->width = static_cast<int>(width);
  data->eight_bit = true;
  for (size_t i = 0; i < x.values.size(); ++i) {
    const float v = x.values[i];
    if (!std::isfinite(v)) {
      return Invalid(absl::StrFormat("%s: sample %d, value %d is %g", x_name,
                                     i / width, i % width, v));
    }
    data->eight_bit =
        data->eight_bit && v == std::floor(v) && v >= 0 && v <= 255;
  }
  data->values = x.values;
  data->labels.clear();
  for (size_t i = 0; i < y.values.size(); ++i) {
    const float v = y.values[i];
    if (!(v == std::floor(v) && v >= 0 && v <= 255)) {
      return Invalid(absl::StrFormat(
          "%s: label %d is %g, not a class number in [0, 255]", y_name, i, v));
    }
    data->labels.push_back(static_cast<uint8_t>(v));
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ReadSplit(const DataFiles& files, Split split) {
  const bool train = split == Split::kTrain;
  const std::string& path =
      train || files.test.empty() ? files.train : files.test;
  Dataset data;
  if (absl::EndsWith(path, ".csv")) {
    if (!train && files.test.empty()) {
      return Invalid("test=FILE: a CSV training file needs a test file");
    }
    SPEX_ASSIGN_OR_RETURN(data, ReadCsvDataset(path, files.label_column));
  } else if (absl::EndsWith(path, ".npz")) {
    SPEX_ASSIGN_OR_RETURN(const auto arrays, ReadNpzFile(path));
    std::vector<std::string> names = {"x", "y"};
    if (arrays.count("x_train") != 0) {
      if (!train && !files.test.empty()) {
        return Invalid(path + " holds x_train: name it as train= alone");
      }
      names = train ? std::vector<std::string>{"x_train", "y_train"}
                    : std::vector<std::string>{"x_test", "y_test"};
    } else if (!train && files.test.empty()) {
      return Invalid(absl::StrCat(
          "test=FILE: ", path,
          " holds no x_test and y_test, so the test samples need a file"));
    }
    for (const std::string& name : names) {
      if (arrays.count(name) == 0) {
        std::vector<std::string> held;
        for (const auto& [key, value] : arrays) held.push_back(key);
        return Invalid(absl::StrFormat(
            "%s has no array '%s' (it holds %s; spex reads x and y, or "
            "x_train, y_train, x_test and y_test)",
            path, name, absl::StrJoin(held, ", ")));
      }
    }
    SPEX_RETURN_IF_ERROR(FromArrays(arrays.at(names[0]), arrays.at(names[1]),
                                    absl::StrCat(path, ": ", names[0]),
                                    absl::StrCat(path, ": ", names[1]), &data));
  } else if (absl::EndsWith(path, ".npy")) {
    if (!train && files.test.empty()) {
      return Invalid("test=FILE: an .npy training file needs a test file");
    }
    const std::string& labels = train ? files.train_labels : files.test_labels;
    if (labels.empty()) {
      return Invalid(absl::StrFormat(
          "%s: the labels of .npy samples come from %s=FILE.npy", path,
          train ? "train_labels" : "test_labels"));
    }
    SPEX_ASSIGN_OR_RETURN(const NpyArray x, ReadNpyFile(path));
    SPEX_ASSIGN_OR_RETURN(const NpyArray y, ReadNpyFile(labels));
    SPEX_RETURN_IF_ERROR(FromArrays(x, y, path, labels, &data));
  } else {
    return Invalid(absl::StrFormat(
        "%s: spex reads .csv, .npz and .npy files (by their extension)", path));
  }
  if (!files.shape.empty()) {
    int width = 1;
    for (int d : files.shape) width *= d;
    if (width != data.width) {
      return Invalid(absl::StrFormat(
          "shape=%s holds %d values, but %s's samples have %d",
          absl::StrJoin(files.shape, "x"), width, path, data.width));
    }
    data.shape = files.shape;
  }
  // A trailing channel of one is a plain image.
  if (data.shape.size() == 3 && data.shape[2] == 1) data.shape.pop_back();
  return data;
}

}  // namespace

bool IsDataFilesSpec(const std::string& spec) {
  return absl::StrContains(spec, '=');
}

absl::StatusOr<DataFiles> ParseDataFiles(const std::string& spec) {
  DataFiles files;
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    const std::vector<std::string> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const std::string& key = kv[0];
    if (kv.size() != 2 || kv[1].empty()) {
      return Invalid(
          absl::StrFormat("dataset '%s': '%s' is not KEY=VALUE", spec, item));
    }
    const std::string& value = kv[1];
    if (key == "train") {
      files.train = value;
    } else if (key == "test") {
      files.test = value;
    } else if (key == "label") {
      files.label_column = value;
    } else if (key == "train_labels") {
      files.train_labels = value;
    } else if (key == "test_labels") {
      files.test_labels = value;
    } else if (key == "shape") {
      for (absl::string_view d : absl::StrSplit(value, 'x')) {
        int n = 0;
        if (!absl::SimpleAtoi(d, &n) || n < 1) {
          return Invalid(absl::StrFormat(
              "dataset '%s': shape=%s is not sizes joined by x (28x28)", spec,
              value));
        }
        files.shape.push_back(n);
      }
    } else {
      return Invalid(absl::StrFormat(
          "dataset '%s': unknown key '%s' (train, test, label, shape, "
          "train_labels, test_labels)",
          spec, key));
    }
  }
  if (files.train.empty()) {
    return Invalid(
        absl::StrFormat("dataset '%s': train=FILE is missing", spec));
  }
  return files;
}

absl::StatusOr<Dataset> LoadDataFiles(const std::string& spec, Split split) {
  SPEX_ASSIGN_OR_RETURN(const DataFiles files, ParseDataFiles(spec));
  SPEX_ASSIGN_OR_RETURN(Dataset data, ReadSplit(files, split));
  data.name = spec;
  int max_label = 0;
  for (uint8_t label : data.labels) max_label = std::max<int>(max_label, label);
  data.classes = max_label + 1;
  for (int c = 0; c < data.classes; ++c) {
    data.class_names.push_back(absl::StrCat(c));
  }
  return data;
}

}  // namespace spex

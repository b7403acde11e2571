// A user's own dataset in files, named by one string every tool's
// --dataset takes and spex-train records in the model, so calibrate,
// labels and replay read the same samples:
//
//   train=FILE[,test=FILE][,label=COLUMN][,shape=HxW]
//           [,train_labels=FILE.npy][,test_labels=FILE.npy]
//
// FILE is a .csv (the label column named by `label`, default "label"), an
// .npz (arrays x and y, or x_train, y_train, x_test and y_test, Keras's
// layout, when one file holds both splits) or an .npy of samples whose
// labels are in the *_labels .npy. `shape` gives a sample's shape (28x28
// for images stored as rows of pixels); by default it is an .npy's shape
// past the first dimension, or a CSV row's features.
#ifndef SPEX_TOOLS_DATA_DATA_FILES_H_
#define SPEX_TOOLS_DATA_DATA_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/data/dataset.h"

namespace spex {

struct DataFiles {
  std::string train;
  std::string test;  // empty: an .npz train file's x_test and y_test
  std::string train_labels, test_labels;  // for .npy samples
  std::string label_column = "label";
  std::vector<int> shape;  // empty: from the files
};

// True when `spec` names files rather than a packaged dataset.
bool IsDataFilesSpec(const std::string& spec);

// InvalidArgument naming the key: an unknown key, a missing train file, a
// bad shape.
absl::StatusOr<DataFiles> ParseDataFiles(const std::string& spec);

// One split, with errors that name the file, the row and the column (CSV)
// or the array (NumPy): samples and labels of different counts, a shape
// that does not match the features, non-finite values, labels that are not
// class numbers. Classes are the largest label + 1; class names are the
// numbers. The dataset's name is `spec`.
absl::StatusOr<Dataset> LoadDataFiles(const std::string& spec, Split split);

}  // namespace spex

#endif  // SPEX_TOOLS_DATA_DATA_FILES_H_

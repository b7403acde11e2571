// Labelled samples from a CSV file: a header naming the columns, one sample
// per row, the class number in the column the user names, every other
// column a numeric feature (a table's measurements, or an image's pixels in
// row-major order).
#ifndef SPEX_TOOLS_DATA_CSV_FILE_H_
#define SPEX_TOOLS_DATA_CSV_FILE_H_

#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "tools/data/dataset.h"

namespace spex {

// Errors name the file, the row (1 is the header) and the column (number
// and name): a missing label column, a ragged row, a value that is not a
// number or not finite, a label that is not a class number in [0, 255].
// Fields may be double-quoted ("a, b"). The dataset's shape is the features
// in a row ({features}); name, classes and class names are the caller's.
absl::StatusOr<Dataset> ReadCsvDataset(const std::string& path,
                                       const std::string& label_column);

// The same from a stream; errors name `what`.
absl::StatusOr<Dataset> ParseCsvDataset(std::istream& in,
                                        const std::string& what,
                                        const std::string& label_column);

}  // namespace spex

#endif  // SPEX_TOOLS_DATA_CSV_FILE_H_

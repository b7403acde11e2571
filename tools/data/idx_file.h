// IDX files (the MNIST family's format), plain or gzip-compressed: a 4-byte
// magic (0, 0, type, number of dimensions), one big-endian uint32 per
// dimension, then the values row-major. spex reads unsigned-byte IDX only,
// which is what image and label files use.
#ifndef SPEX_TOOLS_DATA_IDX_FILE_H_
#define SPEX_TOOLS_DATA_IDX_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spex {

struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> values;  // product(dims) values, row-major
};

// Reads `path` (gzip or not, detected by its content). InvalidArgument naming
// the file when the magic, type or dimensions are wrong or the data is
// shorter or longer than the dimensions say (a truncated download);
// NotFound when the file is missing.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);

// Writes `array` gzip-compressed (used to convert datasets to IDX).
absl::Status WriteIdxFile(const std::string& path, const IdxArray& array);

}  // namespace spex

#endif  // SPEX_TOOLS_DATA_IDX_FILE_H_

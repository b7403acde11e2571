// NumPy's array files: .npy (one array) and .npz (a zip of .npy members,
// stored by numpy.savez or deflated by numpy.savez_compressed). spex reads
// little-endian integer and floating-point arrays in C order into floats.
#ifndef SPEX_TOOLS_DATA_NPY_FILE_H_
#define SPEX_TOOLS_DATA_NPY_FILE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace spex {

struct NpyArray {
  std::string dtype;           // as the header spells it, e.g. "<f4", "|u1"
  std::vector<int64_t> shape;  // outermost first
  std::vector<float> values;   // product(shape) values, row-major
  bool is_integer = false;     // an integer dtype
};

// Parses one .npy image. Errors name `what` (the file, or the member of an
// .npz) and the field: a bad magic or header, a big-endian, Fortran-order,
// object or other unsupported dtype, a shape whose size does not match the
// bytes that follow. Never allocates more than the bytes given imply.
absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes,
                                  const std::string& what);

absl::StatusOr<NpyArray> ReadNpyFile(const std::string& path);

// Every member of an .npz, by name without ".npy" ("x_train"). Errors name
// the file and the member: a truncated archive, an unsupported compression
// method, a CRC mismatch, a member larger than its header says.
absl::StatusOr<std::map<std::string, NpyArray>> ReadNpzFile(
    const std::string& path);

// The same from an archive's bytes; errors name `what`.
absl::StatusOr<std::map<std::string, NpyArray>> ParseNpz(
    absl::string_view zip, const std::string& what);

}  // namespace spex

#endif  // SPEX_TOOLS_DATA_NPY_FILE_H_

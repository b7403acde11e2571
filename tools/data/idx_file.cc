#include "tools/data/idx_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace spex {
namespace {

// Larger arrays are not a dataset spex reads; refusing them bounds memory.
constexpr uint64_t kMaxIdxValues = uint64_t{1} << 31;
constexpr int kUnsignedByteType = 0x08;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly `n` bytes; false at a short read.
bool ReadExactly(gzFile file, void* data, size_t n) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    const int got = gzread(file, p, chunk);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  // gzopen reads uncompressed files transparently.
  GzFile file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const std::string reason = std::strerror(errno);
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrFormat("%s: %s", path, reason));
    }
    return absl::UnavailableError(absl::StrFormat("%s: %s", path, reason));
  }
  uint8_t magic[4];
  if (!ReadExactly(file.get(), magic, 4)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: truncated before the IDX header ended", path));
  }
  if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: not an IDX file (magic %02x %02x %02x %02x)", path,
                        magic[0], magic[1], magic[2], magic[3]));
  }
  if (magic[2] != kUnsignedByteType) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: IDX value type 0x%02x, only unsigned bytes (0x08) are supported",
        path, magic[2]));
  }
  IdxArray array;
  uint64_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t be[4];
    if (!ReadExactly(file.get(), be, 4)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: truncated inside the IDX header", path));
    }
    const uint32_t dim = (uint32_t{be[0]} << 24) | (uint32_t{be[1]} << 16) |
                         (uint32_t{be[2]} << 8) | be[3];
    count *= dim;
    if (dim == 0 || count > kMaxIdxValues) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: IDX dimension %d is %d; arrays must be non-empty and hold at "
          "most %d values",
          path, d, dim, kMaxIdxValues));
    }
    array.dims.push_back(dim);
  }
  array.values.resize(count);
  if (!ReadExactly(file.get(), array.values.data(), count)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: truncated: the header promises %d values, the file holds fewer "
        "(an incomplete download or copy?)",
        path, count));
  }
  uint8_t extra;
  if (gzread(file.get(), &extra, 1) > 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: more data than the header's %d values", path, count));
  }
  int error = Z_OK;
  gzerror(file.get(), &error);
  if (error != Z_OK && error != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: corrupt gzip data", path));
  }
  return array;
}

absl::Status WriteIdxFile(const std::string& path, const IdxArray& array) {
  GzFile file(gzopen(path.c_str(), "wb"));
  if (file == nullptr) {
    return absl::UnavailableError(
        absl::StrFormat("cannot create %s: %s", path, std::strerror(errno)));
  }
  std::vector<uint8_t> header = {0, 0, kUnsignedByteType,
                                 static_cast<uint8_t>(array.dims.size())};
  for (uint32_t dim : array.dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      header.push_back(static_cast<uint8_t>(dim >> shift));
    }
  }
  if (gzwrite(file.get(), header.data(),
              static_cast<unsigned>(header.size())) !=
          static_cast<int>(header.size()) ||
      (!array.values.empty() &&
       gzwrite(file.get(), array.values.data(),
               static_cast<unsigned>(array.values.size())) !=
           static_cast<int>(array.values.size()))) {
    return absl::DataLossError(absl::StrFormat("cannot write %s", path));
  }
  if (gzclose(file.release()) != Z_OK) {
    return absl::DataLossError(absl::StrFormat("cannot finish %s", path));
  }
  return absl::OkStatus();
}

}  // namespace spex

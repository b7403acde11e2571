// NumPy files as numpy writes them, for the data-file tests and the fuzz
// seeds: an .npy image (format 1.0) and an .npz archive whose members carry
// ZIP64 extras with their sizes, as numpy.savez writes them.
#ifndef SPEX_TESTS_TOOLS_DATA_NUMPY_FILES_H_
#define SPEX_TESTS_TOOLS_DATA_NUMPY_FILES_H_

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"

namespace spex {

inline std::string Npy(const std::string& descr, const std::string& shape,
                       const std::string& data, bool fortran = false) {
  std::string header =
      absl::StrFormat("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                      descr, fortran ? "True" : "False", shape);
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

template <typename T>
inline std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

inline void Put(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out->push_back(static_cast<char>(v >> (8 * i)));
}

// A zip as numpy.savez writes one: each member with a ZIP64 extra holding
// its sizes, stored or deflated (raw deflate).
inline std::string Zip(
    const std::vector<std::pair<std::string, std::string>>& members,
    bool deflated) {
  std::string zip;
  for (const auto& [name, data] : members) {
    std::string body = data;
    if (deflated) {
      z_stream z{};
      // zlib fails here only without memory: nothing a test could go on
      // from.
      if (deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
          Z_OK) {
        std::abort();
      }
      body.resize(deflateBound(&z, data.size()));
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      z.avail_in = data.size();
      z.next_out = reinterpret_cast<Bytef*>(body.data());
      z.avail_out = body.size();
      if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
      body.resize(z.total_out);
      deflateEnd(&z);
    }
    Put(&zip, 0x04034b50, 4);
    Put(&zip, 45, 2);
    Put(&zip, 0, 2);
    Put(&zip, deflated ? 8 : 0, 2);
    Put(&zip, 0, 4);  // time and date
    Put(&zip,
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size()), 4);
    Put(&zip, 0xffffffffu, 4);
    Put(&zip, 0xffffffffu, 4);
    Put(&zip, name.size(), 2);
    Put(&zip, 20, 2);
    zip += name;
    Put(&zip, 1, 2);
    Put(&zip, 16, 2);
    Put(&zip, data.size(), 8);
    Put(&zip, body.size(), 8);
    zip += body;
  }
  Put(&zip, 0x02014b50, 4);  // where the central directory would start
  return zip;
}

}  // namespace spex

#endif  // SPEX_TESTS_TOOLS_DATA_NUMPY_FILES_H_

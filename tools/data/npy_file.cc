#include "tools/data/npy_file.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace spex {
namespace {

constexpr absl::string_view kMagic = "\x93NUMPY";
// No member of an .npz may inflate past this: a hostile archive's declared
// sizes are checked against it before anything is allocated.
constexpr uint64_t kMaxMemberBytes = uint64_t{4} << 30;

absl::Status Invalid(const std::string& what, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", message));
}

uint64_t Little(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The value of `key` in the header's Python dict literal, up to the next
// top-level comma (a tuple's commas are inside its parentheses).
absl::StatusOr<std::string> HeaderValue(absl::string_view header,
                                        absl::string_view key,
                                        const std::string& what) {
  const std::string quoted = absl::StrCat("'", key, "'");
  size_t at = header.find(quoted);
  if (at == absl::string_view::npos) {
    return Invalid(what, absl::StrCat("header has no ", quoted));
  }
  at = header.find(':', at + quoted.size());
  if (at == absl::string_view::npos) {
    return Invalid(what, absl::StrCat("header: ", quoted, " has no value"));
  }
  int depth = 0;
  size_t end = at + 1;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' && depth == 0) || c == '}') break;
  }
  return std::string(
      absl::StripAsciiWhitespace(header.substr(at + 1, end - at - 1)));
}

struct Dtype {
  char kind;  // 'f', 'i' or 'u'
  int bytes;
};

absl::StatusOr<Dtype> ParseDtype(const std::string& descr,
                                 const std::string& what) {
  const std::string d(absl::StripSuffix(absl::StripPrefix(descr, "'"), "'"));
  const auto unsupported = [&](const std::string& why) {
    return Invalid(
        what, absl::StrFormat("dtype %s: %s; spex reads little-endian integers "
                              "(i1-i8, u1-u8) and floats (f4, f8)",
                              d, why));
  };
  if (d.size() < 3 || (d[0] != '<' && d[0] != '|' && d[0] != '>')) {
    return unsupported("not a plain numeric type");
  }
  Dtype t{d[1], 0};
  if (!absl::SimpleAtoi(d.substr(2), &t.bytes)) {
    return unsupported("not a plain numeric type");
  }
  if (d[0] == '>' && t.bytes > 1) return unsupported("big-endian");
  const bool integer =
      (t.kind == 'i' || t.kind == 'u') &&
      (t.bytes == 1 || t.bytes == 2 || t.bytes == 4 || t.bytes == 8);
  const bool floating = t.kind == 'f' && (t.bytes == 4 || t.bytes == 8);
  if (!integer && !floating) return unsupported("not supported");
  return t;
}

float ValueAt(const unsigned char* p, const Dtype& t) {
  const uint64_t bits = Little(p, t.bytes);
  if (t.kind == 'f') {
    if (t.bytes == 4) {
      float f;
      const uint32_t b = static_cast<uint32_t>(bits);
      std::memcpy(&f, &b, 4);
      return f;
    }
    double d;
    std::memcpy(&d, &bits, 8);
    return static_cast<float>(d);
  }
  if (t.kind == 'u') return static_cast<float>(bits);
  // Sign-extend a two's complement integer of t.bytes bytes.
  const int shift = 64 - 8 * t.bytes;
  const int64_t v = static_cast<int64_t>(bits << shift) >> shift;
  return static_cast<float>(v);
}

absl::StatusOr<std::string> ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

// One member's bytes, stored or deflated, checked against its CRC-32.
absl::StatusOr<std::string> MemberBytes(absl::string_view compressed,
                                        int method, uint64_t size, uint32_t crc,
                                        const std::string& what) {
  if (size > kMaxMemberBytes) {
    return Invalid(what, absl::StrFormat("declares %d bytes, more than the %d "
                                         "spex reads from one member",
                                         size, kMaxMemberBytes));
  }
  std::string out;
  if (method == 0) {
    if (compressed.size() != size) {
      return Invalid(what, "stored member's sizes disagree");
    }
    out.assign(compressed.data(), compressed.size());
  } else if (method == 8) {
    // Deflate gives at most 1032 bytes per byte (258 from a 2-bit code):
    // a member that claims more is refused before its buffer exists.
    if (size > compressed.size() * uint64_t{1032} + 1024) {
      return Invalid(
          what, absl::StrFormat("declares %d bytes from %d deflated, more than "
                                "deflate can give",
                                size, compressed.size()));
    }
    out.resize(size);
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
      return absl::InternalError("zlib: inflateInit2 failed");
    }
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    z.avail_in = static_cast<uInt>(compressed.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    // The output buffer is exactly the declared size: a member that
    // inflates past it stops here rather than growing.
    const int result = inflate(&z, Z_FINISH);
    const uint64_t produced = z.total_out;
    inflateEnd(&z);
    if (result != Z_STREAM_END || produced != size) {
      return Invalid(what,
                     absl::StrFormat("deflated data is corrupt or not %d bytes "
                                     "(zlib %d after %d bytes)",
                                     size, result, produced));
    }
  } else {
    return Invalid(what, absl::StrFormat("compression method %d; spex reads "
                                         "stored (0) and deflated (8) "
                                         "members",
                                         method));
  }
  const uint32_t actual = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(out.data()),
            static_cast<uInt>(out.size())));
  if (actual != crc) {
    return Invalid(what, absl::StrFormat("CRC-32 %08x, the header says %08x",
                                         actual, crc));
  }
  return out;
}

}  // namespace

absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes,
                                  const std::string& what) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) {
    return Invalid(what, "not a .npy array (no \\x93NUMPY magic)");
  }
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = u[6];
  size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = Little(u + 8, 2);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Invalid(what, "truncated header");
    header_len = Little(u + 8, 4);
    header_at = 12;
  } else {
    return Invalid(what, absl::StrFormat("format version %d.%d; spex reads "
                                         "1.0 to 3.0",
                                         major, u[7]));
  }
  if (header_len > bytes.size() - header_at) {
    return Invalid(what, "truncated header");
  }
  const absl::string_view header = bytes.substr(header_at, header_len);
  NpyArray array;
  const auto descr = HeaderValue(header, "descr", what);
  if (!descr.ok()) return descr.status();
  const auto fortran = HeaderValue(header, "fortran_order", what);
  if (!fortran.ok()) return fortran.status();
  const auto shape = HeaderValue(header, "shape", what);
  if (!shape.ok()) return shape.status();
  if (*fortran != "False") {
    return Invalid(what, "fortran_order is " + *fortran +
                             "; save the array in C order "
                             "(numpy.ascontiguousarray)");
  }
  const auto dtype = ParseDtype(*descr, what);
  if (!dtype.ok()) return dtype.status();
  array.dtype =
      std::string(absl::StripSuffix(absl::StripPrefix(*descr, "'"), "'"));
  array.is_integer = dtype->kind != 'f';
  absl::string_view dims = *shape;
  if (!absl::ConsumePrefix(&dims, "(") || !absl::ConsumeSuffix(&dims, ")")) {
    return Invalid(what, "shape " + *shape + " is not a tuple");
  }
  const uint64_t data_bytes = bytes.size() - header_at - header_len;
  uint64_t count = 1;
  for (absl::string_view dim :
       absl::StrSplit(dims, ',', absl::SkipWhitespace())) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(dim), &n) || n < 0) {
      return Invalid(what, "shape " + *shape + " is not a tuple of sizes");
    }
    array.shape.push_back(n);
    // Checked against the bytes present as it grows: no overflow, and no
    // allocation larger than the file.
    if (n != 0 && count > data_bytes / static_cast<uint64_t>(n)) {
      return Invalid(what, absl::StrFormat("shape %s needs more than the %d "
                                           "bytes present",
                                           *shape, data_bytes));
    }
    count *= static_cast<uint64_t>(n);
  }
  if (count * dtype->bytes != data_bytes) {
    return Invalid(
        what,
        absl::StrFormat("shape %s of %s needs %d bytes of data, the "
                        "file has %d",
                        *shape, array.dtype, count * dtype->bytes, data_bytes));
  }
  array.values.resize(count);
  const unsigned char* data = u + header_at + header_len;
  for (uint64_t i = 0; i < count; ++i) {
    array.values[i] = ValueAt(data + i * dtype->bytes, *dtype);
  }
  return array;
}

absl::StatusOr<NpyArray> ReadNpyFile(const std::string& path) {
  const auto bytes = ReadBytes(path);
  if (!bytes.ok()) return bytes.status();
  return ParseNpy(*bytes, path);
}

absl::StatusOr<std::map<std::string, NpyArray>> ReadNpzFile(
    const std::string& path) {
  const auto bytes = ReadBytes(path);
  if (!bytes.ok()) return bytes.status();
  return ParseNpz(*bytes, path);
}

absl::StatusOr<std::map<std::string, NpyArray>> ParseNpz(
    absl::string_view zip, const std::string& path) {
  const auto* u = reinterpret_cast<const unsigned char*>(zip.data());
  std::map<std::string, NpyArray> members;
  size_t at = 0;
  // The local file headers in order; the central directory (signature
  // 0x02014b50) ends them.
  while (at + 4 <= zip.size() && Little(u + at, 4) == 0x04034b50) {
    if (at + 30 > zip.size()) return Invalid(path, "truncated zip header");
    const int flags = static_cast<int>(Little(u + at + 6, 2));
    const int method = static_cast<int>(Little(u + at + 8, 2));
    const uint32_t crc = static_cast<uint32_t>(Little(u + at + 14, 4));
    uint64_t compressed = Little(u + at + 18, 4);
    uint64_t size = Little(u + at + 22, 4);
    const size_t name_len = Little(u + at + 26, 2);
    const size_t extra_len = Little(u + at + 28, 2);
    if (at + 30 + name_len + extra_len > zip.size()) {
      return Invalid(path, "truncated zip header");
    }
    const std::string name(zip.substr(at + 30, name_len));
    const std::string what = absl::StrCat(path, ": member ", name);
    if (flags & 1) return Invalid(what, "encrypted");
    if (flags & 8) {
      return Invalid(what,
                     "sizes follow the data (a streamed zip); write "
                     "the archive with numpy.savez to a file");
    }
    // ZIP64 (numpy.savez writes every member so): the real sizes in the
    // extra field 0x0001, uncompressed first.
    const unsigned char* extra = u + at + 30 + name_len;
    for (size_t e = 0; e + 4 <= extra_len;) {
      const int id = static_cast<int>(Little(extra + e, 2));
      const size_t len = Little(extra + e + 2, 2);
      if (e + 4 + len > extra_len) break;
      if (id == 1) {
        size_t f = e + 4;
        if (size == 0xffffffffu && f + 8 <= e + 4 + len) {
          size = Little(extra + f, 8);
          f += 8;
        }
        if (compressed == 0xffffffffu && f + 8 <= e + 4 + len) {
          compressed = Little(extra + f, 8);
        }
      }
      e += 4 + len;
    }
    const size_t data_at = at + 30 + name_len + extra_len;
    if (compressed > zip.size() - data_at) {
      return Invalid(what, "truncated: the archive ends inside the member");
    }
    const auto member =
        MemberBytes(zip.substr(data_at, compressed), method, size, crc, what);
    if (!member.ok()) return member.status();
    absl::string_view key = name;
    if (!absl::ConsumeSuffix(&key, ".npy")) {
      return Invalid(what, "is not an .npy array");
    }
    auto array = ParseNpy(*member, what);
    if (!array.ok()) return array.status();
    members[std::string(key)] = *std::move(array);
    at = data_at + compressed;
  }
  if (members.empty()) {
    return Invalid(path, "not an .npz archive (no zip member at the start)");
  }
  return members;
}

}  // namespace spex

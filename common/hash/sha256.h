// SHA-256 (FIPS 180-4), for model ids. A small implementation of its own so
// that the common library needs no crypto library on the edge device; it is
// an identifier, not a security boundary, and speed is not a concern.
#ifndef SPEX_COMMON_HASH_SHA256_H_
#define SPEX_COMMON_HASH_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace spex {

class Sha256 {
 public:
  Sha256();
  void Update(absl::string_view bytes);
  // The digest of everything passed to Update. Call once.
  std::array<uint8_t, 32> Finish();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lower-case hex digest of `bytes`, 64 characters.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace spex

#endif  // SPEX_COMMON_HASH_SHA256_H_

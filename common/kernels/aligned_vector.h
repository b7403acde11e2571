// std::vector with cache-line-aligned storage, for packed weights and
// activations that SIMD kernels stream through.
#ifndef SPEX_COMMON_KERNELS_ALIGNED_VECTOR_H_
#define SPEX_COMMON_KERNELS_ALIGNED_VECTOR_H_

#include <cstddef>
#include <new>
#include <vector>

namespace spex {

inline constexpr size_t kCacheLineBytes = 64;

template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    return static_cast<T*>(
        ::operator new (n * sizeof(T), std::align_val_t{kCacheLineBytes}));
  }
  void deallocate(T* p, size_t) {
    ::operator delete (p, std::align_val_t{kCacheLineBytes});
  }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheAlignedAllocator<U>&) const {
    return false;
  }
};

template <typename T>
using AlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_ALIGNED_VECTOR_H_

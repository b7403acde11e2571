#include "common/daemon/memory_returner.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace spex {

int64_t ResidentBytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  long size = 0, resident = 0;
  const int read = std::fscanf(statm, "%ld %ld", &size, &resident);
  std::fclose(statm);
  if (read != 2) return 0;
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

bool MemoryReturner::Tick() {
#if defined(__GLIBC__)
  const int64_t resident = ResidentBytes();
  if (settled_ < 0) settled_ = resident;
  if (resident > settled_ + kGrowthBytes) ticks_left_ = kTrimTicks;
  if (ticks_left_ == 0) {
    settled_ = std::min(settled_, resident);
    return false;
  }
  --ticks_left_;
  malloc_trim(0);
  settled_ = ResidentBytes();
  return true;
#else
  return false;
#endif
}

}  // namespace spex

// Hands memory freed after a burst back to the system. glibc keeps what is
// freed in its arenas: 16 oversized requests refused at once left
// spex-cloud at 85 MB of RSS against 20 MB before, and malloc_trim(0)
// brought it back to 21 (docs/RELIABILITY.md). Trimming on every free would
// cost the serving path, and glibc reports free memory for its main arena
// only, so the trigger is the resident size: when it has grown since the
// last trim, trim every tick for a few seconds, through the burst and
// after it, while its memory is freed. Steady load, whose size does not
// grow, is left alone.
#ifndef SPEX_COMMON_DAEMON_MEMORY_RETURNER_H_
#define SPEX_COMMON_DAEMON_MEMORY_RETURNER_H_

#include <cstdint>

namespace spex {

class MemoryReturner {
 public:
  // Growth of the resident size since the last trim that starts trimming.
  static constexpr int64_t kGrowthBytes = int64_t{8} << 20;
  // Ticks of trimming after growth was last seen.
  static constexpr int kTrimTicks = 10;

  // Call periodically (the daemons: every second, from the thread that
  // waits for signals). True when it trimmed.
  bool Tick();

 private:
  int64_t settled_ = -1;  // the resident size after the last trim
  int ticks_left_ = 0;
};

// This process's resident size in bytes; 0 when /proc cannot say.
int64_t ResidentBytes();

}  // namespace spex

#endif  // SPEX_COMMON_DAEMON_MEMORY_RETURNER_H_

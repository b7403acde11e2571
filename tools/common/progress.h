// Progress of long work (an epoch, a replay): a bar redrawn in place on a
// terminal, plain lines every few seconds otherwise (logs, CI).
#ifndef SPEX_TOOLS_COMMON_PROGRESS_H_
#define SPEX_TOOLS_COMMON_PROGRESS_H_

#include <chrono>
#include <string>

namespace spex {

class Progress {
 public:
  // `label` prefixes every line; `total` units of work (batches).
  Progress(std::string label, long total, bool enabled = true);
  // `done` units so far; `detail` (e.g. "loss 0.41, 12,000 samples/s")
  // follows the bar. Redraws at most 10 times a second.
  void Update(long done, const std::string& detail);
  // Ends the bar with a final line.
  void Finish(const std::string& detail);

 private:
  void Draw(long done, const std::string& detail, bool final);

  std::string label_;
  long total_;
  bool enabled_;
  bool terminal_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_PROGRESS_H_

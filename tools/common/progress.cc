#include "tools/common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace spex {

Progress::Progress(std::string label, long total, bool enabled)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      enabled_(enabled),
      terminal_(::isatty(STDERR_FILENO) != 0),
      last_draw_(std::chrono::steady_clock::now()) {}

void Progress::Update(long done, const std::string& detail) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // A terminal redraws often; a log gets a line every 5 seconds at most.
  const auto interval = terminal_ ? std::chrono::milliseconds(100)
                                  : std::chrono::milliseconds(5000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  Draw(done, detail, false);
}

void Progress::Finish(const std::string& detail) {
  if (!enabled_) return;
  Draw(total_, detail, true);
}

void Progress::Draw(long done, const std::string& detail, bool final) {
  const int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total_);
  if (terminal_) {
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %ld/%ld %s%s", label_.c_str(),
                 bar.c_str(), done, total_, detail.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s %ld/%ld %s\n", label_.c_str(), done, total_,
                 detail.c_str());
  }
  std::fflush(stderr);
}

}  // namespace spex

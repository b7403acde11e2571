// Calls a function when files in a directory change, debounced: a burst of
// events (a copy written in pieces, several files replaced) produces one
// call, `debounce` after the last event. Linux inotify.
#ifndef SPEX_CLOUD_SERVICE_DIRECTORY_WATCHER_H_
#define SPEX_CLOUD_SERVICE_DIRECTORY_WATCHER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace spex {

class DirectoryWatcher {
 public:
  // `on_change` runs on the watcher's own thread.
  static absl::StatusOr<std::unique_ptr<DirectoryWatcher>> Start(
      const std::string& directory, absl::Duration debounce,
      std::function<void()> on_change);
  // Stops and joins the thread.
  ~DirectoryWatcher();

 private:
  DirectoryWatcher(int fd, absl::Duration debounce,
                   std::function<void()> on_change);
  void Loop();

  const int fd_;
  const absl::Duration debounce_;
  const std::function<void()> on_change_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_DIRECTORY_WATCHER_H_

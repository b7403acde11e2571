#include "cloud_service/directory_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace spex {
namespace {

// How often the thread looks at its stop flag when nothing happens.
constexpr int kPollMillis = 100;

}  // namespace

absl::StatusOr<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::Start(
    const std::string& directory, absl::Duration debounce,
    std::function<void()> on_change) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrFormat("inotify_init1: %s", std::strerror(errno)));
  }
  constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                               IN_DELETE | IN_CREATE | IN_ATTRIB;
  if (::inotify_add_watch(fd, directory.c_str(), kEvents) < 0) {
    const int error = errno;
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot watch '%s': %s", directory, std::strerror(error)));
  }
  return std::unique_ptr<DirectoryWatcher>(
      new DirectoryWatcher(fd, debounce, std::move(on_change)));
}

DirectoryWatcher::DirectoryWatcher(int fd, absl::Duration debounce,
                                   std::function<void()> on_change)
    : fd_(fd), debounce_(debounce), on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { Loop(); });
}

DirectoryWatcher::~DirectoryWatcher() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void DirectoryWatcher::Loop() {
  bool dirty = false;
  absl::Time last_event;
  alignas(struct inotify_event) char buffer[4096];
  while (!stop_) {
    struct pollfd pfd = {fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, kPollMillis);
    if (ready > 0) {
      while (::read(fd_, buffer, sizeof(buffer)) > 0) {
      }
      dirty = true;
      last_event = absl::Now();
      continue;
    }
    if (dirty && absl::Now() - last_event >= debounce_) {
      dirty = false;
      on_change_();
    }
  }
}

}  // namespace spex

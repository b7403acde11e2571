#include "tools/proxy/tcp_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/str_format.h"

namespace spex {
namespace {

struct Chunk {
  std::chrono::steady_clock::time_point due;
  std::string bytes;
};

int Connect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    const std::string& upstream, int listen_port) {
  const size_t colon = upstream.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      colon + 1 == upstream.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("upstream '%s' is not host:port", upstream));
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  const int yes = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(listen_port));
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address),
             sizeof(address)) != 0 ||
      ::listen(listener, 64) != 0) {
    const int error = errno;
    ::close(listener);
    return absl::UnavailableError(
        absl::StrFormat("cannot listen on 127.0.0.1:%d: %s", listen_port,
                        std::strerror(error)));
  }
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(upstream.substr(0, colon), upstream.substr(colon + 1),
                   listener, ntohs(address.sin_port)));
}

TcpProxy::TcpProxy(std::string host, std::string port, int listener,
                   int listen_port)
    : upstream_host_(std::move(host)),
      upstream_port_(std::move(port)),
      listener_(listener),
      port_(listen_port) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  acceptor_.join();
  ::close(listener_);
  std::vector<std::thread> pumps;
  {
    absl::MutexLock lock(&mutex_);
    pumps.swap(pumps_);
  }
  for (std::thread& pump : pumps) pump.join();
}

void TcpProxy::set_delay(absl::Duration delay) {
  delay_us_ = absl::ToInt64Microseconds(delay);
}

void TcpProxy::CutConnections() {
  absl::MutexLock lock(&mutex_);
  // shutdown, not close: the pumps still own the descriptors and close them
  // once both directions have ended.
  for (int fd : open_sockets_) ::shutdown(fd, SHUT_RDWR);
}

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    pollfd pfd{listener_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    const int upstream = Connect(upstream_host_, upstream_port_);
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    ++connections_;
    // Forward each chunk at once: Nagle's algorithm would hold small
    // messages for the peer's delayed acknowledgement (tens of ms).
    const int yes = 1;
    for (int fd : {client, upstream}) {
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    }
    auto closed = std::make_shared<std::atomic<int>>(0);
    absl::MutexLock lock(&mutex_);
    open_sockets_.push_back(client);
    open_sockets_.push_back(upstream);
    pumps_.emplace_back([this, client, upstream, closed] {
      Pump(client, upstream, &bytes_up_, closed);
    });
    pumps_.emplace_back([this, client, upstream, closed] {
      Pump(upstream, client, &bytes_down_, closed);
    });
  }
}

// Copies from -> to, each chunk held until its due time. The second pump
// of a connection to finish closes both sockets.
void TcpProxy::Pump(int from, int to, std::atomic<int64_t>* counter,
                    std::shared_ptr<std::atomic<int>> closed) {
  std::deque<Chunk> held;
  bool open = true;
  char buffer[65536];
  while (!stop_ && (open || !held.empty())) {
    const auto now = std::chrono::steady_clock::now();
    while (!held.empty() && held.front().due <= now) {
      const std::string& bytes = held.front().bytes;
      size_t sent = 0;
      while (sent < bytes.size()) {
        const ssize_t n =
            ::send(to, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      *counter += static_cast<int64_t>(sent);
      if (sent < bytes.size()) {
        open = false;
        held.clear();
        break;
      }
      held.pop_front();
    }
    if (!open) break;
    // Wait for input, or until the next held chunk is due.
    int timeout_ms = 50;
    if (!held.empty()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(
                 held.front().due - now)
                 .count()));
      timeout_ms = std::min(timeout_ms, 1);
    }
    pollfd pfd{from, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) > 0) {
      const ssize_t n = ::recv(from, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        open = false;
      } else {
        held.push_back({std::chrono::steady_clock::now() +
                            std::chrono::microseconds(delay_us_.load()),
                        std::string(buffer, static_cast<size_t>(n))});
      }
    }
  }
  ::shutdown(to, SHUT_WR);
  if (++*closed == 2) {
    absl::MutexLock lock(&mutex_);
    for (int fd : {from, to}) {
      open_sockets_.erase(
          std::remove(open_sockets_.begin(), open_sockets_.end(), fd),
          open_sockets_.end());
      ::close(fd);
    }
  }
}

}  // namespace spex

// A TCP proxy on loopback for tests: forwards each connection to an
// upstream port, holding every chunk for a delay that the test can change
// while traffic flows (a slow or congested link).
#ifndef SPEX_TESTS_INTEGRATION_DELAY_PROXY_H_
#define SPEX_TESTS_INTEGRATION_DELAY_PROXY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace spex {

class DelayProxy {
 public:
  explicit DelayProxy(int upstream_port) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(listener_, 64);
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~DelayProxy() {
    stop_ = true;
    acceptor_.join();
    ::close(listener_);
    for (auto& thread : pumps_) thread.join();
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }

 private:
  struct Chunk {
    std::chrono::steady_clock::time_point due;
    std::string bytes;
  };

  void AcceptLoop() {
    while (!stop_) {
      pollfd pfd{listener_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<uint16_t>(upstream_port_));
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&address),
                    sizeof(address)) != 0) {
        ::close(client);
        ::close(upstream);
        continue;
      }
      auto closed = std::make_shared<std::atomic<int>>(0);
      pumps_.emplace_back([this, client, upstream, closed] {
        Pump(client, upstream, closed);
      });
      pumps_.emplace_back([this, client, upstream, closed] {
        Pump(upstream, client, closed);
      });
    }
  }

  // Copies from -> to, each chunk held until its due time. The second pump
  // of a connection to finish closes both sockets.
  void Pump(int from, int to, std::shared_ptr<std::atomic<int>> closed) {
    std::deque<Chunk> held;
    bool open = true;
    char buffer[65536];
    while (!stop_ && (open || !held.empty())) {
      const auto now = std::chrono::steady_clock::now();
      while (!held.empty() && held.front().due <= now) {
        const std::string& bytes = held.front().bytes;
        size_t sent = 0;
        while (sent < bytes.size()) {
          const ssize_t n = ::send(to, bytes.data() + sent, bytes.size() - sent,
                                   MSG_NOSIGNAL);
          if (n <= 0) {
            open = false;
            held.clear();
            break;
          }
          sent += static_cast<size_t>(n);
        }
        if (!held.empty()) held.pop_front();
      }
      if (!open) break;
      pollfd pfd{from, POLLIN, 0};
      if (::poll(&pfd, 1, 1) > 0) {
        const ssize_t n = ::recv(from, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          open = false;
        } else {
          held.push_back({now + std::chrono::milliseconds(delay_ms_.load()),
                          std::string(buffer, static_cast<size_t>(n))});
        }
      }
    }
    ::shutdown(to, SHUT_WR);
    if (++*closed == 2) {
      ::close(from);
      ::close(to);
    }
  }

  const int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> delay_ms_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

}  // namespace spex

#endif  // SPEX_TESTS_INTEGRATION_DELAY_PROXY_H_

// A TCP proxy that stands for the network between the edge and the cloud:
// forwards each connection to an upstream address, holds every chunk for a
// delay that can change while traffic flows (a slow or congested link),
// counts the bytes each way (what the wire carried, measured at the
// socket), and can cut every open connection (a link that drops).
// Used by spex-proxy (benchmarks, fault runs) and the tests.
#ifndef SPEX_TOOLS_PROXY_TCP_PROXY_H_
#define SPEX_TOOLS_PROXY_TCP_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace spex {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:`listen_port` (0: any free port) and forwards to
  // `upstream` ("host:port"). An error names what failed.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(
      const std::string& upstream, int listen_port = 0);
  // Closes the listener and every connection.
  ~TcpProxy();

  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Each direction holds a chunk this long (the round trip grows by twice).
  void set_delay(absl::Duration delay);
  // Closes every open connection now (new ones are still accepted).
  void CutConnections();

  // Bytes forwarded client -> upstream and back, connections accepted.
  int64_t bytes_up() const { return bytes_up_; }
  int64_t bytes_down() const { return bytes_down_; }
  int64_t connections() const { return connections_; }

 private:
  TcpProxy(std::string host, std::string port, int listener, int listen_port);
  void AcceptLoop();
  void Pump(int from, int to, std::atomic<int64_t>* counter,
            std::shared_ptr<std::atomic<int>> closed);

  const std::string upstream_host_;
  const std::string upstream_port_;
  const int listener_;
  const int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> delay_us_{0};
  std::atomic<int64_t> bytes_up_{0};
  std::atomic<int64_t> bytes_down_{0};
  std::atomic<int64_t> connections_{0};
  absl::Mutex mutex_;
  std::vector<int> open_sockets_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mutex_);
  std::thread acceptor_;
};

}  // namespace spex

#endif  // SPEX_TOOLS_PROXY_TCP_PROXY_H_

// spex-proxy: the network between an edge agent and the cloud, for
// benchmarks and fault runs: a TCP proxy on loopback that delays each
// direction, counts the bytes it forwards, and follows a schedule.
//
//   spex-proxy --upstream=HOST:PORT [--listen_port=0] [--delay_ms=0]
//              [--schedule=SECONDS:DELAY_MS,...] [--port_file=F]
//              [--stats_file=F]
//
// --schedule changes the delay at the given seconds after start ("20:50,40:5":
// 50 ms from second 20, 5 ms from second 40); a step "SECONDS:cut" closes
// every open connection then (a link that drops). --stats_file is rewritten
// every 100 ms and at exit with one JSON object: bytes up (edge to cloud)
// and down, connections. SIGTERM or SIGINT ends it.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/common/args.h"
#include "tools/proxy/tcp_proxy.h"

namespace spex {
namespace {

volatile std::sig_atomic_t stop_requested = 0;

void WriteStats(const std::string& path, const TcpProxy& proxy) {
  if (path.empty()) return;
  const std::string temporary = path + ".tmp";
  std::ofstream(temporary) << absl::StrFormat(
      "{\"bytes_up\": %d, \"bytes_down\": %d, \"connections\": %d}\n",
      proxy.bytes_up(), proxy.bytes_down(), proxy.connections());
  std::rename(temporary.c_str(), path.c_str());
}

int Run(int argc, char** argv) {
  Args args;
  args.Option("upstream", "", "host:port to forward to (required)")
      .Option("listen_port", "0", "port on 127.0.0.1; 0 picks a free one")
      .Option("delay_ms", "0", "delay of each direction, milliseconds")
      .Option("schedule", "",
              "SECONDS:DELAY_MS or SECONDS:cut, ...: changes after start")
      .Option("port_file", "", "write the port here once listening")
      .Option("stats_file", "", "JSON byte counts, rewritten every 100 ms");
  absl::Status parsed = args.Parse(argc, argv, 1);
  absl::StatusOr<long> port = args.GetInt("listen_port");
  absl::StatusOr<double> delay = args.GetDouble("delay_ms");
  // (seconds after start, delay ms; a negative delay: cut)
  std::vector<std::pair<double, double>> schedule;
  for (absl::string_view step :
       absl::StrSplit(args.Get("schedule"), ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(step, ':');
    double at = 0, ms = -1;
    if (!absl::SimpleAtod(parts.first, &at) || at < 0 ||
        (parts.second != "cut" &&
         (!absl::SimpleAtod(parts.second, &ms) || ms < 0))) {
      parsed = absl::InvalidArgumentError(absl::StrFormat(
          "--schedule step '%s' is not SECONDS:DELAY_MS or SECONDS:cut", step));
    }
    schedule.emplace_back(at, ms);
  }
  if (parsed.ok() && (args.Get("upstream").empty() || !port.ok() ||
                      !delay.ok() || *delay < 0)) {
    parsed = absl::InvalidArgumentError(
        "--upstream is required; --listen_port and --delay_ms are numbers >= "
        "0");
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "spex-proxy: %s\n\n%s",
                 std::string(parsed.message()).c_str(), args.Help().c_str());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy =
      TcpProxy::Start(args.Get("upstream"), static_cast<int>(*port));
  if (!proxy.ok()) {
    std::fprintf(stderr, "spex-proxy: %s\n",
                 std::string(proxy.status().message()).c_str());
    return 1;
  }
  (*proxy)->set_delay(absl::Milliseconds(*delay));
  if (!args.Get("port_file").empty()) {
    std::ofstream(args.Get("port_file")) << (*proxy)->port() << "\n";
  }
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  const absl::Time start = absl::Now();
  size_t next_step = 0;
  while (!stop_requested) {
    absl::SleepFor(absl::Milliseconds(100));
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    while (next_step < schedule.size() &&
           schedule[next_step].first <= elapsed) {
      const double ms = schedule[next_step].second;
      if (ms < 0) {
        (*proxy)->CutConnections();
      } else {
        (*proxy)->set_delay(absl::Milliseconds(ms));
      }
      ++next_step;
    }
    WriteStats(args.Get("stats_file"), **proxy);
  }
  WriteStats(args.Get("stats_file"), **proxy);
  return 0;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) { return spex::Run(argc, argv); }

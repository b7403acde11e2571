// spex-edge: answers applications on the device, locally when the model's
// exit is confident, with the cloud's help otherwise, and always answers.
// main() turns flags into EdgeServerOptions and signals into actions:
// SIGHUP reloads the model, SIGTERM and SIGINT drain and exit 0.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/codec/activation_codec.h"
#include "common/daemon/accuracy_flags.h"
#include "common/daemon/daemon_main.h"
#include "common/logging/log.h"
#include "edge_agent/edge_server.h"

ABSL_FLAG(std::string, model, "", "Model file (*.spex) to run. Required.");
ABSL_FLAG(std::string, socket, "/run/spex/edge.sock",
          "Unix domain socket of the local API; empty for none.");
ABSL_FLAG(std::string, socket_mode, "0660",
          "Octal permissions of the socket: who may classify.");
ABSL_FLAG(std::string, socket_group, "",
          "Group that owns the socket (with --socket_mode 0660, its members "
          "may connect); empty keeps the daemon's group.");
ABSL_FLAG(
    std::string, tcp_listen, "",
    "Also serve the local API on this TCP address (e.g. 127.0.0.1:50061; "
    "port 0 picks one, see --port_file). Unauthenticated: keep it local.");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9465",
          "Address of the Prometheus metrics endpoint (loopback by default; "
          "0.0.0.0:9465 for a Prometheus elsewhere); empty disables it.");
ABSL_FLAG(int64_t, grpc_memory_bytes, int64_t{32} << 20,
          "What gRPC's transport may hold in buffers, all connections "
          "together; past it the stream receiving the most is cancelled "
          "with RESOURCE_EXHAUSTED (docs/RELIABILITY.md: sizing).");
ABSL_FLAG(
    std::string, cloud, "",
    "Comma-separated spex-cloud endpoints (host:port or dns:///name:port); "
    "round robin over those up. Empty: never offload.");
ABSL_FLAG(
    std::string, skip_to, "",
    "In a chain: endpoints of the stage after --cloud's (comma-separated, "
    "same TLS and token flags). A sample goes there instead when --cloud "
    "refuses it or answers slower (measured round trips).");
ABSL_FLAG(bool, cloud_plaintext, false,
          "Talk to the cloud without TLS (required when not giving TLS files, "
          "so that plain text is never an accident).");
ABSL_FLAG(std::string, cloud_ca, "",
          "PEM CA bundle to verify the cloud "
          "with; empty uses the system's roots.");
ABSL_FLAG(std::string, cloud_cert, "", "PEM client certificate (mutual TLS).");
ABSL_FLAG(std::string, cloud_key, "", "PEM client key (mutual TLS).");
ABSL_FLAG(std::string, cloud_token_file, "",
          "File holding the bearer token sent to the cloud.");
ABSL_FLAG(absl::Duration, deadline, absl::Milliseconds(250),
          "How long an offloaded sample may wait for the cloud before the "
          "exit answers it (fallback); see docs/BENCHMARKS.md.");
ABSL_FLAG(std::string, placement, "split",
          "Where the network runs: split (head and exits here, the tail in "
          "the cloud), edge (all of it here; no offload) or cloud (the raw "
          "input to the cloud; the exits answer only when it cannot).");
ABSL_FLAG(bool, early_exit, true,
          "Answer from a confident exit. false: every sample takes the "
          "placement's whole network (a baseline to compare with).");
ABSL_FLAG(std::string, encoding, "int8",
          "Encoding of the split activation: int8, float16 or float32.");
ABSL_FLAG(double, threshold, -1,
          "Exit threshold replacing the model's calibrated one; -1 keeps the "
          "model's.");
ABSL_FLAG(double, offload_budget, -1,
          "Adaptive threshold: hold this fraction of samples sent to the "
          "cloud (0..1); -1: off. Excludes --latency_objective.");
ABSL_FLAG(absl::Duration, latency_objective, absl::ZeroDuration(),
          "Adaptive threshold: hold the --latency_quantile of the answer "
          "latency at this objective (more samples exit early when the cloud "
          "is slow or the queue grows); 0: off.");
ABSL_FLAG(double, latency_quantile, 0.99,
          "The latency quantile --latency_objective holds.");
ABSL_FLAG(double, controller_gain, 0.002,
          "Threshold change per sample and unit of error, for the adaptive "
          "threshold.");
ABSL_FLAG(double, threshold_min, 0.0,
          "Lowest threshold the adaptive threshold may set.");
ABSL_FLAG(double, threshold_max, 1.0,
          "Highest threshold the adaptive threshold may set.");
ABSL_FLAG(
    int, max_queued, 256,
    "Samples accepted and not yet answered (most wait for the cloud); "
    "beyond, Classify gets RESOURCE_EXHAUSTED (or see --local_when_full).");
ABSL_FLAG(bool, local_when_full, false,
          "When --max_queued samples are in the agent, answer new ones from "
          "the exit at once (local, or fallback with reason queue_full; "
          "always fallback with --early_exit=false or --placement=cloud, "
          "where no exit answers otherwise) instead of RESOURCE_EXHAUSTED.");
ABSL_FLAG(double, audit_fraction, 0.01,
          "Fraction of local answers also sent to the cloud, to count how "
          "often the exit agrees with the full network (without "
          "--accuracy_objective, which chooses its own rate).");
ABSL_FLAG(
    int, breaker_failures, 5,
    "Consecutive cloud failures that stop offloading for --breaker_open.");
ABSL_FLAG(absl::Duration, breaker_open, absl::Seconds(2),
          "How long offloading stays stopped before one probe is let through.");
ABSL_FLAG(absl::Duration, reconnect_backoff_max, absl::Seconds(5),
          "Longest wait between reconnection attempts to a cloud endpoint "
          "(the wait doubles from 100ms, with jitter); also how often an "
          "endpoint serving another model is checked again.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM, how long streams may take to finish.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound TCP and metrics ports are written there, one per "
          "line, once serving.");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "spex-edge: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  spex::ParseDaemonFlags(
      argc, argv,
      "Answers applications on the device: locally when the model's exit is "
      "confident, with spex-cloud otherwise.\n"
      "Usage: spex-edge --model=FILE [--cloud=HOST:PORT ...] [flags]\n"
      "or: spex-edge --flagfile=FILE",
      "edge_main.cc");

  spex::EdgeServerOptions options;
  options.model_path = absl::GetFlag(FLAGS_model);
  if (options.model_path.empty()) return Fail("--model is required");
  options.socket_path = absl::GetFlag(FLAGS_socket);
  const std::string mode_text = absl::GetFlag(FLAGS_socket_mode);
  char* end = nullptr;
  const long mode = std::strtol(mode_text.c_str(), &end, 8);
  if (mode_text.empty() || *end != '\0' || mode < 0 || mode > 0777) {
    return Fail("--socket_mode '" + mode_text + "' is not an octal mode");
  }
  options.socket_mode = static_cast<int>(mode);
  options.socket_group = absl::GetFlag(FLAGS_socket_group);
  options.tcp_address = absl::GetFlag(FLAGS_tcp_listen);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_listen);
  options.grpc_memory_bytes = absl::GetFlag(FLAGS_grpc_memory_bytes);
  for (absl::string_view endpoint :
       absl::StrSplit(absl::GetFlag(FLAGS_cloud), ',', absl::SkipEmpty())) {
    options.cloud_endpoints.emplace_back(endpoint);
  }
  for (absl::string_view endpoint :
       absl::StrSplit(absl::GetFlag(FLAGS_skip_to), ',', absl::SkipEmpty())) {
    options.skip_endpoints.emplace_back(endpoint);
  }
  if (!options.skip_endpoints.empty() && options.cloud_endpoints.empty()) {
    return Fail("--skip_to needs --cloud");
  }
  options.cloud_link.plaintext = absl::GetFlag(FLAGS_cloud_plaintext);
  options.cloud_link.ca_file = absl::GetFlag(FLAGS_cloud_ca);
  options.cloud_link.cert_file = absl::GetFlag(FLAGS_cloud_cert);
  options.cloud_link.key_file = absl::GetFlag(FLAGS_cloud_key);
  options.cloud_link.token_file = absl::GetFlag(FLAGS_cloud_token_file);
  options.cloud.deadline = absl::GetFlag(FLAGS_deadline);
  options.cloud.breaker_failures = absl::GetFlag(FLAGS_breaker_failures);
  options.cloud.breaker_open_time = absl::GetFlag(FLAGS_breaker_open);
  options.cloud.backoff_max = absl::GetFlag(FLAGS_reconnect_backoff_max);
  if (options.cloud.backoff_max < options.cloud.backoff_initial) {
    return Fail("--reconnect_backoff_max is at least 100ms");
  }
  absl::StatusOr<spex::v1::Encoding> encoding =
      spex::ParseEncoding(absl::GetFlag(FLAGS_encoding));
  if (!encoding.ok() || *encoding == spex::v1::ENCODING_UINT8) {
    return Fail("--encoding: int8, float16 or float32");
  }
  options.agent.encoding = *encoding;
  const std::string placement = absl::GetFlag(FLAGS_placement);
  if (placement == "split") {
    options.agent.placement = spex::Placement::kSplit;
  } else if (placement == "edge") {
    options.agent.placement = spex::Placement::kEdge;
  } else if (placement == "cloud") {
    options.agent.placement = spex::Placement::kCloud;
    if (options.cloud_endpoints.empty()) {
      return Fail("--placement=cloud needs --cloud");
    }
  } else {
    return Fail("--placement: split, edge or cloud");
  }
  options.agent.early_exit = absl::GetFlag(FLAGS_early_exit);
  const double threshold = absl::GetFlag(FLAGS_threshold);
  if (threshold >= 0) {
    if (threshold > 1) return Fail("--threshold is in [0, 1] (or -1)");
    options.agent.threshold = static_cast<float>(threshold);
  }
  const double budget = absl::GetFlag(FLAGS_offload_budget);
  const absl::Duration objective = absl::GetFlag(FLAGS_latency_objective);
  if (budget >= 0 || objective > absl::ZeroDuration()) {
    if (budget >= 0 && objective > absl::ZeroDuration()) {
      return Fail(
          "--offload_budget and --latency_objective exclude each other");
    }
    spex::ThresholdControllerOptions controller;
    controller.target =
        budget >= 0 ? spex::ThresholdControllerOptions::Target::kOffloadBudget
                    : spex::ThresholdControllerOptions::Target::kLatency;
    if (budget >= 0) controller.offload_budget = budget;
    controller.latency = objective;
    controller.latency_quantile = absl::GetFlag(FLAGS_latency_quantile);
    controller.gain = absl::GetFlag(FLAGS_controller_gain);
    controller.min_threshold = absl::GetFlag(FLAGS_threshold_min);
    controller.max_threshold = absl::GetFlag(FLAGS_threshold_max);
    if (absl::Status valid = controller.Check(); !valid.ok()) {
      return Fail(std::string(valid.message()));
    }
    options.agent.controller = controller;
  }
  options.agent.max_queued = absl::GetFlag(FLAGS_max_queued);
  options.agent.local_when_full = absl::GetFlag(FLAGS_local_when_full);
  options.agent.audit_fraction = absl::GetFlag(FLAGS_audit_fraction);
  if (options.agent.max_queued < 1 || !(options.agent.audit_fraction >= 0 &&
                                        options.agent.audit_fraction <= 1)) {
    return Fail("--max_queued is at least 1, --audit_fraction in [0, 1]");
  }
  absl::StatusOr<std::optional<spex::AccuracyObjectiveOptions>> accuracy =
      spex::AccuracyObjectiveFromFlags(absl::GetFlag(FLAGS_threshold_min),
                                       absl::GetFlag(FLAGS_threshold_max));
  if (!accuracy.ok()) return Fail(std::string(accuracy.status().message()));
  options.agent.accuracy = *accuracy;
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  options.version = SPEX_VERSION;

  absl::StatusOr<std::unique_ptr<spex::EdgeServer>> server =
      spex::EdgeServer::Start(options);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  spex::LogInfo(absl::StrFormat(
      "spex-edge %s serving on %s%s (metrics port %d), cloud: %s",
      options.version, options.socket_path,
      options.tcp_address.empty()
          ? ""
          : absl::StrFormat(" and TCP port %d", (*server)->tcp_port()),
      (*server)->metrics_port(),
      options.cloud_endpoints.empty() ? "none" : absl::GetFlag(FLAGS_cloud)));
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty() &&
      !spex::WritePortFile(port_file, (*server)->tcp_port(),
                           (*server)->metrics_port())) {
    return Fail("cannot write --port_file " + port_file);
  }

  spex::WaitForSignals([&] { (void)(*server)->Reload(); },
                       [&] { (*server)->Shutdown(); });
  return 0;
}

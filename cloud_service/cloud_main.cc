// spex-cloud: finishes inference on split activations sent by edge agents.
// main() turns flags into CloudServerOptions and signals into actions:
// SIGHUP reloads the model directory, SIGTERM and SIGINT drain and exit 0.
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cloud_service/cloud_server.h"
#include "common/codec/activation_codec.h"
#include "common/daemon/accuracy_flags.h"
#include "common/daemon/daemon_main.h"
#include "common/logging/log.h"

ABSL_FLAG(std::string, model_dir, "",
          "Directory of model files (*.spex) to serve, keyed by model id. "
          "Reloaded on SIGHUP and when its files change.");
ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "Address for gRPC: SplitInference, the Open Inference Protocol, "
          "health and reflection. Port 0 picks a free port (see --port_file).");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Address of the Prometheus metrics endpoint (/metrics; loopback by "
          "default; in a container or pod 0.0.0.0:9464, so that Prometheus "
          "can scrape the pod's address); empty disables it.");
ABSL_FLAG(bool, plaintext, false,
          "Serve without TLS. Required to run without --tls_cert/--tls_key, "
          "so that plain text is never an accident.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the server.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of the server.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it "
          "signed (mutual TLS).");
ABSL_FLAG(std::string, token_file, "",
          "File of accepted bearer tokens, one per line ('#' comments). When "
          "set, every call but health needs 'authorization: Bearer <token>'.");
ABSL_FLAG(int, workers, 0,
          "Inference worker threads; 0 means one per CPU core.");
ABSL_FLAG(absl::Duration, batch_window, absl::ZeroDuration(),
          "How long a worker waits for more samples to fill a batch of 64 "
          "after the oldest arrived. 0 runs at once what is queued (batches "
          "still form under load); see docs/BENCHMARKS.md.");
ABSL_FLAG(int, max_queued_samples, 8192,
          "Samples that may wait for a worker; beyond, requests get "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_samples_per_request, 1024, "Samples one request may carry.");
ABSL_FLAG(int, max_message_bytes, 4 << 20,
          "Largest request message accepted (bytes); larger ones get "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, grpc_memory_bytes, int64_t{128} << 20,
          "What gRPC's transport may hold in buffers, all connections "
          "together; past it the stream receiving the most is cancelled "
          "with RESOURCE_EXHAUSTED (docs/RELIABILITY.md: sizing).");
ABSL_FLAG(absl::Duration, reload_debounce, absl::Milliseconds(500),
          "Reload the models once the directory has been quiet this long; 0 "
          "disables watching (SIGHUP still reloads).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM, how long calls in flight may take to finish before "
          "they are cancelled.");
ABSL_FLAG(int, stage, 0,
          "This server's stage in a chain (the edge is stage 1): with --next, "
          "it runs its stage's layers and exits and sends the rest on. 0 "
          "means each model's last stage.");
ABSL_FLAG(std::string, next, "",
          "The next stage's endpoints, comma-separated (host:port or any gRPC "
          "target): makes this server a middle stage. Empty: the last stage.");
ABSL_FLAG(bool, next_plaintext, false,
          "Talk to the next stage without TLS (required without --next_ca "
          "etc., so that plain text is never an accident).");
ABSL_FLAG(std::string, next_ca, "",
          "PEM CA bundle to verify the next stage (default: system roots).");
ABSL_FLAG(std::string, next_cert, "", "PEM client certificate (mutual TLS).");
ABSL_FLAG(std::string, next_key, "", "PEM client key (mutual TLS).");
ABSL_FLAG(std::string, next_token_file, "",
          "File holding the bearer token for the next stage.");
ABSL_FLAG(absl::Duration, next_deadline, absl::Milliseconds(250),
          "How long a sample may wait for the next stage before this stage "
          "answers it (see --fallback).");
ABSL_FLAG(std::string, fallback, "compute",
          "When the next stage cannot answer: 'compute' runs the remaining "
          "layers here, 'exit' answers with this stage's deepest exit.");
ABSL_FLAG(double, threshold, -1,
          "Replaces the calibrated threshold of the exits this stage runs "
          "(-1: the model's).");
ABSL_FLAG(std::string, encoding, "int8",
          "Encoding of activations sent to the next stage: int8, float16 or "
          "float32.");
ABSL_FLAG(std::string, policy, "static",
          "A middle stage's routing: 'static' sends every sample its exits "
          "did not answer to the next stage; 'adaptive' sends each where it "
          "costs least, the next stage or the remaining layers here, from "
          "measured round trips and this stage's queue.");
ABSL_FLAG(absl::Duration, latency_objective, absl::ZeroDuration(),
          "A middle stage: move its exits' threshold to hold this latency at "
          "--latency_quantile for the answers given through it (0: off).");
ABSL_FLAG(double, latency_quantile, 0.99,
          "The quantile --latency_objective holds, in (0, 1).");
ABSL_FLAG(double, controller_gain, 0.002,
          "Threshold change per unit error and sample.");
ABSL_FLAG(double, threshold_min, 0.0,
          "Lowest threshold the objective may set.");
ABSL_FLAG(double, threshold_max, 1.0,
          "Highest threshold the objective may set. The threshold starts at "
          "--threshold, else at the calibrated threshold of this stage's first "
          "exit.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound gRPC and metrics ports are written there, one "
          "per line, once serving (for scripts that use port 0).");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "spex-cloud: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  spex::ParseDaemonFlags(
      argc, argv,
      "Finishes inference on split activations sent by spex edge agents.\n"
      "Usage: spex-cloud --model_dir=DIR (--plaintext | --tls_cert=F "
      "--tls_key=F) [flags]\nor: spex-cloud --flagfile=FILE",
      "cloud_main.cc");

  spex::CloudServerOptions options;
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_listen);
  options.plaintext = absl::GetFlag(FLAGS_plaintext);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.max_receive_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.grpc_memory_bytes = absl::GetFlag(FLAGS_grpc_memory_bytes);
  options.reload_debounce = absl::GetFlag(FLAGS_reload_debounce);
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  options.core.max_samples_per_request =
      absl::GetFlag(FLAGS_max_samples_per_request);
  int workers = absl::GetFlag(FLAGS_workers);
  if (workers <= 0)
    workers = static_cast<int>(std::thread::hardware_concurrency());
  options.core.engine.workers = workers > 0 ? workers : 1;
  options.core.engine.batch_window = absl::GetFlag(FLAGS_batch_window);
  options.core.engine.max_queued_samples =
      absl::GetFlag(FLAGS_max_queued_samples);
  options.version = SPEX_VERSION;
  options.core.stage.placement.stage = absl::GetFlag(FLAGS_stage);
  for (absl::string_view endpoint :
       absl::StrSplit(absl::GetFlag(FLAGS_next), ',', absl::SkipEmpty())) {
    options.next_endpoints.emplace_back(endpoint);
  }
  options.next_link.plaintext = absl::GetFlag(FLAGS_next_plaintext);
  options.next_link.ca_file = absl::GetFlag(FLAGS_next_ca);
  options.next_link.cert_file = absl::GetFlag(FLAGS_next_cert);
  options.next_link.key_file = absl::GetFlag(FLAGS_next_key);
  options.next_link.token_file = absl::GetFlag(FLAGS_next_token_file);
  options.next.deadline = absl::GetFlag(FLAGS_next_deadline);
  const std::string fallback = absl::GetFlag(FLAGS_fallback);
  if (fallback != "compute" && fallback != "exit") {
    return Fail("--fallback: compute or exit");
  }
  options.core.stage.fallback_to_exit = fallback == "exit";
  const double threshold = absl::GetFlag(FLAGS_threshold);
  if (threshold >= 0) {
    if (threshold > 1) return Fail("--threshold is in [0, 1] (or -1)");
    options.core.stage.threshold = static_cast<float>(threshold);
  }
  absl::StatusOr<spex::v1::Encoding> encoding =
      spex::ParseEncoding(absl::GetFlag(FLAGS_encoding));
  if (!encoding.ok() || *encoding == spex::v1::ENCODING_UINT8) {
    return Fail("--encoding: int8, float16 or float32");
  }
  options.core.stage.encoding = *encoding;
  const std::string policy = absl::GetFlag(FLAGS_policy);
  if (policy != "static" && policy != "adaptive") {
    return Fail("--policy: static or adaptive");
  }
  options.core.stage.adaptive = policy == "adaptive";
  const absl::Duration objective = absl::GetFlag(FLAGS_latency_objective);
  if (objective > absl::ZeroDuration()) {
    spex::ThresholdControllerOptions controller;
    controller.target = spex::ThresholdControllerOptions::Target::kLatency;
    controller.latency = objective;
    controller.latency_quantile = absl::GetFlag(FLAGS_latency_quantile);
    controller.gain = absl::GetFlag(FLAGS_controller_gain);
    controller.min_threshold = absl::GetFlag(FLAGS_threshold_min);
    controller.max_threshold = absl::GetFlag(FLAGS_threshold_max);
    if (absl::Status valid = controller.Check(); !valid.ok()) {
      return Fail(std::string(valid.message()));
    }
    options.core.stage.controller = controller;
  }
  absl::StatusOr<std::optional<spex::AccuracyObjectiveOptions>> accuracy =
      spex::AccuracyObjectiveFromFlags(absl::GetFlag(FLAGS_threshold_min),
                                       absl::GetFlag(FLAGS_threshold_max));
  if (!accuracy.ok()) return Fail(std::string(accuracy.status().message()));
  if (accuracy->has_value() && options.next_endpoints.empty()) {
    return Fail(
        "--accuracy_objective is a middle stage's (--next): the last "
        "stage's answers are the full network's");
  }
  options.core.stage.accuracy = *accuracy;
  if (options.core.stage.placement.stage < 0 ||
      (!options.next_endpoints.empty() &&
       options.core.stage.placement.stage < 2)) {
    return Fail(
        "--stage: a middle stage (--next) is stage 2 or later; the "
        "edge is stage 1");
  }

  if (options.core.max_samples_per_request < 1 ||
      options.core.engine.max_queued_samples <
          options.core.max_samples_per_request) {
    return Fail(
        "--max_samples_per_request must be >= 1 and at most "
        "--max_queued_samples");
  }

  absl::StatusOr<std::unique_ptr<spex::CloudServer>> server =
      spex::CloudServer::Start(options);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  spex::LogInfo(absl::StrFormat(
      "spex-cloud %s serving %s on port %d (metrics port %d), %d workers, "
      "%s",
      options.version, options.model_dir, (*server)->port(),
      (*server)->metrics_port(), options.core.engine.workers,
      options.next_endpoints.empty()
          ? std::string("last stage")
          : absl::StrFormat("stage %d, next: %s",
                            options.core.stage.placement.stage,
                            absl::GetFlag(FLAGS_next))));
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty() && !spex::WritePortFile(port_file, (*server)->port(),
                                                 (*server)->metrics_port())) {
    return Fail("cannot write --port_file " + port_file);
  }

  spex::WaitForSignals([&] { (void)(*server)->Reload(); },
                       [&] { (*server)->Shutdown(); });
  return 0;
}

// spex-loadgen: load for a SplitInference server (spex-cloud, or the echo
// server that bounds what any server could do). The payload is real: the
// head of the given model run on Fashion-MNIST test images, encoded as an
// edge agent encodes it. Prints one JSON object:
//   {"target": NAME, "streams": N, "samples_per_request": S,
//    "payload_bytes": P, "samples_per_s": X, "p50_us": a, "p99_us": b, ...}
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"
#include "common/model/model.h"
#include "common/status/status_macros.h"
#include "tools/common/args.h"
#include "tools/common/json.h"
#include "tools/data/dataset.h"
#include "tools/loadgen/load_generator.h"

namespace spex {
namespace {

absl::StatusOr<v1::InferRequest> MakeRequest(const Model& model,
                                             v1::Encoding encoding, int samples,
                                             bool raw_input) {
  SPEX_ASSIGN_OR_RETURN(Dataset data,
                        LoadDataset("fashion-mnist", Split::kTest));
  const InputTransform& input = model.input();
  std::vector<float> values, x(input.width), y(model.split_width());
  Workspace workspace(model.head());
  for (int s = 0; s < samples; ++s) {
    const float* sample = data.sample(s % data.size());
    std::vector<float> raw(sample, sample + data.width);
    if (raw_input) {
      values.insert(values.end(), raw.begin(), raw.end());
      continue;
    }
    SPEX_RETURN_IF_ERROR(input.Apply(raw, x.data()));
    model.head().Forward(x.data(), y.data(), nullptr, &workspace);
    values.insert(values.end(), y.begin(), y.end());
  }
  v1::InferRequest request;
  request.set_model_id(model.id());
  request.set_from_layer(raw_input ? 0 : model.split_after());
  request.set_top_k(1);
  const int width = raw_input ? input.raw_width : model.split_width();
  SPEX_RETURN_IF_ERROR(EncodeActivations(encoding, width, samples, values,
                                         request.mutable_activation()));
  return request;
}

int Run(int argc, char** argv) {
  Args args;
  args.Option("target", "127.0.0.1:50051", "server address host:port")
      .Option("name", "spex-cloud", "the \"target\" label in the output")
      .Option(
          "model", "results/fashion-default.spex",
          "model whose head makes the payload (its id named once per stream)")
      .Option("encoding", "int8", "float32 | float16 | int8 | uint8")
      .Flag("raw_input", "send raw images (from_layer 0) instead of the split")
      .Option("streams", "8", "concurrent streams, one connection each")
      .Option("depth", "8", "requests in flight per stream")
      .Option("samples", "20000", "samples measured (after a 10% warm-up)")
      .Option("samples_per_request", "1", "samples in each request");
  if (absl::Status status = args.Parse(argc, argv, 1); !status.ok()) {
    std::fprintf(stderr, "spex-loadgen: %s\n\n%s",
                 std::string(status.message()).c_str(), args.Help().c_str());
    return 2;
  }
  absl::StatusOr<v1::Encoding> encoding = ParseEncoding(args.Get("encoding"));
  absl::StatusOr<long> streams = args.GetInt("streams");
  absl::StatusOr<long> depth = args.GetInt("depth");
  absl::StatusOr<long> samples = args.GetInt("samples");
  absl::StatusOr<long> per_request = args.GetInt("samples_per_request");
  for (const absl::Status& status :
       {encoding.status(), streams.status(), depth.status(), samples.status(),
        per_request.status()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "spex-loadgen: %s\n",
                   std::string(status.message()).c_str());
      return 2;
    }
  }
  if (*streams < 1 || *depth < 1 || *samples < 1 || *per_request < 1) {
    std::fprintf(stderr, "spex-loadgen: counts must be at least 1\n");
    return 2;
  }
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(args.Get("model"));
  if (!model.ok()) {
    std::fprintf(stderr, "spex-loadgen: %s\n",
                 std::string(model.status().message()).c_str());
    return 1;
  }
  LoadOptions options;
  options.target = args.Get("target");
  options.streams = static_cast<int>(*streams);
  options.depth = static_cast<int>(*depth);
  options.samples = *samples;
  absl::StatusOr<v1::InferRequest> request =
      MakeRequest(**model, *encoding, static_cast<int>(*per_request),
                  args.GetBool("raw_input"));
  if (!request.ok()) {
    std::fprintf(stderr, "spex-loadgen: %s\n",
                 std::string(request.status().message()).c_str());
    return 1;
  }
  options.request = *std::move(request);
  absl::StatusOr<LoadResult> result = RunLoad(options);
  if (!result.ok()) {
    std::fprintf(stderr, "spex-loadgen: %s\n",
                 std::string(result.status().message()).c_str());
    return 1;
  }
  // What goes on the wire per request: the model is named in the stream's
  // metadata, not in the request.
  v1::InferRequest sent = options.request;
  sent.clear_model_id();
  sent.set_request_id(options.samples);
  std::printf(
      "{\"target\": %s, \"streams\": %d, \"samples_per_request\": %d, "
      "\"payload_bytes\": %d, \"request_bytes\": %d, \"depth\": %d, "
      "\"samples_per_s\": %.0f, \"p50_us\": %.0f, \"p99_us\": %.0f, "
      "\"samples\": %d, \"errors\": %d}\n",
      JsonQuote(args.Get("name")).c_str(), options.streams,
      static_cast<int>(*per_request),
      static_cast<int>(options.request.activation().data().size()),
      static_cast<int>(sent.ByteSizeLong()), options.depth,
      result->samples_per_s, result->p50_us, result->p99_us,
      static_cast<int>(result->samples), static_cast<int>(result->errors));
  if (result->errors > 0) {
    std::fprintf(stderr, "spex-loadgen: %d requests failed, first: %s\n",
                 static_cast<int>(result->errors), result->first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) { return spex::Run(argc, argv); }

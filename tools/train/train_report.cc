#include "tools/train/train_report.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"
#include "common/status/status_macros.h"
#include "tools/common/model_summary.h"
#include "tools/common/text_table.h"
#include "tools/train/evaluate.h"

namespace spex {
namespace {

// Connections and parameters of every junction, and as if fully connected.
struct Sparsity {
  int64_t connections = 0;
  int64_t dense_connections = 0;
  int64_t dense_params = 0;
  double overall() const {
    return static_cast<double>(connections) / dense_connections;
  }
};

bool IsPooling(const v1::Layer& layer) {
  return layer.kind() == v1::LAYER_KIND_MAX_POOL ||
         layer.kind() == v1::LAYER_KIND_AVERAGE_POOL ||
         layer.kind() == v1::LAYER_KIND_GLOBAL_AVERAGE_POOL;
}

Sparsity SparsityOf(const v1::Model& d) {
  Sparsity s;
  const auto count = [&s](const v1::Layer& layer) {
    if (IsPooling(layer)) return;
    // A convolution's connection is a channel pair, k x k weights each.
    const int64_t taps = layer.kind() == v1::LAYER_KIND_CONV2D
                             ? int64_t{layer.window()} * layer.window()
                             : 1;
    s.connections += taps * layer.n_out() * layer.d_in();
    s.dense_connections += taps * layer.n_out() * layer.n_in();
    s.dense_params += taps * layer.n_out() * layer.n_in() + layer.n_out();
  };
  for (const v1::Layer& layer : d.layers()) count(layer);
  for (const v1::ExitBranch& exit : d.exits()) {
    for (const v1::Layer& layer : exit.layers()) count(layer);
  }
  return s;
}

int64_t FileBytes(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 ? info.st_size : -1;
}

double MeanEpochSeconds(const TrainResult& result) {
  double total = 0;
  for (const EpochStats& e : result.epochs) total += e.seconds;
  return total / result.epochs.size();
}

}  // namespace

absl::StatusOr<Json> TrainReportJson(const TrainRun& run) {
  const Model& m = *run.model;
  const v1::Model& d = m.description();
  const v1::TrainingInfo& info = d.training();
  const Sparsity sparsity = SparsityOf(d);
  Json report = Json::Object();
  report.Set("dataset", run.dataset);
  bool convolutional = false;
  for (const v1::Layer& layer : d.layers()) {
    convolutional = convolutional || layer.kind() == v1::LAYER_KIND_CONV2D;
  }
  report.Set("family", convolutional ? "cnn" : "mlp");
  report.Set("topology", run.topology);
  report.Set("pattern", run.pattern);
  Json fan_out = Json::Array(), density = Json::Array();
  for (const v1::Layer& layer : d.layers()) {
    if (IsPooling(layer)) continue;
    fan_out.Push(layer.d_out());
    density.Push(static_cast<double>(layer.d_in()) / layer.n_in());
  }
  report.Set("fan_out", std::move(fan_out));
  report.Set("density", std::move(density));
  report.Set("density_overall", sparsity.overall());
  report.Set("params", m.full().cost().params);
  report.Set("params_dense_equivalent", sparsity.dense_params);
  report.Set("macs", Json::Object()
                         .Set("head", m.head().backbone_cost().macs)
                         .Set("exit", m.head().exits_cost().macs)
                         .Set("tail", m.tail().cost().macs)
                         .Set("full", m.full().cost().macs));
  report.Set("model_bytes", FileBytes(run.model_path));
  report.Set("memory_bytes", m.full().cost().bytes);
  report.Set("split_after", m.split_after());
  report.Set("split_width", m.split_width());
  report.Set("split_bytes", SplitBytesJson(m));
  report.Set("stages", StagesJson(m));
  report.Set("raw_input_bytes", m.input().raw_width);
  Json exits = Json::Array();
  for (int e = 0; e < d.exits_size(); ++e) {
    exits.Push(Json::Object()
                   .Set("after_layer", d.exits(e).after_layer())
                   .Set("test_accuracy", info.exit_test_accuracy(e)));
  }
  report.Set("exits", std::move(exits));
  report.Set("final_test_accuracy", info.final_test_accuracy());
  Json agreement = Json::Object();
  for (v1::Encoding encoding : {v1::ENCODING_INT8, v1::ENCODING_FLOAT16}) {
    SPEX_ASSIGN_OR_RETURN(const double agree,
                          SplitAgreement(m, *run.test, encoding));
    agreement.Set(std::string(EncodingName(encoding)), agree);
  }
  report.Set("split_label_agreement", std::move(agreement));
  Json seconds = Json::Array(), validation = Json::Array();
  for (const EpochStats& e : run.result->epochs) {
    seconds.Push(e.seconds);
    validation.Push(e.validation_accuracy);
  }
  report.Set("epoch_seconds", std::move(seconds));
  report.Set("validation_accuracy", std::move(validation));
  report.Set("best_epoch", run.result->best_epoch);
  report.Set("epochs", static_cast<int>(run.result->epochs.size()));
  report.Set("seed", static_cast<int64_t>(run.options->seed));
  report.Set("threads", run.options->threads);
  report.Set("train_samples", run.train_samples);
  report.Set("validation_samples", run.validation_samples);
  report.Set("test_samples", run.test->size());
  report.Set("model_id", m.id());
  return report;
}

std::string TrainReportText(const TrainRun& run,
                            const std::string& report_path) {
  const Model& m = *run.model;
  const v1::Model& d = m.description();
  const v1::TrainingInfo& info = d.training();
  const Sparsity sparsity = SparsityOf(d);
  TextTable table({"", ""});
  table.AddRow({"model", absl::StrCat(run.model_path, " (",
                                      m.id().substr(0, 16), "...)")});
  table.AddRow({"topology", absl::StrCat(run.topology, ", ", run.pattern)});
  table.AddRow(
      {"density overall", absl::StrFormat("%.4f", sparsity.overall())});
  table.AddRow(
      {"parameters", absl::StrFormat("%d (dense: %d)", m.full().cost().params,
                                     sparsity.dense_params)});
  table.AddRow({"MACs/sample", absl::StrFormat("head %d, exits %d, tail %d",
                                               m.head().backbone_cost().macs,
                                               m.head().exits_cost().macs,
                                               m.tail().cost().macs)});
  table.AddRow(
      {"split",
       absl::StrFormat("%d values: %d B int8, raw input %d B", m.split_width(),
                       EncodedBytes(v1::ENCODING_INT8, m.split_width(), 1),
                       m.input().raw_width)});
  table.AddRow(
      {"test accuracy",
       absl::StrFormat("final %.2f %%", 100 * info.final_test_accuracy())});
  for (int e = 0; e < info.exit_test_accuracy_size(); ++e) {
    table.AddRow(
        {absl::StrFormat("exit %d (after layer %d)", e + 1,
                         d.exits(e).after_layer()),
         absl::StrFormat("%.2f %%", 100 * info.exit_test_accuracy(e))});
  }
  table.AddRow(
      {"epochs",
       absl::StrFormat("%d (best %d), %.2f s each", run.result->epochs.size(),
                       run.result->best_epoch, MeanEpochSeconds(*run.result))});
  table.AddRow({"report", report_path});
  return table.Render();
}

}  // namespace spex

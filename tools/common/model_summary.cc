#include "tools/common/model_summary.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "tools/common/text_table.h"

namespace spex {
namespace {

constexpr v1::Encoding kEncodings[] = {v1::ENCODING_FLOAT32,
                                       v1::ENCODING_FLOAT16, v1::ENCODING_INT8};

std::string PatternName(const v1::Layer& layer) {
  if (layer.kind() != v1::LAYER_KIND_UNSPECIFIED &&
      layer.kind() != v1::LAYER_KIND_CONV2D) {
    return "-";  // a pooling
  }
  switch (layer.pattern()) {
    case v1::PATTERN_KIND_RANDOM:
      return "random";
    case v1::PATTERN_KIND_BLOCK:
      return "block";
    case v1::PATTERN_KIND_DENSE:
      return "dense";
    case v1::PATTERN_KIND_TILE:
      return absl::StrCat("tile", layer.group_size());
    default:
      return "unknown";
  }
}

// "fc", "conv3x3" ("conv3x3/2" with stride 2), "maxpool2", "avgpool2",
// "gap" (global average pooling).
std::string KindName(const v1::Layer& layer) {
  switch (layer.kind()) {
    case v1::LAYER_KIND_CONV2D:
      return absl::StrCat("conv", layer.window(), "x", layer.window(),
                          layer.stride() > 1 ? absl::StrCat("/", layer.stride())
                                             : std::string());
    case v1::LAYER_KIND_MAX_POOL:
      return absl::StrCat("maxpool", layer.window());
    case v1::LAYER_KIND_AVERAGE_POOL:
      return absl::StrCat("avgpool", layer.window());
    case v1::LAYER_KIND_GLOBAL_AVERAGE_POOL:
      return "gap";
    default:
      return "fc";
  }
}

struct LayerRow {
  std::string part;
  std::string name;
  const v1::Layer* description;
  const Layer* layer;
};

// Backbone layers in order, then each exit's layers.
std::vector<LayerRow> LayerRows(const Model& model) {
  std::vector<LayerRow> rows;
  const v1::Model& d = model.description();
  const auto full_layers = model.full().layers();
  int stage = 1;
  for (int l = 0; l < d.layers_size(); ++l) {
    if (l + 1 > model.boundaries()[stage]) ++stage;
    rows.push_back({absl::StrCat("stage ", stage), absl::StrCat(l + 1),
                    &d.layers(l), full_layers[l].get()});
  }
  const auto exits = model.full().exits();
  for (int e = 0; e < d.exits_size(); ++e) {
    for (int l = 0; l < d.exits(e).layers_size(); ++l) {
      rows.push_back({absl::StrCat("exit ", e + 1),
                      absl::StrCat("e", e + 1, ".", l + 1),
                      &d.exits(e).layers(l), exits[e].layers[l].get()});
    }
  }
  return rows;
}

// Where stage s (from 1) of `stages` runs.
std::string StageHost(int s, int stages) {
  return s == 1 ? "edge" : s == stages ? "cloud" : "fog";
}

// What stage s (from 1) costs: its layers and the exits after them.
PartCost StageCost(const Model& model, int s) {
  return model.Segment(model.boundaries()[s - 1], model.boundaries()[s])
      ->cost();
}

std::string Thousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace

Json PartCostJson(const PartCost& cost) {
  return Json::Object()
      .Set("macs", cost.macs)
      .Set("params", cost.params)
      .Set("bytes", cost.bytes);
}

Json SplitBytesJson(const Model& model) {
  Json bytes = Json::Object();
  for (v1::Encoding encoding : kEncodings) {
    bytes.Set(std::string(EncodingName(encoding)),
              EncodedBytes(encoding, model.split_width(), 1));
  }
  return bytes;
}

Json StagesJson(const Model& model) {
  Json stages = Json::Array();
  for (int s = 1; s <= model.num_stages(); ++s) {
    const int last = model.boundaries()[s];
    Json stage = Json::Object()
                     .Set("stage", s)
                     .Set("runs_on", StageHost(s, model.num_stages()))
                     .Set("first_layer", model.boundaries()[s - 1] + 1)
                     .Set("last_layer", last)
                     .Set("cost", PartCostJson(StageCost(model, s)));
    if (s < model.num_stages()) {
      stage.Set("cut_width", model.WidthAfter(last))
          .Set("cut_bytes_int8",
               EncodedBytes(v1::ENCODING_INT8, model.WidthAfter(last), 1));
    }
    stages.Push(std::move(stage));
  }
  return stages;
}

Json ModelSummaryJson(const Model& model) {
  const v1::Model& d = model.description();
  Json json = Json::Object();
  json.Set("model_id", model.id());
  json.Set("format_version", d.format_version());
  Json shape = Json::Array();
  for (int s : model.input().shape) shape.Push(s);
  json.Set("input",
           Json::Object()
               .Set("shape", std::move(shape))
               .Set("scale", model.input().scale)
               .Set("offset", model.input().offset)
               .Set("per_feature", !model.input().feature_scale.empty())
               .Set("width", model.input().width));
  json.Set("split_after", model.split_after());
  json.Set("split_width", model.split_width());
  json.Set("split_bytes", SplitBytesJson(model));
  Json layers = Json::Array();
  for (const LayerRow& row : LayerRows(model)) {
    const PartCost cost = row.layer->Cost();
    layers.Push(Json::Object()
                    .Set("part", row.part)
                    .Set("layer", row.name)
                    .Set("kind", KindName(*row.description))
                    .Set("n_in", row.description->n_in())
                    .Set("n_out", row.description->n_out())
                    .Set("out_shape", row.layer->out_shape().DebugString())
                    .Set("cut_bytes_int8",
                         EncodedBytes(v1::ENCODING_INT8, row.layer->n_out(), 1))
                    .Set("d_in", row.description->d_in())
                    .Set("d_out", row.description->d_out())
                    .Set("pattern", PatternName(*row.description))
                    .Set("density", row.layer->density())
                    .Set("activation",
                         std::string(ActivationName(row.layer->activation())))
                    .Set("params", cost.params)
                    .Set("macs", cost.macs)
                    .Set("bytes", cost.bytes)
                    .Set("kernel_single", row.layer->single_kernel())
                    .Set("kernel_batch", row.layer->batch_kernel()));
  }
  json.Set("layers", std::move(layers));
  Json exits = Json::Array();
  for (const v1::ExitBranch& exit : d.exits()) {
    exits.Push(Json::Object()
                   .Set("after_layer", exit.after_layer())
                   .Set("confidence",
                        std::string(ConfidenceMeasureName(exit.confidence())))
                   .Set("threshold", exit.threshold())
                   .Set("loss_weight", exit.loss_weight()));
  }
  json.Set("exits", std::move(exits));
  json.Set("stages", StagesJson(model));
  json.Set("parts", Json::Object()
                        .Set("head", PartCostJson(model.head().backbone_cost()))
                        .Set("exits", PartCostJson(model.head().exits_cost()))
                        .Set("edge", PartCostJson(model.head().cost()))
                        .Set("tail", PartCostJson(model.tail().cost()))
                        .Set("full", PartCostJson(model.full().cost())));
  Json classes = Json::Array();
  for (const std::string& name : d.class_names()) classes.Push(name);
  json.Set("class_names", std::move(classes));
  const v1::TrainingInfo& t = d.training();
  Json exit_accuracy = Json::Array();
  for (float a : t.exit_test_accuracy()) exit_accuracy.Push(a);
  json.Set("training", Json::Object()
                           .Set("dataset", t.dataset())
                           .Set("seed", static_cast<int64_t>(t.seed()))
                           .Set("epochs", t.epochs())
                           .Set("batch_size", t.batch_size())
                           .Set("learning_rate", t.learning_rate())
                           .Set("l2", t.l2())
                           .Set("train_samples", t.train_samples())
                           .Set("validation_samples", t.validation_samples())
                           .Set("final_test_accuracy", t.final_test_accuracy())
                           .Set("exit_test_accuracy", std::move(exit_accuracy))
                           .Set("trainer", t.trainer())
                           .Set("calibration", t.calibration()));
  return json;
}

std::string ModelSummaryText(const Model& model) {
  const v1::Model& d = model.description();
  std::string out;
  absl::StrAppend(&out, "model_id  ", model.id(), "\n");
  absl::StrAppend(
      &out, "input     ", absl::StrJoin(model.input().shape, "x"),
      absl::StrFormat(" x %g %+g", model.input().scale, model.input().offset));
  if (!model.input().feature_scale.empty()) {
    absl::StrAppend(&out, " after a scale and offset per feature");
  }
  if (model.input().width != model.input().raw_width) {
    absl::StrAppend(&out, ", zero-padded to ", model.input().width);
  }
  absl::StrAppend(&out, "\nsplit     after layer ", model.split_after(), ": ",
                  model.split_width(), " values per sample =");
  for (v1::Encoding encoding : kEncodings) {
    absl::StrAppend(&out, " ", EncodedBytes(encoding, model.split_width(), 1),
                    " B ", EncodingName(encoding), ";");
  }
  out.pop_back();
  absl::StrAppend(&out, "\nclasses   ", model.num_classes());
  if (!d.class_names().empty()) {
    absl::StrAppend(&out, " (", absl::StrJoin(d.class_names(), ", "), ")");
  }
  out += "\n\n";

  TextTable layers({"part", "layer", "kind", "out", "n_in", "n_out", "pattern",
                    "d_in", "d_out", "density", "activation", "params", "MACs",
                    "bytes", "cut int8 B", "kernel (1 / batch)"});
  for (const LayerRow& row : LayerRows(model)) {
    const PartCost cost = row.layer->Cost();
    layers.AddRow(
        {row.part, row.name, KindName(*row.description),
         row.layer->out_shape().DebugString(),
         absl::StrCat(row.description->n_in()),
         absl::StrCat(row.description->n_out()), PatternName(*row.description),
         absl::StrCat(row.description->d_in()),
         absl::StrCat(row.description->d_out()),
         absl::StrFormat("%.4f", row.layer->density()),
         std::string(ActivationName(row.layer->activation())),
         Thousands(cost.params), Thousands(cost.macs), Thousands(cost.bytes),
         // What a cut after this backbone layer would send per sample.
         row.part.rfind("stage", 0) == 0
             ? Thousands(EncodedBytes(v1::ENCODING_INT8, row.layer->n_out(), 1))
             : "",
         row.layer->single_kernel().empty()
             ? "-"
             : absl::StrCat(row.layer->single_kernel(), " / ",
                            row.layer->batch_kernel())});
  }
  out += layers.Render();
  out += '\n';

  TextTable parts({"part", "runs on", "MACs/sample", "params", "bytes"});
  const auto add = [&](const std::string& name, const std::string& where,
                       const PartCost& cost) {
    parts.AddRow({name, where, Thousands(cost.macs), Thousands(cost.params),
                  Thousands(cost.bytes)});
  };
  add("head", "edge", model.head().backbone_cost());
  add("exits", "edge", model.head().exits_cost());
  add("tail", "cloud", model.tail().cost());
  add("full", "-", model.full().cost());
  out += parts.Render();

  if (model.num_stages() > 2) {
    out += '\n';
    TextTable stages({"stage", "runs on", "layers", "MACs/sample", "params",
                      "bytes", "cut (int8 B)"});
    for (int s = 1; s <= model.num_stages(); ++s) {
      const int first = model.boundaries()[s - 1] + 1;
      const int last = model.boundaries()[s];
      const PartCost cost = StageCost(model, s);
      stages.AddRow(
          {absl::StrCat(s), StageHost(s, model.num_stages()),
           first == last ? absl::StrCat(first) : absl::StrCat(first, "-", last),
           Thousands(cost.macs), Thousands(cost.params), Thousands(cost.bytes),
           s < model.num_stages()
               ? absl::StrCat(
                     EncodedBytes(v1::ENCODING_INT8, model.WidthAfter(last), 1))
               : std::string("-")});
    }
    out += stages.Render();
  }

  if (d.exits_size() > 0) {
    out += '\n';
    TextTable exits({"exit", "after layer", "stage", "confidence", "threshold",
                     "loss weight"});
    for (int e = 0; e < d.exits_size(); ++e) {
      const v1::ExitBranch& exit = d.exits(e);
      int stage = 1;
      while (model.boundaries()[stage] < static_cast<int>(exit.after_layer())) {
        ++stage;
      }
      exits.AddRow({absl::StrCat(e + 1), absl::StrCat(exit.after_layer()),
                    absl::StrCat(stage),
                    std::string(ConfidenceMeasureName(exit.confidence())),
                    absl::StrFormat("%.4f", exit.threshold()),
                    absl::StrFormat("%g", exit.loss_weight())});
    }
    out += exits.Render();
  }
  const v1::TrainingInfo& t = d.training();
  if (!t.dataset().empty()) {
    absl::StrAppend(&out, "\ntraining  ", t.dataset(), ", ", t.epochs(),
                    " epochs, seed ", t.seed(), ", ", t.train_samples(),
                    " train / ", t.validation_samples(),
                    " validation samples; test accuracy ",
                    absl::StrFormat("%.2f %%", 100 * t.final_test_accuracy()));
    for (int e = 0; e < t.exit_test_accuracy_size(); ++e) {
      absl::StrAppend(&out, absl::StrFormat(", exit %d %.2f %%", e + 1,
                                            100 * t.exit_test_accuracy(e)));
    }
    out += '\n';
    if (!t.calibration().empty())
      absl::StrAppend(&out, "threshold ", t.calibration(), "\n");
    if (!t.trainer().empty())
      absl::StrAppend(&out, "made by   ", t.trainer(), "\n");
  }
  return out;
}

}  // namespace spex

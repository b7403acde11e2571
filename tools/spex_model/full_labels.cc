#include "tools/spex_model/full_labels.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "common/model/exit_rule.h"

namespace spex {

absl::Status WriteFullLabels(const Model& model, const Dataset& data,
                             std::ostream& out) {
  const ModelPart& head = model.head();
  const ModelPart& tail = model.tail();
  if (head.exits().empty()) {
    return absl::FailedPreconditionError(
        "the model has no exit before its cut: no exit label to compare");
  }
  if (model.input().raw_width != data.width) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the model takes %d values per sample, dataset %s has %d",
        model.input().raw_width, data.name, data.width));
  }
  const int classes = model.num_classes();
  const std::vector<ExitRule> rules = ExitRulesFor(head, std::nullopt);
  // An uncalibrated exit is measured by max softmax, as the stages do.
  const v1::ConfidenceMeasure measure =
      rules.front().measure == v1::CONFIDENCE_MEASURE_UNSPECIFIED
          ? v1::CONFIDENCE_MEASURE_MAX_SOFTMAX
          : rules.front().measure;
  Workspace head_workspace(head), tail_workspace(tail);
  std::vector<float> raw(data.width), x(model.input().width);
  std::vector<float> split(head.output_width()), crossed;
  std::vector<float> exits(head.exits().size() * classes);
  std::vector<float> y(tail.output_width());
  v1::ActivationPayload payload;
  for (int i = 0; i < data.size(); ++i) {
    std::copy_n(data.sample(i), data.width, raw.begin());
    if (absl::Status s = model.input().Apply(raw, x.data()); !s.ok()) return s;
    head.Forward(x.data(), split.data(), exits.data(), &head_workspace);
    if (absl::Status s = EncodeActivations(
            v1::ENCODING_INT8, head.output_width(), 1, split, &payload);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = DecodeActivations(payload, &crossed); !s.ok()) {
      return s;
    }
    tail.Forward(crossed.data(), y.data(), nullptr, &tail_workspace);
    const auto exit = absl::MakeConstSpan(exits.data(), classes);
    const int full =
        static_cast<int>(std::max_element(y.begin(), y.end()) - y.begin());
    const int exit_label = static_cast<int>(
        std::max_element(exit.begin(), exit.end()) - exit.begin());
    out << absl::StrFormat(
        "{\"id\": %d, \"label\": %d, \"full\": %d, \"exit\": %d, "
        "\"confidence\": %.6g}\n",
        i, data.labels[i], full, exit_label, Confidence(measure, exit));
  }
  return absl::OkStatus();
}

}  // namespace spex

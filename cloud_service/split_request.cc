#include "cloud_service/split_request.h"

#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/codec/activation_codec.h"
#include "common/rpc/sample_result.h"
#include "common/status/status_macros.h"

namespace spex {

absl::StatusOr<const ServedModel*> ResolveModel(const ServedModels& served,
                                                const std::string& model_id) {
  if (model_id.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model_id: missing; name the model in the request or in the "
        "'spex-model-id' metadata (served: %s)",
        served.Describe()));
  }
  const ServedModel* model = served.FindById(model_id);
  if (model == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("model %s is not served here; served: %s", model_id,
                        served.Describe()));
  }
  return model;
}

int StageNumber(const Model& model, const StagePlacement& placement) {
  return placement.stage >= 1 && placement.stage < model.num_stages()
             ? placement.stage
             : model.num_stages();
}

int StageEndLayer(const Model& model, int from_layer,
                  const StagePlacement& placement) {
  const int stage = StageNumber(model, placement);
  if (!placement.has_next || stage == model.num_stages()) {
    return model.num_layers();
  }
  const int end = model.boundaries()[stage];
  return from_layer < end ? end : model.num_layers();
}

absl::StatusOr<SplitJob> PrepareSplitJob(const v1::InferRequest& request,
                                         const ServedModel& served,
                                         int max_samples,
                                         const StagePlacement& placement) {
  const Model& model = *served.model;
  const uint32_t from_layer = request.from_layer();
  const bool raw_input = from_layer == 0;
  // Compared unsigned first: a huge value must not wrap to a boundary.
  if (from_layer >= static_cast<uint32_t>(model.num_layers()) ||
      !model.IsBoundary(static_cast<int>(from_layer))) {
    std::vector<int> cuts(model.boundaries().begin() + 1,
                          model.boundaries().end() - 1);
    return absl::InvalidArgumentError(absl::StrFormat(
        "from_layer: %d is not served; model %s takes activations after "
        "layers %s (its cuts) or raw inputs (0)",
        from_layer, served.name, absl::StrJoin(cuts, ", ")));
  }
  const v1::ActivationPayload& payload = request.activation();
  const int expected_width =
      raw_input ? model.input().raw_width
                : model.WidthAfter(static_cast<int>(from_layer));
  if (payload.width() != static_cast<uint32_t>(expected_width)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "activation: width %d, but model %s takes %d values per sample at "
        "from_layer %d",
        payload.width(), served.name, expected_width, from_layer));
  }
  if (payload.samples() < 1 ||
      payload.samples() > static_cast<uint32_t>(max_samples)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("activation: %d samples; a request carries 1 to %d",
                        payload.samples(), max_samples));
  }
  if (request.top_k() > static_cast<uint32_t>(model.num_classes())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("top_k: %d, but model %s has %d classes",
                        request.top_k(), served.name, model.num_classes()));
  }
  const int samples = static_cast<int>(payload.samples());
  SplitJob split;
  split.from_layer = static_cast<int>(from_layer);
  split.to_layer = StageEndLayer(model, split.from_layer, placement);
  InferenceJob& job = split.job;
  job.model = served.model;
  job.samples = samples;
  job.part = model.Segment(split.from_layer, split.to_layer);
  job.run_exits = split.to_layer < model.num_layers();
  if (raw_input) {
    std::vector<float> raw;
    SPEX_RETURN_IF_ERROR(DecodeActivations(payload, &raw));
    const InputTransform& input = model.input();
    job.inputs.resize(static_cast<size_t>(samples) * input.width);
    for (int s = 0; s < samples; ++s) {
      absl::Status status = input.Apply(
          absl::MakeConstSpan(raw).subspan(
              static_cast<size_t>(s) * input.raw_width, input.raw_width),
          job.inputs.data() + static_cast<size_t>(s) * input.width);
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("activation: sample %d: %s", s, status.message()));
      }
    }
  } else {
    job.inputs.resize(static_cast<size_t>(samples) * expected_width);
    SPEX_RETURN_IF_ERROR(
        DecodeActivationsInto(payload, absl::MakeSpan(job.inputs)));
  }
  return split;
}

void FillResults(const std::vector<float>& probabilities, int classes,
                 int top_k, int stage, v1::InferResponse* response) {
  const int samples = static_cast<int>(probabilities.size()) / classes;
  for (int s = 0; s < samples; ++s) {
    v1::SampleResult* result = response->add_results();
    FillSampleResult(probabilities.data() + static_cast<size_t>(s) * classes,
                     classes, static_cast<uint32_t>(top_k), Answerer{stage},
                     result);
  }
}

v1::ModelInfo DescribeModel(const ServedModel& served, int max_samples,
                            const StagePlacement& placement) {
  const Model& model = *served.model;
  const v1::Model& description = model.description();
  v1::ModelInfo info;
  info.set_model_id(model.id());
  info.set_name(served.name);
  *info.mutable_input() = description.input();
  info.set_input_width(static_cast<uint32_t>(model.input().raw_width));
  info.set_split_after(static_cast<uint32_t>(model.split_after()));
  info.set_split_width(static_cast<uint32_t>(model.split_width()));
  for (int extent : model.split_shape().extents()) {
    info.add_split_shape(static_cast<uint32_t>(extent));
  }
  for (v1::Encoding encoding : {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16,
                                v1::ENCODING_INT8, v1::ENCODING_UINT8}) {
    info.add_encodings(encoding);
  }
  *info.mutable_class_names() = description.class_names();
  info.set_num_classes(static_cast<uint32_t>(model.num_classes()));
  info.set_tail_macs(model.tail().backbone_cost().macs);
  info.set_full_macs(model.full().backbone_cost().macs);
  if (description.exits_size() > 0) {
    info.set_exit_measure(description.exits(0).confidence());
    info.set_exit_threshold(description.exits(0).threshold());
  }
  info.set_max_samples_per_request(static_cast<uint32_t>(max_samples));
  *info.mutable_later_cuts() = description.later_cuts();
  info.set_stage(static_cast<uint32_t>(StageNumber(model, placement)));
  return info;
}

}  // namespace spex

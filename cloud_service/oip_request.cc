#include "cloud_service/oip_request.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/codec/activation_codec.h"

namespace spex {
namespace {

constexpr char kWholeInput[] = "input";
constexpr char kTailInput[] = "activation";
constexpr char kProbabilities[] = "probabilities";
constexpr char kLabel[] = "label";

int InputWidth(const OipModel& model) {
  const Model& m = *model.served->model;
  return model.tail ? m.split_width() : m.input().raw_width;
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The request's values for its one input, as floats.
absl::StatusOr<std::vector<float>> InputValues(
    const inference::ModelInferRequest& request, size_t count, bool uint8) {
  const auto& tensor = request.inputs(0);
  std::vector<float> values(count);
  if (!request.raw_input_contents().empty()) {
    if (request.raw_input_contents_size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrFormat("raw_input_contents: %d entries for 1 input",
                          request.raw_input_contents_size()));
    }
    if (tensor.has_contents()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input '%s': both contents and raw_input_contents are set",
          tensor.name()));
    }
    const std::string& raw = request.raw_input_contents(0);
    const size_t element = uint8 ? 1 : 4;
    if (raw.size() != count * element) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input '%s': %d raw bytes, but shape %s of %s needs %d",
          tensor.name(), raw.size(), ShapeString(tensor.shape()),
          tensor.datatype(), count * element));
    }
    if (uint8) {
      for (size_t i = 0; i < count; ++i) {
        values[i] = static_cast<uint8_t>(raw[i]);
      }
    } else {
      std::memcpy(values.data(), raw.data(), count * 4);
    }
    return values;
  }
  const inference::InferTensorContents& contents = tensor.contents();
  if (uint8) {
    if (static_cast<size_t>(contents.uint_contents_size()) != count) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input '%s': %d uint_contents, but shape %s needs %d", tensor.name(),
          contents.uint_contents_size(), ShapeString(tensor.shape()), count));
    }
    for (size_t i = 0; i < count; ++i) {
      const uint32_t v = contents.uint_contents(static_cast<int>(i));
      if (v > 255) {
        return absl::InvalidArgumentError(
            absl::StrFormat("input '%s': value %d at %d does not fit UINT8",
                            tensor.name(), v, i));
      }
      values[i] = static_cast<float>(v);
    }
    return values;
  }
  if (static_cast<size_t>(contents.fp32_contents_size()) != count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input '%s': %d fp32_contents, but shape %s needs %d", tensor.name(),
        contents.fp32_contents_size(), ShapeString(tensor.shape()), count));
  }
  std::copy(contents.fp32_contents().begin(), contents.fp32_contents().end(),
            values.begin());
  return values;
}

}  // namespace

absl::StatusOr<OipModel> ResolveOipModel(const ServedModels& served,
                                         const std::string& name,
                                         const std::string& version) {
  OipModel model;
  model.name = name;
  model.served = served.FindByName(name);
  if (model.served == nullptr && absl::EndsWith(name, kOipTailSuffix)) {
    model.served = served.FindByName(
        name.substr(0, name.size() - std::strlen(kOipTailSuffix)));
    model.tail = model.served != nullptr;
  }
  if (model.served == nullptr) {
    return absl::NotFoundError(absl::StrFormat(
        "model '%s' is not served; served: %s", name,
        served.all().empty() ? std::string("none")
                             : absl::StrJoin(OipModelNames(served), ", ")));
  }
  if (!version.empty() && version != model.served->model->id()) {
    return absl::NotFoundError(absl::StrFormat(
        "model '%s' has no version '%s'; its only version is %s", name, version,
        model.served->model->id()));
  }
  return model;
}

std::vector<std::string> OipModelNames(const ServedModels& served) {
  std::vector<std::string> names;
  for (const ServedModel& m : served.all()) {
    names.push_back(m.name);
    names.push_back(m.name + kOipTailSuffix);
  }
  return names;
}

inference::ModelMetadataResponse OipMetadata(const OipModel& model) {
  const Model& m = *model.served->model;
  inference::ModelMetadataResponse metadata;
  metadata.set_name(model.name);
  metadata.add_versions(m.id());
  metadata.set_platform("spex");
  auto* input = metadata.add_inputs();
  // Any shape with as many values per sample is accepted; these are the
  // natural ones: an image as NHWC (a 2-D input is one channel), the cut's
  // feature map as NCHW, the order its values travel in.
  if (model.tail) {
    input->set_name(kTailInput);
    input->set_datatype("FP32");
    input->add_shape(-1);
    for (int d : m.split_shape().extents()) input->add_shape(d);
  } else {
    input->set_name(kWholeInput);
    input->set_datatype("UINT8");  // FP32 accepted too
    input->add_shape(-1);
    for (int d : m.input().shape) input->add_shape(d);
    if (m.input().shape.size() == 2) input->add_shape(1);
  }
  auto* probabilities = metadata.add_outputs();
  probabilities->set_name(kProbabilities);
  probabilities->set_datatype("FP32");
  probabilities->add_shape(-1);
  probabilities->add_shape(m.num_classes());
  auto* label = metadata.add_outputs();
  label->set_name(kLabel);
  label->set_datatype("INT64");
  label->add_shape(-1);
  auto& properties = *metadata.mutable_properties();
  properties["model_id"] = m.id();
  properties["split_after"] = std::to_string(m.split_after());
  properties["accepted_input_datatypes"] = model.tail ? "FP32" : "UINT8,FP32";
  const bool image =
      model.tail ? m.split_shape().is_map() : m.input().shape.size() >= 2;
  properties["input_layout"] = image ? (model.tail ? "NCHW" : "NHWC") : "NC";
  properties["class_names"] = absl::StrJoin(m.description().class_names(), ",");
  return metadata;
}

absl::StatusOr<InferenceJob> PrepareOipJob(
    const inference::ModelInferRequest& request, const OipModel& model,
    int max_samples) {
  if (request.inputs_size() != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "inputs: %d tensors; model '%s' takes exactly one, '%s'",
        request.inputs_size(), model.name,
        model.tail ? kTailInput : kWholeInput));
  }
  for (const auto& output : request.outputs()) {
    if (output.name() != kProbabilities && output.name() != kLabel) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "outputs: '%s' is not an output of model '%s' (it has '%s' and "
          "'%s')",
          output.name(), model.name, kProbabilities, kLabel));
    }
  }
  const auto& tensor = request.inputs(0);
  const std::string expected_name = model.tail ? kTailInput : kWholeInput;
  if (tensor.name() != expected_name) {
    return absl::InvalidArgumentError(
        absl::StrFormat("input '%s': model '%s' takes one input named '%s'",
                        tensor.name(), model.name, expected_name));
  }
  const bool uint8 = tensor.datatype() == "UINT8";
  if (!(tensor.datatype() == "FP32" || (uint8 && !model.tail))) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input '%s': datatype '%s' is not accepted; use %s", tensor.name(),
        tensor.datatype(), model.tail ? "FP32" : "UINT8 or FP32"));
  }
  const int width = InputWidth(model);
  int64_t per_sample = 1;
  bool bad_shape = tensor.shape_size() < 2;
  for (int d = 1; d < tensor.shape_size() && !bad_shape; ++d) {
    const int64_t extent = tensor.shape(d);
    bad_shape = extent < 1 || extent > width;
    if (!bad_shape) per_sample *= extent;
    bad_shape = bad_shape || per_sample > width;
  }
  if (bad_shape || per_sample != width) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input '%s': shape %s; model '%s' takes [batch, ...] with %d values "
        "per sample",
        tensor.name(), ShapeString(tensor.shape()), model.name, width));
  }
  const int64_t batch = tensor.shape(0);
  if (batch < 1 || batch > max_samples) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input '%s': batch %d; a request carries 1 to %d samples",
        tensor.name(), batch, max_samples));
  }
  const size_t count = static_cast<size_t>(batch) * width;
  absl::StatusOr<std::vector<float>> values =
      InputValues(request, count, uint8);
  if (!values.ok()) return values.status();

  const Model& m = *model.served->model;
  InferenceJob job;
  job.model = model.served->model;
  job.samples = static_cast<int>(batch);
  if (model.tail) {
    if (absl::Status checked = CheckActivationValues(*values, width);
        !checked.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("input '%s': %s", tensor.name(), checked.message()));
    }
    job.part = &m.tail();
    job.inputs = *std::move(values);
    return job;
  }
  const InputTransform& input = m.input();
  job.part = &m.full();
  job.inputs.resize(static_cast<size_t>(batch) * input.width);
  for (int64_t s = 0; s < batch; ++s) {
    absl::Status status =
        input.Apply(absl::MakeConstSpan(*values).subspan(
                        static_cast<size_t>(s) * width, width),
                    job.inputs.data() + static_cast<size_t>(s) * input.width);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input '%s': sample %d: %s", tensor.name(), s, status.message()));
    }
  }
  return job;
}

void FillOipResponse(const inference::ModelInferRequest& request,
                     const OipModel& model,
                     const std::vector<float>& probabilities,
                     inference::ModelInferResponse* response) {
  const Model& m = *model.served->model;
  const int classes = m.num_classes();
  const int64_t samples = static_cast<int64_t>(probabilities.size()) / classes;
  std::vector<std::string> wanted;
  for (const auto& output : request.outputs()) wanted.push_back(output.name());
  if (wanted.empty()) wanted = {kProbabilities, kLabel};
  const bool raw = !request.raw_input_contents().empty();
  response->set_model_name(model.name);
  response->set_model_version(m.id());
  response->set_id(request.id());
  for (const std::string& name : wanted) {
    auto* output = response->add_outputs();
    output->set_name(name);
    output->add_shape(samples);
    if (name == kProbabilities) {
      output->set_datatype("FP32");
      output->add_shape(classes);
      if (raw) {
        response->add_raw_output_contents(
            reinterpret_cast<const char*>(probabilities.data()),
            probabilities.size() * sizeof(float));
      } else {
        *output->mutable_contents()->mutable_fp32_contents() = {
            probabilities.begin(), probabilities.end()};
      }
      continue;
    }
    output->set_datatype("INT64");
    std::vector<int64_t> labels(static_cast<size_t>(samples));
    for (int64_t s = 0; s < samples; ++s) {
      const float* p = probabilities.data() + s * classes;
      labels[s] = std::max_element(p, p + classes) - p;
    }
    if (raw) {
      response->add_raw_output_contents(
          reinterpret_cast<const char*>(labels.data()),
          labels.size() * sizeof(int64_t));
    } else {
      *output->mutable_contents()->mutable_int64_contents() = {labels.begin(),
                                                               labels.end()};
    }
  }
}

}  // namespace spex

#include "tools/train/evaluate.h"

#include <algorithm>

#include "common/codec/activation_codec.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

constexpr int kBatch = 256;

int ArgMax(const float* p, int n) {
  return static_cast<int>(std::max_element(p, p + n) - p);
}

absl::Status InputOf(const Model& model, const Dataset& data, int i,
                     std::vector<float>* raw, float* x) {
  raw->assign(data.sample(i), data.sample(i) + data.width);
  return model.input().Apply(*raw, x);
}

}  // namespace

int Predictions::FinalLabel(int i) const {
  return ArgMax(&final_probs[static_cast<size_t>(i) * classes], classes);
}

int Predictions::ExitLabel(int e, int i) const {
  return ArgMax(&exit_probs[e][static_cast<size_t>(i) * classes], classes);
}

double Predictions::FinalAccuracy() const {
  int correct = 0;
  for (int i = 0; i < samples; ++i) correct += FinalLabel(i) == labels[i];
  return static_cast<double>(correct) / samples;
}

double Predictions::ExitAccuracy(int e) const {
  int correct = 0;
  for (int i = 0; i < samples; ++i) correct += ExitLabel(e, i) == labels[i];
  return static_cast<double>(correct) / samples;
}

absl::StatusOr<Predictions> Predict(const Model& model, const Dataset& data) {
  const ModelPart& full = model.full();
  Predictions out;
  out.samples = data.size();
  out.classes = model.num_classes();
  out.labels = data.labels;
  const size_t exits = full.exits().size();
  out.final_probs.resize(static_cast<size_t>(out.samples) * out.classes);
  out.exit_probs.assign(exits, std::vector<float>(out.final_probs.size()));
  Workspace workspace(full, kBatch);
  const int width = model.input().width;
  const ActivationShape& in_shape = full.layers().front()->in_shape();
  std::vector<float> x(static_cast<size_t>(width) * kBatch), sample(width), raw;
  std::vector<float> y(static_cast<size_t>(out.classes) * kBatch);
  std::vector<float> exit_y(exits * out.classes * kBatch);
  for (int start = 0; start < out.samples; start += kBatch) {
    const int batch = std::min(kBatch, out.samples - start);
    for (int j = 0; j < batch; ++j) {
      SPEX_RETURN_IF_ERROR(
          InputOf(model, data, start + j, &raw, sample.data()));
      PutSampleInBatch(in_shape, j, sample.data(), x.data(),
                       kBatch * in_shape.pixels());
    }
    full.ForwardBatch(batch, x.data(), kBatch * in_shape.pixels(), y.data(),
                      kBatch, exits > 0 ? exit_y.data() : nullptr, kBatch,
                      &workspace);
    for (int j = 0; j < batch; ++j) {
      const size_t row = static_cast<size_t>(start + j) * out.classes;
      for (int c = 0; c < out.classes; ++c) {
        out.final_probs[row + c] = y[static_cast<size_t>(c) * kBatch + j];
        for (size_t e = 0; e < exits; ++e) {
          out.exit_probs[e][row + c] =
              exit_y[(e * out.classes + c) * kBatch + j];
        }
      }
    }
  }
  return out;
}

absl::StatusOr<double> SplitAgreement(const Model& model, const Dataset& data,
                                      v1::Encoding encoding) {
  const ModelPart& head = model.head();
  const ModelPart& tail = model.tail();
  const ModelPart& full = model.full();
  Workspace head_ws(head), tail_ws(tail), full_ws(full);
  std::vector<float> x(model.input().width), raw, split(head.output_width());
  std::vector<float> received, y(model.num_classes()),
      y_full(model.num_classes());
  v1::ActivationPayload payload;
  int agree = 0;
  for (int i = 0; i < data.size(); ++i) {
    SPEX_RETURN_IF_ERROR(InputOf(model, data, i, &raw, x.data()));
    head.Forward(x.data(), split.data(), nullptr, &head_ws);
    SPEX_RETURN_IF_ERROR(
        EncodeActivations(encoding, head.output_width(), 1, split, &payload));
    v1::ActivationPayload wire;
    if (!wire.ParseFromString(payload.SerializeAsString())) {
      return absl::InternalError("payload did not survive serialisation");
    }
    SPEX_RETURN_IF_ERROR(DecodeActivations(wire, &received));
    tail.Forward(received.data(), y.data(), nullptr, &tail_ws);
    full.Forward(x.data(), y_full.data(), nullptr, &full_ws);
    agree += ArgMax(y.data(), model.num_classes()) ==
             ArgMax(y_full.data(), model.num_classes());
  }
  return static_cast<double>(agree) / data.size();
}

}  // namespace spex

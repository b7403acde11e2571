// A loaded model: validated, packed once, immutable, and shared by every
// thread that runs it. Its cuts divide the backbone into the stages of a
// chain (edge, then any middle stages, then the cloud); the boundaries are
// 0, the cuts (split_after first), and the last layer. A segment is the
// layers between two boundaries, with the exits attached in that range:
//
//   head  segment 0..split_after: the edge's part. Its output is the split
//         activation that crosses the network.
//   tail  segment split_after..end (the final classifier): everything after
//         the edge, for a two-stage deployment.
//   full  the whole backbone plus every exit, for evaluation and the trainer.
//
// A stage that continues from any boundary to any later one runs
// Segment(from, to). Segments share the same packed layers, so running them
// one after another computes exactly what full computes (bit for bit).
#ifndef SPEX_COMMON_MODEL_MODEL_H_
#define SPEX_COMMON_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/activation_codec.h"
#include "common/kernels/sparse_layer.h"
#include "common/model/model_part.h"
#include "spex/v1/model.pb.h"

namespace spex {

// How raw samples become the first layer's input (see InputSpec in
// proto/spex/v1/model.proto).
struct InputTransform {
  // InvalidArgument naming the field ("input: shape: ...") when the spec is
  // empty, out of bounds or not finite.
  static absl::StatusOr<InputTransform> FromSpec(const v1::InputSpec& input);

  std::vector<int> shape;
  int raw_width = 0;  // product of shape
  int width = 0;      // raw_width plus zero padding: the first layer's n_in
  float scale = 1.0f;
  float offset = 0.0f;
  // Empty, or raw_width factors each applied before scale and offset
  // (InputSpec.feature_scale, feature_offset).
  std::vector<float> feature_scale;
  std::vector<float> feature_offset;
  // The raw values a sample may hold (InputSpec.range), both included.
  float raw_min = -kMaxValueMagnitude;
  float raw_max = kMaxValueMagnitude;

  // OK when `raw` holds raw_width values, each in [raw_min, raw_max];
  // otherwise InvalidArgument naming the first value outside (its index).
  absl::Status CheckRaw(absl::Span<const float> raw) const;
  absl::Status CheckRaw(absl::Span<const uint8_t> pixels) const;
  // The largest magnitude of the first layer's input over the range (and
  // the padding's zeros).
  double MaxMagnitude() const;

  // x[i] = (raw[i] * feature_scale[i] + feature_offset[i]) * scale + offset
  // (the feature factors when there are any), then zeros up to `width`. x has
  // room for `width` floats. InvalidArgument from CheckRaw; x is then
  // unspecified.
  absl::Status Apply(absl::Span<const float> raw, float* x) const;
  // The same without the checks, for a caller that made them where the
  // input arrived: REQUIRES CheckRaw(raw) is OK.
  void Transform(absl::Span<const float> raw, float* x) const;
  // 8-bit pixels, always finite: REQUIRES pixels.size() == raw_width.
  void Transform(absl::Span<const uint8_t> pixels, float* x) const;
};

struct ModelOptions {
  // Unset: every layer runs the best ISA this CPU has. Set: every layer runs
  // this ISA's kernels (tests compare ISAs; an operator can pin one). Each
  // layer's weight format is chosen by its shape, density and pattern kind
  // either way.
  std::optional<Isa> isa;
};

class Model {
 public:
  // Reads, validates and packs a model file. Every error names the file and,
  // for a bad layer, the layer and the field.
  static absl::StatusOr<std::shared_ptr<const Model>> Load(
      const std::string& path, const ModelOptions& options = {});

  // Validates and packs `proto`. InvalidArgument naming the layer and field
  // on any inconsistency: a wrong or missing model_id, sizes that do not
  // chain, indices out of range or unsorted, degrees other than declared,
  // non-finite numbers, unknown enums, a bad split or exit position.
  static absl::StatusOr<std::shared_ptr<const Model>> FromProto(
      const v1::Model& proto, const ModelOptions& options = {});

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& id() const { return description_.model_id(); }
  const InputTransform& input() const { return input_; }
  int num_classes() const { return full().output_width(); }
  int split_after() const {
    return static_cast<int>(description_.split_after());
  }
  int split_width() const { return head().output_width(); }
  // The activation at the split (channels x height x width; a vector is
  // 1 x 1 pixels).
  const ActivationShape& split_shape() const {
    return head().layers().back()->out_shape();
  }
  int num_layers() const { return boundaries_.back(); }

  // The stages' boundaries: 0, split_after, later_cuts..., num_layers().
  // Stage s (0-based) runs layers boundaries()[s]+1 .. boundaries()[s+1].
  const std::vector<int>& boundaries() const { return boundaries_; }
  int num_stages() const { return static_cast<int>(boundaries_.size()) - 1; }
  bool IsBoundary(int layer) const;
  // Values per sample after `layer` (0: the first layer's input, padded).
  int WidthAfter(int layer) const;

  // Layers from_layer+1..to_layer and the exits after them (an exit after
  // from_layer belongs to the segment before). Null unless both are
  // boundaries and from_layer < to_layer.
  const ModelPart* Segment(int from_layer, int to_layer) const;

  const ModelPart& head() const { return *Segment(0, split_after()); }
  const ModelPart& tail() const {
    return *Segment(split_after(), num_layers());
  }
  const ModelPart& full() const { return *Segment(0, num_layers()); }

  // The file's content without weights, biases and indices: structure,
  // metadata, calibration. For reports and inspection.
  const v1::Model& description() const { return description_; }

 private:
  Model(v1::Model description, InputTransform input,
        std::vector<int> boundaries,
        std::vector<std::unique_ptr<const ModelPart>> segments);

  const v1::Model description_;
  const InputTransform input_;
  const std::vector<int> boundaries_;
  // Segment (i, j) of boundaries i < j at i * boundaries_.size() + j; the
  // other entries are never read.
  const std::vector<std::unique_ptr<const ModelPart>> segments_;
};

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_MODEL_H_

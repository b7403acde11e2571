// A loaded model: validated, packed once, immutable, and shared by every
// thread that runs it. Its three parts are what the system deploys:
//
//   head  backbone layers 1..split_after plus the exit branches: the edge's
//         part. Its output is the split activation that crosses the network.
//   tail  backbone layers split_after+1..end (the final classifier): the
//         cloud's part. Its input is the split activation.
//   full  the whole backbone plus the exits, for evaluation and the trainer.
//
// The parts share the same packed layers, so head then tail computes exactly
// what full computes (bit for bit) on the same kernels.
#ifndef SPEX_COMMON_MODEL_MODEL_H_
#define SPEX_COMMON_MODEL_MODEL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
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

  // x[i] = raw[i] * scale + offset, then zeros up to `width`. x has room for
  // `width` floats. InvalidArgument if raw has the wrong size or a
  // non-finite value (naming its index); x is then unspecified.
  absl::Status Apply(absl::Span<const float> raw, float* x) const;
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
  int num_classes() const { return full_.output_width(); }
  int split_after() const { return static_cast<int>(description_.split_after()); }
  int split_width() const { return head_.output_width(); }

  const ModelPart& head() const { return head_; }
  const ModelPart& tail() const { return tail_; }
  const ModelPart& full() const { return full_; }

  // The file's content without weights, biases and indices: structure,
  // metadata, calibration. For reports and inspection.
  const v1::Model& description() const { return description_; }

 private:
  Model(v1::Model description, InputTransform input, ModelPart head,
        ModelPart tail, ModelPart full);

  const v1::Model description_;
  const InputTransform input_;
  const ModelPart head_;
  const ModelPart tail_;
  const ModelPart full_;
};

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_MODEL_H_

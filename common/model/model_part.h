// A runnable slice of a model: a chain of backbone layers plus the exit
// branches attached inside it. Model (model.h) builds its head, tail and
// full parts from the same packed layers.
//
// Running a part allocates nothing: the caller owns a Workspace per thread,
// made once for the part and the largest batch it will run. A part is
// immutable; any number of threads may run it at once, each with its own
// Workspace.
#ifndef SPEX_COMMON_MODEL_MODEL_PART_H_
#define SPEX_COMMON_MODEL_MODEL_PART_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/kernels/aligned_vector.h"
#include "common/model/layer.h"
#include "spex/v1/model.pb.h"

namespace spex {

// An early-exit classifier inside a part.
struct ExitBranchRuntime {
  // Runs on the output of the part's after_layer-th layer (1-based).
  int after_layer = 0;
  // Its position in the model's exit list (0-based), whatever the part.
  int index = 0;
  v1::ConfidenceMeasure confidence = v1::CONFIDENCE_MEASURE_UNSPECIFIED;
  float threshold = 0.0f;
  std::vector<std::shared_ptr<const Layer>> layers;
};

class Workspace;

class ModelPart {
 public:
  // REQUIRES (checked by Model::FromProto): layers non-empty and chained;
  // every exit attached within 1..layers.size(), chained from that layer's
  // width, all exits with the same output width.
  ModelPart(std::string name, std::vector<std::shared_ptr<const Layer>> layers,
            std::vector<ExitBranchRuntime> exits);

  const std::string& name() const { return name_; }
  int input_width() const { return layers_.front()->n_in(); }
  int output_width() const { return layers_.back()->n_out(); }
  absl::Span<const std::shared_ptr<const Layer>> layers() const {
    return layers_;
  }
  absl::Span<const ExitBranchRuntime> exits() const { return exits_; }
  // Outputs per exit (the number of classes); 0 when the part has no exits.
  int exit_width() const;
  // The widest activation the part produces, inputs and outputs included
  // (values per sample), and the most scratch a layer of it needs for
  // `batch` samples.
  int max_width() const { return max_width_; }
  size_t MaxScratchFloats(size_t batch) const;

  // Backbone layers, exits, and both together.
  const PartCost& backbone_cost() const { return backbone_cost_; }
  const PartCost& exits_cost() const { return exits_cost_; }
  PartCost cost() const;

  // One sample: x holds input_width() floats; y receives output_width();
  // exit e's probabilities go to exit_probs + e * exit_width() (exit_probs
  // may be null to skip the exits). REQUIRES: workspace made for this part.
  void Forward(const float* x, float* y, float* exit_probs,
               Workspace* workspace) const;

  // A batch in layer.h's layout: for a vector, input i of sample j at
  // x[i * x_stride + j] (feature-major); for a feature map, channel c of
  // sample j at x + c * x_stride + j * pixels (channel-major); the same for
  // y; exit e's class c at exit_probs[(e * exit_width() + c) * exit_stride +
  // j] (null: skip). REQUIRES: batch <= workspace->max_batch(), strides >=
  // batch x pixels.
  void ForwardBatch(size_t batch, const float* x, size_t x_stride, float* y,
                    size_t y_stride, float* exit_probs, size_t exit_stride,
                    Workspace* workspace) const;

 private:
  std::string name_;
  std::vector<std::shared_ptr<const Layer>> layers_;
  std::vector<ExitBranchRuntime> exits_;
  int max_width_ = 0;
  PartCost backbone_cost_;
  PartCost exits_cost_;
};

// Scratch activations for running one ModelPart, reused across calls.
class Workspace {
 public:
  explicit Workspace(const ModelPart& part, size_t max_batch = 1);

  size_t max_batch() const { return max_batch_; }

 private:
  friend class ModelPart;
  float* buffer(int i) { return buffers_[i].data(); }
  float* scratch() { return scratch_.data(); }

  size_t max_batch_;
  // Two for the backbone's ping-pong, two for an exit branch's.
  AlignedVector<float> buffers_[4];
  // The largest scratch a layer needs (a convolution's patches).
  AlignedVector<float> scratch_;
};

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_MODEL_PART_H_

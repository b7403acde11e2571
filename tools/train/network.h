// The network under training: backbone and exit junctions, one mini-batch
// forward and backward with the joint loss over the final classifier and the
// exits (sum of w_k x cross-entropy_k, BranchyNet-style).
#ifndef SPEX_TOOLS_TRAIN_NETWORK_H_
#define SPEX_TOOLS_TRAIN_NETWORK_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/train/train_layer.h"

namespace spex {

// Per-thread scratch: activations and their gradients for one batch size.
struct BatchState {
  int capacity = 0;
  std::vector<TrainBuffer> backbone;  // [0] the input, [l] layer l's output
  TrainBuffer scratch;                // the largest layer's
  std::vector<std::vector<TrainBuffer>>
      exits;  // [e][l] exit e's layer l output
  TrainBuffer grad_a, grad_b, grad_exit_a, grad_exit_b;
  // The gradient the exits send to backbone output l (where one reads it).
  std::vector<TrainBuffer> grad_at;
  std::vector<JunctionGradients> backbone_gradients;
  std::vector<std::vector<JunctionGradients>> exit_gradients;
};

struct LossReport {
  double final_loss = 0;          // summed over the batch
  std::vector<double> exit_loss;  // summed over the batch
  int final_correct = 0;
  std::vector<int> exit_correct;
};

class TrainNetwork {
 public:
  static absl::StatusOr<std::unique_ptr<TrainNetwork>> FromModel(
      const v1::Model& model);

  int input_width() const { return backbone_.front()->n_in(); }
  // The first layer reads a map (one row of height x width values per
  // sample) rather than a vector.
  bool input_is_map() const { return backbone_.front()->in_shape().is_map(); }
  int classes() const { return backbone_.back()->n_out(); }
  int num_exits() const { return static_cast<int>(exits_.size()); }
  // True when every layer is dense (runs on Eigen's GEMM) or a pooling.
  bool all_dense() const;
  // Floats a BatchState holds per sample of its capacity.
  size_t FloatsPerSample() const;

  BatchState NewState(int capacity) const;

  // Runs a batch whose input is already in state->backbone[0] (in the
  // layers' layout, train_layer.h) and, if labels is not null, back-propagates
  // the joint loss, each term divided by `loss_scale` (the whole batch's size
  // when the batch is split across threads), into state's gradients (added).
  // Exit e's loss is weighted by its loss_weight; the final classifier's by 1.
  LossReport Step(int batch, const uint8_t* labels, float loss_scale,
                  BatchState* state) const;

  // Probabilities of the final classifier and each exit for the batch in
  // state->backbone[0]: final at probs[c * batch + j], exit e at
  // exit_probs[e][c * batch + j].
  void Predict(int batch, BatchState* state, std::vector<float>* probs,
               std::vector<std::vector<float>>* exit_probs) const;

  // Every layer, backbone first, then each exit's: the optimiser's view.
  std::vector<TrainLayer*> layers();
  void Prepare();  // re-pack after an update

  void WriteTo(v1::Model* model) const;

 private:
  void Forward(int batch, BatchState* state) const;

  std::vector<std::unique_ptr<TrainLayer>> backbone_;
  struct Exit {
    int after_layer;
    float loss_weight;
    std::vector<std::unique_ptr<TrainLayer>> layers;
  };
  std::vector<Exit> exits_;
  std::vector<bool> exit_reads_;  // per backbone layer: an exit reads it
};

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_NETWORK_H_

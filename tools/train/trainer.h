// The training loop: Adam with the reference's settings, L2 on the weights
// (actually applied), mini-batches in a seeded order, the best epoch by
// validation accuracy kept, a progress bar per epoch.
#ifndef SPEX_TOOLS_TRAIN_TRAINER_H_
#define SPEX_TOOLS_TRAIN_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spex/v1/model.pb.h"
#include "tools/data/dataset.h"

namespace spex {

struct TrainOptions {
  int epochs = 15;
  int batch_size = 256;
  float learning_rate = 1e-3f;
  float lr_decay = 1e-5f;  // Keras-style: lr / (1 + decay * iterations)
  float l2 = 8e-5f;        // loss += l2 * sum(w^2) over weights, not biases
  uint64_t seed = 1;
  int threads = 1;
  // Stop after this many epochs without a better validation accuracy
  // (0: run every epoch). The best epoch's weights are kept either way.
  int patience = 0;
  bool show_progress = true;
};

struct EpochStats {
  int epoch = 0;
  double seconds = 0;  // the training pass alone (forward, backward, update)
  double train_loss = 0;
  double train_accuracy = 0;
  double validation_accuracy = 0;
  std::vector<double> validation_exit_accuracy;
};

struct TrainResult {
  std::vector<EpochStats> epochs;
  int best_epoch = 0;
};

// The seed of the validation hold-out drawn from the training set for a
// training seed; calibration draws the same hold-out from it.
inline uint64_t HoldOutSeed(uint64_t training_seed) {
  return training_seed * 0x9e3779b97f4a7c15ull + 0x4011d;
}

// Trains `model` (initialised, e.g. by InitializeModel) in place on `train`,
// selecting the epoch by accuracy on `validation`. The inputs are the raw
// pixels scaled by the model's input spec.
absl::StatusOr<TrainResult> Train(const Dataset& train,
                                  const Dataset& validation,
                                  const TrainOptions& options,
                                  v1::Model* model);

// Accuracy of the final classifier and of each exit of `model` on `data`,
// computed with the trainer's own forward pass (used between epochs).
struct Accuracies {
  double final_accuracy = 0;
  std::vector<double> exit_accuracy;
};
absl::StatusOr<Accuracies> TrainerAccuracy(const v1::Model& model,
                                           const Dataset& data);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_TRAINER_H_

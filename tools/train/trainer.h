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

enum class LrSchedule {
  kInverseTime,  // Keras-style: lr / (1 + lr_decay * iterations)
  kCosine,       // lr * (1 + cos(pi * step / steps)) / 2 over the run
};

struct TrainOptions {
  int epochs = 15;
  int batch_size = 256;
  float learning_rate = 1e-3f;
  LrSchedule schedule = LrSchedule::kInverseTime;
  float lr_decay = 1e-5f;  // for kInverseTime
  float l2 = 8e-5f;        // loss += l2 * sum(w^2) over weights, not biases
  // Augmentation of image inputs (a two-dimensional input shape), drawn
  // afresh for every sample of every epoch: a random shift by up to
  // `shift` pixels each way, the uncovered border filled with the value of
  // a zero pixel (a random crop of the image padded by `shift`), and a
  // horizontal flip with probability 1/2 when `flip`.
  int shift = 0;
  bool flip = false;
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

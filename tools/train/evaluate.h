// A saved model evaluated through the runtime path the daemons use
// (Model::Load, ModelPart), not the trainer's: the accuracies in reports are
// those of the file that will be deployed.
#ifndef SPEX_TOOLS_TRAIN_EVALUATE_H_
#define SPEX_TOOLS_TRAIN_EVALUATE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model.h"
#include "spex/v1/activation.pb.h"
#include "tools/data/dataset.h"

namespace spex {

// Softmax outputs for every sample of a dataset, sample-major
// (sample i's class c at [i * classes + c]).
struct Predictions {
  int samples = 0;
  int classes = 0;
  std::vector<float> final_probs;
  std::vector<std::vector<float>> exit_probs;  // one per exit
  std::vector<uint8_t> labels;

  int FinalLabel(int i) const;
  int ExitLabel(int e, int i) const;
  double FinalAccuracy() const;
  double ExitAccuracy(int e) const;
};

// The full model in feature-major batches (the cloud's path).
absl::StatusOr<Predictions> Predict(const Model& model, const Dataset& data);

// The split as deployed: per sample, head on the edge, the split activation
// encoded with `encoding` and decoded, then the tail; returns the fraction of
// samples whose label equals the full model's.
absl::StatusOr<double> SplitAgreement(const Model& model, const Dataset& data,
                                      v1::Encoding encoding);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_EVALUATE_H_

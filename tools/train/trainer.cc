#include "tools/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/model/model.h"
#include "common/sparsity/seeded_random.h"
#include "common/status/status_macros.h"
#include "tools/common/progress.h"
#include "tools/train/network.h"

namespace spex {
namespace {

constexpr float kBeta1 = 0.9f;
constexpr float kBeta2 = 0.999f;
constexpr float kEpsilon = 1e-7f;  // Keras's default, as the reference used
constexpr int kEvalBatch = 1000;
constexpr int kMicroBatch = 64;

// Raw sample -> network input by the model's InputTransform, laid out as
// the first layer reads it.
struct InputMap {
  InputTransform transform;
  std::vector<float> blank;  // a raw sample of zeros, transformed
  int raw_width;
  int width;
  bool map;        // the first layer reads a map: sample n at x + n * width
  int height = 0;  // of an image input (two-dimensional shape), else 0
  int image_width = 0;

  InputMap(const InputTransform& input, bool input_is_map)
      : transform(input),
        blank(input.width),
        raw_width(input.raw_width),
        width(input.width),
        map(input_is_map) {
    const std::vector<float> zeros(raw_width, 0.0f);
    transform.Transform(zeros, blank.data());
    if (transform.shape.size() >= 2) {
      height = transform.shape[0];
      image_width = transform.raw_width / height;
    }
  }

  // Sample indices[0..batch) into x. With `augment` (a seed per sample
  // given by augment_key + position), each sample is shifted and flipped
  // as TrainOptions says.
  void Gather(const Dataset& data, const int* indices, int batch, float* x,
              const TrainOptions* augment = nullptr,
              uint64_t augment_key = 0) const {
    std::vector<float> image(width);
    for (int j = 0; j < batch; ++j) {
      float* sample = image.data();
      transform.Transform(absl::MakeConstSpan(data.sample(indices[j]),
                                              static_cast<size_t>(raw_width)),
                          sample);
      if (augment != nullptr && height > 0) {
        Augment(*augment, MixSeed(augment_key + j, 0), sample);
      }
      if (map) {
        std::copy(sample, sample + raw_width,
                  x + static_cast<size_t>(j) * width);
      } else {
        for (int i = 0; i < raw_width; ++i) x[i * batch + j] = sample[i];
      }
    }
    if (!map) {
      std::fill(x + static_cast<size_t>(raw_width) * batch,
                x + static_cast<size_t>(width) * batch, 0.0f);
    }
  }

  void Augment(const TrainOptions& options, uint64_t bits,
               float* sample) const {
    const int span = 2 * options.shift + 1;
    const int dy = static_cast<int>(bits % span) - options.shift;
    const int dx = static_cast<int>((bits >> 16) % span) - options.shift;
    const bool flip = options.flip && ((bits >> 32) & 1);
    if (dy == 0 && dx == 0 && !flip) return;
    std::vector<float> source(sample, sample + raw_width);
    for (int r = 0; r < height; ++r) {
      for (int c = 0; c < image_width; ++c) {
        const int sr = r + dy;
        int sc = c + dx;
        if (flip) sc = image_width - 1 - sc;
        sample[r * image_width + c] =
            sr < 0 || sr >= height || sc < 0 || sc >= image_width
                ? blank[r * image_width + c]
                : source[sr * image_width + sc];
      }
    }
  }
};

// Samples a BatchState holds for evaluation: up to 1,000, fewer when the
// network's activations are large (a CNN's maps), about 64 MB at most.
int EvalBatch(const TrainNetwork& network) {
  const size_t floats = network.FloatsPerSample();
  return static_cast<int>(
      std::clamp<size_t>((size_t{16} << 20) / floats, 1, kEvalBatch));
}

struct AdamState {
  TrainBuffer m_w, v_w, m_b, v_b;
};

Accuracies Evaluate(const TrainNetwork& network, const InputMap& input,
                    const Dataset& data, BatchState* state) {
  Accuracies result;
  result.exit_accuracy.assign(network.num_exits(), 0.0);
  int correct = 0;
  std::vector<int> exit_correct(network.num_exits(), 0);
  std::vector<float> probs;
  std::vector<std::vector<float>> exit_probs;
  const int eval_batch = state->capacity;
  std::vector<int> indices(eval_batch);
  const int classes = network.classes();
  const auto argmax = [classes](const std::vector<float>& p, int batch, int j) {
    int best = 0;
    for (int c = 1; c < classes; ++c) {
      if (p[c * batch + j] > p[best * batch + j]) best = c;
    }
    return best;
  };
  for (int start = 0; start < data.size(); start += eval_batch) {
    const int batch = std::min(eval_batch, data.size() - start);
    std::iota(indices.begin(), indices.begin() + batch, start);
    input.Gather(data, indices.data(), batch, state->backbone[0].data());
    network.Predict(batch, state, &probs, &exit_probs);
    for (int j = 0; j < batch; ++j) {
      const int label = data.labels[start + j];
      correct += argmax(probs, batch, j) == label;
      for (int e = 0; e < network.num_exits(); ++e) {
        exit_correct[e] += argmax(exit_probs[e], batch, j) == label;
      }
    }
  }
  result.final_accuracy = static_cast<double>(correct) / data.size();
  for (int e = 0; e < network.num_exits(); ++e) {
    result.exit_accuracy[e] =
        static_cast<double>(exit_correct[e]) / data.size();
  }
  return result;
}

void AdamUpdate(TrainBuffer& params, const TrainBuffer& grads, TrainBuffer& m,
                TrainBuffer& v, float step_size, float l2) {
  for (size_t i = 0; i < params.size(); ++i) {
    const float g = grads[i] + 2.0f * l2 * params[i];
    m[i] = kBeta1 * m[i] + (1.0f - kBeta1) * g;
    v[i] = kBeta2 * v[i] + (1.0f - kBeta2) * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) + kEpsilon);
  }
}

}  // namespace

absl::StatusOr<Accuracies> TrainerAccuracy(const v1::Model& model,
                                           const Dataset& data) {
  SPEX_ASSIGN_OR_RETURN(auto network, TrainNetwork::FromModel(model));
  SPEX_ASSIGN_OR_RETURN(const InputTransform transform,
                        InputTransform::FromSpec(model.input()));
  BatchState state = network->NewState(EvalBatch(*network));
  return Evaluate(*network, InputMap(transform, network->input_is_map()), data,
                  &state);
}

absl::StatusOr<TrainResult> Train(const Dataset& train,
                                  const Dataset& validation,
                                  const TrainOptions& options,
                                  v1::Model* model) {
  if (options.batch_size < 1 || options.epochs < 1 || options.threads < 1) {
    return absl::InvalidArgumentError(
        "batch size, epochs and threads must be at least 1");
  }
  if (!std::isfinite(options.learning_rate) || options.learning_rate <= 0 ||
      !std::isfinite(options.lr_decay) || options.lr_decay < 0 ||
      !std::isfinite(options.l2) || options.l2 < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "learning rate %g must be finite and positive, its decay %g and L2 %g "
        "finite and >= 0",
        options.learning_rate, options.lr_decay, options.l2));
  }
  if (options.shift < 0 || options.shift > 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a shift of %d pixels; augmentation shifts by 0 to 8", options.shift));
  }
  if (train.size() == 0 || validation.size() == 0) {
    return absl::InvalidArgumentError("empty training or validation set");
  }
  SPEX_ASSIGN_OR_RETURN(auto network, TrainNetwork::FromModel(*model));
  SPEX_ASSIGN_OR_RETURN(const InputTransform transform,
                        InputTransform::FromSpec(model->input()));
  const InputMap input(transform, network->input_is_map());
  if (transform.width != network->input_width()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the input spec gives %d values, the first layer takes %d",
        transform.width, network->input_width()));
  }
  if (input.raw_width != train.width) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the model takes %d raw values per sample, the dataset has %d",
        input.raw_width, train.width));
  }
  for (const Dataset* data : {&train, &validation}) {
    for (uint8_t label : data->labels) {
      if (label >= network->classes()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "the dataset has label %d, the model's classifier has %d outputs "
            "(the last width of the topology must be the class count, %d)",
            label, network->classes(), data->classes));
      }
    }
  }
  const int threads = std::min(options.threads, options.batch_size);
  // Thread t takes columns [t * batch / threads, (t + 1) * batch / threads),
  // in micro-batches: sparse kernels run 64 columns at a time (a wider
  // feature-major row strides the L1 sets badly: 28 instead of 39 GMAC/s
  // measured at 256 columns); GEMM takes the thread's whole share. Either
  // way a thread's state stays within about 256 MB (a CNN's maps).
  const int per_thread = (options.batch_size + threads - 1) / threads;
  const int fits = static_cast<int>(
      std::max<size_t>(1, (size_t{64} << 20) / network->FloatsPerSample()));
  const int micro =
      std::min(fits, network->all_dense() ? per_thread
                                          : std::min(per_thread, kMicroBatch));
  std::vector<BatchState> states;
  for (int t = 0; t < threads; ++t) states.push_back(network->NewState(micro));
  BatchState eval_state = network->NewState(EvalBatch(*network));
  std::vector<TrainLayer*> layers = network->layers();
  std::vector<AdamState> adam(layers.size());
  for (size_t j = 0; j < layers.size(); ++j) {
    adam[j].m_w.assign(layers[j]->weights().size(), 0.0f);
    adam[j].v_w = adam[j].m_w;
    adam[j].m_b.assign(layers[j]->bias().size(), 0.0f);
    adam[j].v_b = adam[j].m_b;
  }
  // Gradients of every layer of one thread, in layers() order.
  const auto gradients_of = [](BatchState& s) {
    std::vector<JunctionGradients*> all;
    for (auto& g : s.backbone_gradients) all.push_back(&g);
    for (auto& exit : s.exit_gradients) {
      for (auto& g : exit) all.push_back(&g);
    }
    return all;
  };

  TrainResult result;
  double best_accuracy = -1.0;
  v1::Model best = *model;
  std::vector<int> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  SeededRandom shuffle(options.seed ^ 0x5eed5eed5eedull);
  long iteration = 0;
  const int batches =
      (train.size() + options.batch_size - 1) / options.batch_size;
  const long total_steps = static_cast<long>(batches) * options.epochs;
  int epochs_without_gain = 0;
  std::vector<uint8_t> labels(options.batch_size);
  std::vector<LossReport> reports(threads);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    shuffle.Shuffle(order.data(), order.size());
    Progress progress(absl::StrFormat("epoch %d/%d", epoch, options.epochs),
                      batches, options.show_progress);
    double loss_sum = 0.0;
    long correct = 0, seen = 0;
    // Augmentation draws depend on the seed, the epoch and the position in
    // the epoch's order, not on threads or timing.
    const uint64_t augment_key =
        MixSeed(options.seed ^ (static_cast<uint64_t>(epoch) << 40), 0);
    const auto started = std::chrono::steady_clock::now();
    for (int b = 0; b < batches; ++b) {
      const int first = b * options.batch_size;
      const int batch = std::min(options.batch_size, train.size() - first);
      for (int j = 0; j < batch; ++j)
        labels[j] = train.labels[order[first + j]];
      // Summed over each thread's micro-batches.
      std::fill(reports.begin(), reports.end(), LossReport());
      const auto work = [&](int t) {
        const int lo = t * batch / threads, hi = (t + 1) * batch / threads;
        BatchState& s = states[t];
        for (JunctionGradients* g : gradients_of(s)) g->Zero();
        for (int m = lo; m < hi; m += micro) {
          const int columns = std::min(micro, hi - m);
          input.Gather(train, order.data() + first + m, columns,
                       s.backbone[0].data(), &options,
                       augment_key + static_cast<uint64_t>(first + m));
          const LossReport r = network->Step(columns, labels.data() + m,
                                             static_cast<float>(batch), &s);
          reports[t].final_loss += r.final_loss;
          reports[t].final_correct += r.final_correct;
          reports[t].exit_loss.resize(r.exit_loss.size());
          for (size_t e = 0; e < r.exit_loss.size(); ++e) {
            reports[t].exit_loss[e] += r.exit_loss[e];
          }
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
      work(0);
      for (auto& thread : pool) thread.join();
      // Sum the threads' gradients in a fixed order: the result depends on
      // the thread count but not on timing.
      std::vector<JunctionGradients*> total = gradients_of(states[0]);
      for (int t = 1; t < threads; ++t) {
        std::vector<JunctionGradients*> part = gradients_of(states[t]);
        for (size_t j = 0; j < total.size(); ++j) total[j]->Add(*part[j]);
      }
      double batch_loss = 0.0;
      for (const LossReport& r : reports) {
        batch_loss += r.final_loss;
        for (double l : r.exit_loss) batch_loss += l;
        correct += r.final_correct;
      }
      if (!std::isfinite(batch_loss)) {
        return absl::InternalError(absl::StrFormat(
            "training diverged: the loss is %f at epoch %d, batch %d (try a "
            "lower learning rate)",
            batch_loss, epoch, b + 1));
      }
      loss_sum += batch_loss;
      seen += batch;
      ++iteration;
      const float lr =
          options.schedule == LrSchedule::kCosine
              ? options.learning_rate * 0.5f *
                    (1.0f +
                     std::cos(3.14159265f * static_cast<float>(iteration - 1) /
                              static_cast<float>(total_steps)))
              : options.learning_rate /
                    (1.0f +
                     options.lr_decay * static_cast<float>(iteration - 1));
      const float step_size =
          lr *
          std::sqrt(1.0f - std::pow(kBeta2, static_cast<float>(iteration))) /
          (1.0f - std::pow(kBeta1, static_cast<float>(iteration)));
      for (size_t j = 0; j < layers.size(); ++j) {
        AdamUpdate(layers[j]->weights(), total[j]->weights, adam[j].m_w,
                   adam[j].v_w, step_size, options.l2);
        AdamUpdate(layers[j]->bias(), total[j]->bias, adam[j].m_b, adam[j].v_b,
                   step_size, 0.0f);
      }
      network->Prepare();
      const double elapsed = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - started)
                                 .count();
      progress.Update(b + 1, absl::StrFormat("loss %.4f, %.0f samples/s",
                                             loss_sum / seen, seen / elapsed));
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.seconds = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    stats.train_loss = loss_sum / seen;
    stats.train_accuracy = static_cast<double>(correct) / seen;
    const Accuracies val = Evaluate(*network, input, validation, &eval_state);
    stats.validation_accuracy = val.final_accuracy;
    stats.validation_exit_accuracy = val.exit_accuracy;
    std::string exits;
    for (double a : val.exit_accuracy)
      exits += absl::StrFormat(", exit %.2f %%", 100 * a);
    progress.Finish(absl::StrFormat(
        "loss %.4f, %.0f samples/s, %.1f s; validation %.2f %%%s",
        stats.train_loss, seen / stats.seconds, stats.seconds,
        100 * val.final_accuracy, exits));
    result.epochs.push_back(stats);
    if (val.final_accuracy > best_accuracy) {
      best_accuracy = val.final_accuracy;
      result.best_epoch = epoch;
      network->WriteTo(&best);
      epochs_without_gain = 0;
    } else if (options.patience > 0 &&
               ++epochs_without_gain >= options.patience) {
      break;
    }
  }
  *model = std::move(best);
  return result;
}

}  // namespace spex

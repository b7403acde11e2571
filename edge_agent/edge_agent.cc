#include "edge_agent/edge_agent.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"
#include "common/logging/log.h"
#include "common/rpc/sample_result.h"
#include "edge_agent/edge_metrics.h"

namespace spex {
namespace {

std::vector<ExitRule> RulesFor(const Model& model,
                               const EdgeAgentOptions& options) {
  std::vector<ExitRule> rules = CalibratedRules(model);
  if (options.threshold.has_value()) {
    for (ExitRule& rule : rules) {
      if (rule.measure == v1::CONFIDENCE_MEASURE_UNSPECIFIED) {
        rule.measure = v1::CONFIDENCE_MEASURE_MAX_SOFTMAX;
      }
      rule.threshold = *options.threshold;
    }
  }
  return rules;
}

}  // namespace

EdgeAgent::EdgeAgent(std::shared_ptr<const Model> model,
                     const EdgeAgentOptions& options, StageClient* cloud,
                     EdgeMetrics* metrics, StageClient* skip)
    : model_(std::move(model)),
      options_(options),
      cloud_(cloud),
      metrics_(metrics),
      skip_(skip),
      rules_(RulesFor(*model_, options)),
      raw_width_(model_->input().raw_width),
      classes_(model_->num_classes()) {
  const int slots = std::max(1, options_.max_queued);
  raw_values_.resize(static_cast<size_t>(slots) * raw_width_);
  exit_values_.resize(static_cast<size_t>(slots) * classes_);
  slots_.resize(slots);
  absl::MutexLock lock(&mutex_);
  for (int s = slots - 1; s >= 0; --s) {
    slots_[s].raw = raw_values_.data() + static_cast<size_t>(s) * raw_width_;
    slots_[s].exit_probabilities =
        exit_values_.data() + static_cast<size_t>(s) * classes_;
    free_slots_.push_back(s);
  }
  if (skip_ != nullptr && cloud_ != nullptr) {
    RouteChooserOptions routes;
    routes.can_skip = true;
    router_ = std::make_unique<RouteChooser>(routes);
  }
  if (options_.controller.has_value() && !rules_.empty()) {
    controller_ = std::make_unique<ThresholdController>(
        *options_.controller, rules_.front().threshold);
  }
  logged_threshold_ = threshold();
  if (metrics_ != nullptr) metrics_->SetThreshold(threshold());
}

EdgeAgent::~EdgeAgent() { Drain(); }

std::unique_ptr<EdgeAgent::Runner> EdgeAgent::TakeRunner() {
  {
    absl::MutexLock lock(&mutex_);
    if (!runners_.empty()) {
      std::unique_ptr<Runner> runner = std::move(runners_.back());
      runners_.pop_back();
      return runner;
    }
  }
  return std::make_unique<Runner>(model_, rules_,
                                  options_.placement == Placement::kEdge);
}

void EdgeAgent::ReturnRunner(std::unique_ptr<Runner> runner) {
  absl::MutexLock lock(&mutex_);
  runners_.push_back(std::move(runner));
}

uint32_t EdgeAgent::ExitNumber(int head_exit) const {
  return static_cast<uint32_t>(model_->head().exits()[head_exit].index + 1);
}

double EdgeAgent::threshold() const {
  if (controller_ != nullptr) return controller_->threshold();
  return rules_.empty() ? 0.0 : rules_.front().threshold;
}

// One log line each time the threshold has moved by 0.05 since the last.
void EdgeAgent::NoteThreshold() {
  const double now = controller_->threshold();
  if (metrics_ != nullptr) metrics_->SetThreshold(now);
  double logged = logged_threshold_.load();
  if (std::fabs(now - logged) >= 0.05 &&
      logged_threshold_.compare_exchange_strong(logged, now)) {
    LogInfo(absl::StrFormat("threshold moved from %.3f to %.3f", logged, now));
  }
}

int EdgeAgent::queued() const {
  absl::MutexLock lock(&mutex_);
  return in_use_;
}

absl::Status EdgeAgent::Classify(const v1::ClassifyRequest& request,
                                 Done done) {
  if (request.top_k() > static_cast<uint32_t>(classes_)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "top_k: %d, but the model has %d classes", request.top_k(), classes_));
  }
  size_t size = 0;
  switch (request.input_case()) {
    case v1::ClassifyRequest::kPixels:
      size = request.pixels().size();
      break;
    case v1::ClassifyRequest::kValues:
      size = static_cast<size_t>(request.values().values_size());
      for (int i = 0; i < request.values().values_size(); ++i) {
        if (!std::isfinite(request.values().values(i))) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "values: entry %d is %f; inputs must be finite", i,
              request.values().values(i)));
        }
      }
      break;
    default:
      return absl::InvalidArgumentError(
          "input: missing; send `pixels` (8-bit values) or `values` (float32)");
  }
  if (size != static_cast<size_t>(raw_width_)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d values, but the model takes %d per sample",
        request.input_case() == v1::ClassifyRequest::kPixels ? "pixels"
                                                             : "values",
        size, raw_width_));
  }
  int slot;
  {
    absl::MutexLock lock(&mutex_);
    if (draining_) {
      return absl::UnavailableError("the edge agent is shutting down");
    }
    if (free_slots_.empty() && !options_.local_when_full) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "queue full: %d samples are waiting for an answer (--max_queued)",
          in_use_));
    }
    slot = free_slots_.empty() ? -1 : free_slots_.back();
    if (slot >= 0) {
      free_slots_.pop_back();
      ++in_use_;
      if (metrics_ != nullptr) metrics_->SetQueueDepth(in_use_);
    }
  }
  if (slot < 0) {
    AnswerWithoutSlot(request, done);
    return absl::OkStatus();
  }
  Slot& s = slots_[slot];
  s.request_id = request.request_id();
  s.top_k = request.top_k();
  s.accepted = absl::Now();
  s.done = std::move(done);
  if (request.input_case() == v1::ClassifyRequest::kPixels) {
    const std::string& pixels = request.pixels();
    for (int i = 0; i < raw_width_; ++i) {
      s.raw[i] = static_cast<uint8_t>(pixels[i]);
    }
  } else {
    std::copy(request.values().values().begin(),
              request.values().values().end(), s.raw);
  }
  std::unique_ptr<Runner> runner = TakeRunner();
  Process(slot, *runner);
  ReturnRunner(std::move(runner));
  return absl::OkStatus();
}

void EdgeAgent::AnswerWithoutSlot(const v1::ClassifyRequest& request,
                                  const Done& done) {
  const absl::Time accepted = absl::Now();
  std::vector<float> raw(raw_width_);  // overload path: not the hot path
  if (request.input_case() == v1::ClassifyRequest::kPixels) {
    for (int i = 0; i < raw_width_; ++i) {
      raw[i] = static_cast<uint8_t>(request.pixels()[i]);
    }
  } else {
    std::copy(request.values().values().begin(),
              request.values().values().end(), raw.begin());
  }
  std::unique_ptr<Runner> runner = TakeRunner();
  absl::StatusOr<LocalResult> local = runner->classifier.Run(raw, runner->rules);
  v1::ClassifyResponse response;
  response.set_request_id(request.request_id());
  v1::AnswerPath path = v1::ANSWER_PATH_UNSPECIFIED;
  if (local.ok() && local->exit >= 0) {
    FillSampleResult(local->probabilities.data(), classes_, request.top_k(),
                     response.mutable_result());
    response.mutable_result()->set_stage(1);
    response.mutable_result()->set_exit(ExitNumber(local->exit));
    path = local->confident ? v1::ANSWER_PATH_LOCAL : v1::ANSWER_PATH_FALLBACK;
    response.set_path(path);
    if (!local->confident) {
      response.set_fallback_reason(v1::FALLBACK_REASON_QUEUE_FULL);
      response.mutable_result()->set_fallback_reason(
          v1::FALLBACK_REASON_QUEUE_FULL);
    }
  } else {
    response.mutable_status()->set_code(
        static_cast<int>(absl::StatusCode::kFailedPrecondition));
    response.mutable_status()->set_message("the model has no exit to answer with");
  }
  ReturnRunner(std::move(runner));
  const absl::Duration elapsed = absl::Now() - accepted;
  response.set_latency_us(
      static_cast<uint32_t>(absl::ToInt64Microseconds(elapsed)));
  if (metrics_ != nullptr) {
    metrics_->RecordAnswer(path, v1::FALLBACK_REASON_QUEUE_FULL,
                           absl::ToDoubleSeconds(elapsed));
  }
  done(std::move(response));
}

void EdgeAgent::Drain() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return in_use_ == 0;
  };
  mutex_.Await(absl::Condition(&idle));
}

void EdgeAgent::Process(int slot, Runner& runner) {
  if (options_.placement == Placement::kCloud) {
    const std::optional<v1::FallbackReason> refused = OffloadInput(slot);
    if (!refused.has_value()) return;
    LocalResult local;
    if (RunExits(slot, runner, &local)) {
      AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, *refused);
    }
    return;
  }
  LocalResult local;
  if (!RunExits(slot, runner, &local)) return;
  if (local.confident && options_.early_exit) {
    AnswerFromExit(slot, v1::ANSWER_PATH_LOCAL, v1::FALLBACK_REASON_UNSPECIFIED);
    Audit(local);
    return;
  }
  if (options_.placement == Placement::kEdge) {
    v1::ClassifyResponse response;
    FillSampleResult(runner.classifier.RunTail().data(), classes_,
                     slots_[slot].top_k, response.mutable_result());
    response.mutable_result()->set_stage(1);  // exit 0: the final classifier
    Answer(slot, std::move(response), v1::ANSWER_PATH_LOCAL,
           v1::FALLBACK_REASON_UNSPECIFIED);
    return;
  }
  if (cloud_ == nullptr) {
    AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK,
                   v1::FALLBACK_REASON_CLOUD_UNREACHABLE);
    return;
  }
  v1::ActivationPayload payload;
  absl::Status encoded =
      EncodeActivations(options_.encoding, model_->split_width(), 1,
                        local.split, &payload);
  if (!encoded.ok()) {
    // An activation the encoding cannot carry (float16 overflow): the
    // exit answers rather than the sample being lost.
    LogWarning(absl::StrCat("cannot encode the split activation: ",
                            encoded.message()));
    AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK,
                   v1::FALLBACK_REASON_CLOUD_REJECTED);
    return;
  }
  std::optional<v1::FallbackReason> refused = OffloadSplit(slot, payload);
  if (refused.has_value()) {
    AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, *refused);
  }
}

bool EdgeAgent::RunExits(int slot, Runner& runner, LocalResult* local) {
  Slot& s = slots_[slot];
  const absl::Time start = absl::Now();
  if (controller_ != nullptr) {
    const float threshold = static_cast<float>(controller_->threshold());
    for (ExitRule& rule : runner.rules) rule.threshold = threshold;
  }
  absl::StatusOr<LocalResult> result = runner.classifier.Run(
      absl::MakeConstSpan(s.raw, static_cast<size_t>(raw_width_)), runner.rules);
  if (metrics_ != nullptr) {
    metrics_->ObserveHead(absl::ToDoubleSeconds(absl::Now() - start));
  }
  if (!result.ok() || result->exit < 0) {
    // Inputs were checked at admission; a model without exits cannot
    // answer locally, so this sample can only be refused.
    v1::ClassifyResponse response;
    response.set_request_id(s.request_id);
    response.mutable_status()->set_code(
        static_cast<int>(absl::StatusCode::kFailedPrecondition));
    response.mutable_status()->set_message(
        result.ok() ? "the model has no exit to answer with"
                    : std::string(result.status().message()));
    Answer(slot, std::move(response), v1::ANSWER_PATH_UNSPECIFIED,
           v1::FALLBACK_REASON_UNSPECIFIED);
    return false;
  }
  *local = *std::move(result);
  std::copy(local->probabilities.begin(), local->probabilities.end(),
            s.exit_probabilities);
  s.exit_label = local->label;
  s.exit_probability = local->probability;
  s.exit = local->exit;
  if (metrics_ != nullptr) metrics_->ObserveConfidence(local->confidence);
  if (controller_ != nullptr) {
    controller_->ObserveDecision(!(local->confident && options_.early_exit));
    NoteThreshold();
  }
  return true;
}

void EdgeAgent::AnswerFromExit(int slot, v1::AnswerPath path,
                               v1::FallbackReason reason) {
  const Slot& s = slots_[slot];
  v1::ClassifyResponse response;
  FillSampleResult(s.exit_probabilities, classes_, s.top_k,
                   response.mutable_result());
  response.mutable_result()->set_stage(1);
  response.mutable_result()->set_exit(ExitNumber(s.exit));
  Answer(slot, std::move(response), path, reason);
}

void EdgeAgent::Answer(int slot, v1::ClassifyResponse response,
                       v1::AnswerPath path, v1::FallbackReason reason) {
  Slot& s = slots_[slot];
  const absl::Duration elapsed = absl::Now() - s.accepted;
  response.set_request_id(s.request_id);
  response.set_path(path);
  if (path == v1::ANSWER_PATH_FALLBACK) {
    response.set_fallback_reason(reason);
    response.mutable_result()->set_fallback_reason(reason);
  }
  response.set_latency_us(
      static_cast<uint32_t>(absl::ToInt64Microseconds(elapsed)));
  if (metrics_ != nullptr) {
    metrics_->RecordAnswer(path, reason, absl::ToDoubleSeconds(elapsed));
  }
  if (controller_ != nullptr && path != v1::ANSWER_PATH_UNSPECIFIED) {
    controller_->ObserveLatency(elapsed);
    NoteThreshold();
  }
  Done done = std::move(s.done);
  s.done = nullptr;
  {
    absl::MutexLock lock(&mutex_);
    free_slots_.push_back(slot);
    --in_use_;
    if (metrics_ != nullptr) metrics_->SetQueueDepth(in_use_);
  }
  // The slot may be reused from here on; `done` owns its own state.
  done(std::move(response));
}

}  // namespace spex

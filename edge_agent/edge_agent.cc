#include "edge_agent/edge_agent.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"
#include "common/rpc/request_status.h"
#include "common/rpc/sample_result.h"
#include "edge_agent/edge_metrics.h"

namespace spex {
namespace {

// A model without exits cannot answer on the device: a sample that the
// placement would answer there is refused.
absl::Status NoExitStatus() {
  return absl::FailedPreconditionError("the model has no exit to answer with");
}

}  // namespace

EdgeAgent::EdgeAgent(std::shared_ptr<const Model> model,
                     const EdgeAgentOptions& options, NextStage* next,
                     EdgeMetrics* metrics, NextStage* skip)
    : model_(std::move(model)),
      options_(options),
      next_(next),
      metrics_(metrics),
      classes_(model_->num_classes()),
      policy_(*model_, options_.threshold, options_.controller,
              options_.accuracy, options_.audit_fraction, metrics),
      route_(next, skip, options_.encoding),
      slots_(
          options_.max_queued, model_->input().raw_width, classes_,
          model_->split_width(),
          metrics == nullptr
              ? std::function<void(int)>()
              : [metrics](int depth) { metrics->SetQueueDepth(depth); }) {}

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
  return std::make_unique<Runner>(model_, policy_.rules(),
                                  options_.placement == Placement::kEdge);
}

void EdgeAgent::ReturnRunner(std::unique_ptr<Runner> runner) {
  absl::MutexLock lock(&mutex_);
  runners_.push_back(std::move(runner));
}

absl::Status EdgeAgent::CheckRequest(const v1::ClassifyRequest& request) const {
  if (request.top_k() > static_cast<uint32_t>(classes_)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "top_k: %d, but the model has %d classes", request.top_k(), classes_));
  }
  const InputTransform& input = model_->input();
  absl::Status checked;
  switch (request.input_case()) {
    case v1::ClassifyRequest::kPixels:
      checked = input.CheckRaw(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(request.pixels().data()),
          request.pixels().size()));
      break;
    case v1::ClassifyRequest::kValues:
      checked = input.CheckRaw(request.values().values());
      break;
    default:
      return absl::InvalidArgumentError(
          "input: missing; send `pixels` (8-bit values) or `values` (float32)");
  }
  if (!checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.input_case() == v1::ClassifyRequest::kPixels ? "pixels: "
                                                             : "values: ",
        checked.message()));
  }
  return absl::OkStatus();
}

absl::Status EdgeAgent::Classify(const v1::ClassifyRequest& request,
                                 Done done) {
  if (absl::Status checked = CheckRequest(request); !checked.ok()) {
    return checked;
  }
  absl::StatusOr<Slot*> slot = slots_.Acquire(request, done);
  if (!slot.ok()) {
    if (!absl::IsResourceExhausted(slot.status()) ||
        !options_.local_when_full) {
      return slot.status();
    }
    AnswerWithoutSlot(request, done);
    return absl::OkStatus();
  }
  std::unique_ptr<Runner> runner = TakeRunner();
  Process(*slot, *runner);
  ReturnRunner(std::move(runner));
  return absl::OkStatus();
}

void EdgeAgent::AnswerWithoutSlot(const v1::ClassifyRequest& request,
                                  const Done& done) {
  const absl::Time accepted = absl::Now();
  // The input read where it lies in the request: no slot to copy it to.
  const RawInput input =
      request.input_case() == v1::ClassifyRequest::kPixels
          ? RawInput::Pixels(absl::MakeConstSpan(
                reinterpret_cast<const uint8_t*>(request.pixels().data()),
                request.pixels().size()))
          : RawInput::Values(request.values().values());
  std::unique_ptr<Runner> runner = TakeRunner();
  policy_.Refresh(absl::MakeSpan(runner->rules));
  const LocalResult local = runner->classifier.Run(input, runner->rules);
  v1::ClassifyResponse response;
  response.set_request_id(request.request_id());
  v1::AnswerPath path = v1::ANSWER_PATH_UNSPECIFIED;
  if (local.decision.exit >= 0) {
    // `local` only where an exit answers in normal operation: with
    // --early_exit=false or the cloud placement every answer is the whole
    // network's, so the exit's answer when full is a fallback, sure or not,
    // and the path still tells an operator which answers were not.
    const bool confident = local.decision.confident && options_.early_exit &&
                           options_.placement != Placement::kCloud;
    path = confident ? v1::ANSWER_PATH_LOCAL : v1::ANSWER_PATH_FALLBACK;
    const v1::FallbackReason reason = confident
                                          ? v1::FALLBACK_REASON_UNSPECIFIED
                                          : v1::FALLBACK_REASON_QUEUE_FULL;
    FillSampleResult(
        local.probabilities.data(), classes_, request.top_k(),
        Answerer{1, model_->head().exits()[local.decision.exit].index + 1,
                 reason},
        response.mutable_result());
    response.set_path(path);
    response.set_fallback_reason(reason);
  } else {
    *response.mutable_status() = ToRequestStatus(NoExitStatus());
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

void EdgeAgent::Drain() { slots_.Drain(); }

void EdgeAgent::Process(Slot* slot, Runner& runner) {
  if (options_.placement == Placement::kCloud) {
    const std::optional<v1::FallbackReason> refused = OffloadInput(slot);
    if (!refused.has_value()) return;
    if (RunExits(slot, runner) != nullptr) {
      AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, *refused);
    }
    return;
  }
  const LocalResult* local = RunExits(slot, runner);
  if (local == nullptr) return;
  const bool answer_here = local->decision.confident && options_.early_exit;
  if (policy_.has_accuracy_objective()) {
    policy_.ObserveConfidence(local->decision.confidence, !answer_here);
    slot->exit_label = local->label;
    slot->confidence = local->decision.confidence;
  }
  if (answer_here) {
    const double rate = policy_.audit_rate();
    const bool audited = DrawAudit(rate);
    AnswerFromExit(slot, v1::ANSWER_PATH_LOCAL, v1::FALLBACK_REASON_UNSPECIFIED,
                   audited);
    // After the answer, from the runner's buffers (still this thread's).
    if (audited) {
      Audit(local->label, local->decision.confidence, rate, local->split);
    }
    return;
  }
  if (options_.placement == Placement::kEdge) {
    v1::ClassifyResponse response;
    FillSampleResult(runner.classifier.RunTail().data(), classes_, slot->top_k,
                     Answerer{1}, response.mutable_result());
    LearnLabel(*slot, static_cast<int>(response.result().label()));
    Answer(slot, std::move(response), v1::ANSWER_PATH_LOCAL,
           v1::FALLBACK_REASON_UNSPECIFIED);
    return;
  }
  // The activation outlives this runner's next sample in the slot.
  std::copy(local->split.begin(), local->split.end(), slot->split.begin());
  const std::optional<v1::FallbackReason> refused = route_.Send(
      slot->split, static_cast<uint32_t>(model_->split_after()), slot->top_k,
      slots_.in_use(), [this, slot](OffloadOutcome outcome) {
        OnOffloaded(slot, std::move(outcome));
      });
  if (refused.has_value()) {
    AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, *refused);
  }
}

const LocalResult* EdgeAgent::RunExits(Slot* slot, Runner& runner) {
  const absl::Time start = absl::Now();
  policy_.Refresh(absl::MakeSpan(runner.rules));
  runner.result = runner.classifier.Run(slot->input, runner.rules);
  const LocalResult& local = runner.result;
  if (metrics_ != nullptr) {
    metrics_->ObserveHead(absl::ToDoubleSeconds(absl::Now() - start));
  }
  if (local.decision.exit < 0) {
    v1::ClassifyResponse response;
    *response.mutable_status() = ToRequestStatus(NoExitStatus());
    Answer(slot, std::move(response), v1::ANSWER_PATH_UNSPECIFIED,
           v1::FALLBACK_REASON_UNSPECIFIED);
    return nullptr;
  }
  std::copy(local.probabilities.begin(), local.probabilities.end(),
            slot->exit_probabilities.begin());
  slot->exit = local.decision.exit;
  if (metrics_ != nullptr)
    metrics_->ObserveConfidence(local.decision.confidence);
  policy_.ObserveDecision(!(local.decision.confident && options_.early_exit));
  return &local;
}

std::optional<v1::FallbackReason> EdgeAgent::OffloadInput(Slot* slot) {
  if (next_ == nullptr) return v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
  const int raw_width = model_->input().raw_width;
  v1::ActivationPayload payload;
  // 8-bit pixels travel as one byte each; float values as float32.
  const absl::Status encoded =
      slot->input.is_pixels()
          ? EncodePixels(raw_width, 1, slot->input.pixels, &payload)
          : EncodeActivations(v1::ENCODING_FLOAT32, raw_width, 1,
                              slot->input.values, &payload);
  if (!encoded.ok()) return v1::FALLBACK_REASON_CLOUD_REJECTED;
  // From layer 0: the next stage runs the whole network.
  return next_->Offload(
      std::move(payload), 0, slot->top_k, [this, slot](OffloadOutcome outcome) {
        if (outcome.ok) {
          OnOffloaded(slot, std::move(outcome));
          return;
        }
        // The cloud could not: the device computes the
        // exit's answer now.
        std::unique_ptr<Runner> runner = TakeRunner();
        if (RunExits(slot, *runner) != nullptr) {
          AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, outcome.reason);
        }
        ReturnRunner(std::move(runner));
      });
}

void EdgeAgent::OnOffloaded(Slot* slot, OffloadOutcome outcome) {
  if (!outcome.ok) {
    AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, outcome.reason);
    return;
  }
  if (IsReferenceAnswer(outcome.result)) {
    LearnLabel(*slot, static_cast<int>(outcome.result.label()));
  }
  v1::ClassifyResponse response;
  *response.mutable_result() = std::move(outcome.result);
  Answer(slot, std::move(response), v1::ANSWER_PATH_CLOUD,
         v1::FALLBACK_REASON_UNSPECIFIED);
}

void EdgeAgent::AnswerFromExit(Slot* slot, v1::AnswerPath path,
                               v1::FallbackReason reason, bool audited) {
  v1::ClassifyResponse response;
  response.set_audited(audited);
  FillSampleResult(slot->exit_probabilities.data(), classes_, slot->top_k,
                   Answerer{1, model_->head().exits()[slot->exit].index + 1,
                            path == v1::ANSWER_PATH_FALLBACK
                                ? reason
                                : v1::FALLBACK_REASON_UNSPECIFIED},
                   response.mutable_result());
  Answer(slot, std::move(response), path, reason);
}

void EdgeAgent::Answer(Slot* slot, v1::ClassifyResponse response,
                       v1::AnswerPath path, v1::FallbackReason reason) {
  const absl::Duration elapsed = absl::Now() - slot->accepted;
  response.set_request_id(slot->request_id);
  response.set_path(path);
  if (path == v1::ANSWER_PATH_FALLBACK) response.set_fallback_reason(reason);
  response.set_latency_us(
      static_cast<uint32_t>(absl::ToInt64Microseconds(elapsed)));
  if (metrics_ != nullptr) {
    metrics_->RecordAnswer(path, reason, absl::ToDoubleSeconds(elapsed));
  }
  if (path != v1::ANSWER_PATH_UNSPECIFIED) policy_.ObserveLatency(elapsed);
  Done done = std::move(slot->done);
  slot->done = nullptr;
  slots_.Release(slot);
  // The slot may be reused from here on; `done` owns its own state.
  done(std::move(response));
}

void EdgeAgent::LearnLabel(const Slot& slot, int full_label) {
  if (slot.exit_label < 0) return;
  policy_.ObserveLabel(slot.confidence, slot.exit_label == full_label, 1.0);
}

bool EdgeAgent::DrawAudit(double rate) {
  // (Placement kCloud answers nothing locally but fallbacks: no audits.)
  if (next_ == nullptr || rate <= 0.0) return false;
  absl::MutexLock lock(&mutex_);
  std::uniform_real_distribution<double> draw(0.0, 1.0);
  return draw(audit_random_) < rate;
}

void EdgeAgent::Audit(int label, float confidence, double rate,
                      absl::Span<const float> split) {
  v1::ActivationPayload payload;
  if (!EncodeActivations(options_.encoding, model_->split_width(), 1, split,
                         &payload)
           .ok()) {
    return;
  }
  if (metrics_ != nullptr) {
    metrics_->AddAuditBytes(static_cast<int64_t>(payload.ByteSizeLong()));
  }
  const uint32_t exit_label = static_cast<uint32_t>(label);
  EdgeMetrics* metrics = metrics_;
  ExitPolicy* policy = &policy_;
  // Not answered through a slot: the answer went out already, and an audit
  // the next stage cannot take (busy, down) is simply not counted.
  (void)next_->Offload(
      std::move(payload), static_cast<uint32_t>(model_->split_after()), 0,
      [metrics, policy, exit_label, confidence, rate](OffloadOutcome outcome) {
        if (!outcome.ok || !IsReferenceAnswer(outcome.result)) return;
        const bool agree = outcome.result.label() == exit_label;
        if (metrics != nullptr) metrics->RecordAudit(agree);
        policy->ObserveLabel(confidence, agree, rate);
      });
}

}  // namespace spex

// Next stages in process, behind the NextStage seam (common/stage/
// next_stage.h), so that a stage's logic is tested without processes or
// sockets:
//   InProcessStage  a real CloudCore answers, one request per sample, as a
//                   StageClient's stream would carry it;
//   ScriptedStage   a stage that fails as a test tells it to (refusing,
//                   failing, slow, dead), answering through another stage
//                   when it answers at all, its deadline enforced as
//                   StageClient enforces it.
#ifndef SPEX_TESTS_SUPPORT_IN_PROCESS_STAGE_H_
#define SPEX_TESTS_SUPPORT_IN_PROCESS_STAGE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cloud_service/cloud_core.h"
#include "common/stage/next_stage.h"

namespace spex {

class InProcessStage : public NextStage {
 public:
  // `core` outlives this stage; every request names `model_id`.
  InProcessStage(CloudCore* core, std::string model_id,
                 absl::Duration deadline = absl::Seconds(5))
      : core_(core), model_id_(std::move(model_id)), deadline_(deadline) {}

  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t from_layer, uint32_t top_k,
                                            Done done) override {
    v1::InferRequest request;
    request.set_request_id(++next_id_);
    request.set_model_id(model_id_);
    request.set_from_layer(from_layer);
    request.set_top_k(top_k);
    *request.mutable_activation() = std::move(payload);
    ++offloads_;
    if (request.activation().encoding() == v1::ENCODING_UINT8) ++byte_inputs_;
    const absl::Time sent = absl::Now();
    core_->Infer(request, model_id_,
                 [done = std::move(done), sent](absl::Status status,
                                                v1::InferResponse response) {
                   OffloadOutcome outcome;
                   outcome.round_trip = absl::Now() - sent;
                   if (status.ok() && response.results_size() == 1) {
                     outcome.ok = true;
                     outcome.result = std::move(*response.mutable_results(0));
                   } else {
                     outcome.reason = v1::FALLBACK_REASON_CLOUD_REJECTED;
                   }
                   done(std::move(outcome));
                 });
    return std::nullopt;
  }
  absl::Duration deadline() const override { return deadline_; }
  // Samples sent here so far, and those of them sent as raw bytes.
  int offloads() const { return offloads_.load(); }
  int byte_inputs() const { return byte_inputs_.load(); }

 private:
  CloudCore* const core_;
  const std::string model_id_;
  const absl::Duration deadline_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<int> offloads_{0};
  std::atomic<int> byte_inputs_{0};
};

// A middle stage's next stages in process: an InProcessStage per model,
// over one CloudCore.
class InProcessStages : public NextStages {
 public:
  explicit InProcessStages(CloudCore* core) : core_(core) {}
  NextStage& For(const std::string& model_id) override {
    absl::MutexLock lock(&mutex_);
    std::unique_ptr<InProcessStage>& stage = stages_[model_id];
    if (stage == nullptr) {
      stage = std::make_unique<InProcessStage>(core_, model_id);
    }
    return *stage;
  }

 private:
  CloudCore* const core_;
  absl::Mutex mutex_;
  std::map<std::string, std::unique_ptr<InProcessStage>> stages_
      ABSL_GUARDED_BY(mutex_);
};

class ScriptedStage : public NextStage {
 public:
  enum class Behavior {
    kAnswer,  // passes the sample to `answering`, after `delay`
    kRefuse,  // Offload returns `reason` at once
    kFail,    // the outcome is `reason`, after `delay`
    kSilent,  // never answers: the deadline does
  };
  struct Script {
    Behavior behavior = Behavior::kAnswer;
    v1::FallbackReason reason = v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
    absl::Duration delay = absl::ZeroDuration();
  };

  // `answering` (may be null unless the script answers) outlives this.
  ScriptedStage(NextStage* answering, Script script,
                absl::Duration deadline = absl::Milliseconds(200))
      : answering_(answering),
        deadline_(deadline),
        script_(script),
        timer_([this] { TimerLoop(); }) {}

  // Runs every task still due at once (each sample offloaded gets its one
  // outcome), then stops.
  ~ScriptedStage() override {
    {
      absl::MutexLock lock(&mutex_);
      stopping_ = true;
      wake_.Signal();
    }
    timer_.join();
  }

  void set_script(Script script) {
    absl::MutexLock lock(&mutex_);
    script_ = script;
  }
  int offloads() const { return offloads_.load(); }

  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t from_layer, uint32_t top_k,
                                            Done done) override {
    Script script;
    {
      absl::MutexLock lock(&mutex_);
      script = script_;
    }
    if (script.behavior == Behavior::kRefuse) return script.reason;
    ++offloads_;
    const absl::Time sent = absl::Now();
    auto shared = std::make_shared<Done>(std::move(done));
    auto settled = std::make_shared<std::atomic<bool>>(false);
    // Whichever comes first settles the sample: its outcome or the deadline.
    auto settle = [shared, settled, sent](OffloadOutcome outcome) {
      if (settled->exchange(true)) return;
      outcome.round_trip = absl::Now() - sent;
      (*shared)(std::move(outcome));
    };
    OffloadOutcome late;
    late.reason = v1::FALLBACK_REASON_DEADLINE;
    Schedule(sent + deadline_, [settle, late] { settle(late); });
    switch (script.behavior) {
      case Behavior::kAnswer:
        Schedule(sent + script.delay, [this, payload = std::move(payload),
                                       from_layer, top_k, settle]() mutable {
          std::optional<v1::FallbackReason> refused = answering_->Offload(
              std::move(payload), from_layer, top_k, settle);
          if (refused.has_value()) {
            OffloadOutcome failed;
            failed.reason = *refused;
            settle(failed);
          }
        });
        break;
      case Behavior::kFail: {
        OffloadOutcome failed;
        failed.reason = script.reason;
        Schedule(sent + script.delay, [settle, failed] { settle(failed); });
        break;
      }
      case Behavior::kSilent:
      case Behavior::kRefuse:
        break;
    }
    return std::nullopt;
  }
  absl::Duration deadline() const override { return deadline_; }

 private:
  void Schedule(absl::Time when, std::function<void()> task) {
    absl::MutexLock lock(&mutex_);
    tasks_.emplace(when, std::move(task));
    wake_.Signal();
  }

  void TimerLoop() {
    absl::MutexLock lock(&mutex_);
    while (true) {
      if (tasks_.empty()) {
        if (stopping_) return;
        wake_.Wait(&mutex_);
        continue;
      }
      auto first = tasks_.begin();
      if (!stopping_ && first->first > absl::Now()) {
        wake_.WaitWithDeadline(&mutex_, first->first);
        continue;
      }
      std::function<void()> task = std::move(first->second);
      tasks_.erase(first);
      mutex_.Unlock();
      task();
      mutex_.Lock();
    }
  }

  NextStage* const answering_;
  const absl::Duration deadline_;
  std::atomic<int> offloads_{0};
  absl::Mutex mutex_;
  absl::CondVar wake_;
  Script script_ ABSL_GUARDED_BY(mutex_);
  std::multimap<absl::Time, std::function<void()>> tasks_
      ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread timer_;
};

}  // namespace spex

#endif  // SPEX_TESTS_SUPPORT_IN_PROCESS_STAGE_H_

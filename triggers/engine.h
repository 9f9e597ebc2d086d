// Engine: one pipeline's trigger engine. Owns the pipeline's configured triggers, routes every
// event to every trigger, asks the ready ones whether they fire, and turns their fires into a
// Decision under the pipeline's rate limits:
//
//   * at most one training in flight: fires that arrive meanwhile are held and coalesce into
//     ONE follow-up training, started when allowed, carrying every held fire (reasons and
//     evidence), oldest first;
//   * cooldown: no training starts within `cooldown` after the previous one finished (any
//     outcome);
//   * min_interval: no training starts within `min_interval` after the previous one started;
//   * failure backoff: after k consecutive failed trainings (the trainer crashed, its loss went
//     non-finite, it could not be launched), no training starts within
//     min(failure_backoff * 2^(k-1), failure_backoff_max) after the last one finished; a
//     succeeded training resets k (a candidate the gate rejected still trained: it counts as
//     succeeded), a cancelled one leaves it as it is;
//   * manual fires skip cooldown, failure backoff and min_interval (a person asked), never the
//     in-flight rule;
//   * warm-up: triggers that are not ready() are not evaluated; describe() lists them;
//   * superseded: when a model is promoted, held fires whose evidence names an older
//     `model_version` (decay judged the previous model) are dropped and reported, so a
//     training that replaced a decayed model is not followed by a retraining for the same decay.
//
// A kStartTraining decision means the engine now counts a training as in flight and has told
// every trigger (on_training_started); the caller launches it and reports its end with
// training_finished() (also when the launch failed), passing the promoted model if the run
// produced one, so the promotion is seen before held fires are released. Held fires are released by
// the next event or tick() once the limits allow, or by training_finished() when no limit is
// pending.
//
// Time comes from the injected Clock. Thread-safety: none; the pipeline's manager calls it
// from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

struct RateLimits {
  std::chrono::seconds cooldown{0};      // after a training finishes
  std::chrono::seconds min_interval{0};  // between two training starts
  // After consecutive failures (see above); 0 disables the backoff.
  std::chrono::seconds failure_backoff{60};
  std::chrono::seconds failure_backoff_max{3600};  // >= failure_backoff
};

// What the engine remembers across daemon restarts (from the run store), so limits hold.
struct EngineHistory {
  std::optional<TimePoint> last_training_started;
  std::optional<TimePoint> last_training_finished;
  bool training_in_flight = false;
  int consecutive_failures = 0;  // failed trainings since the last one that succeeded
};

enum class DecisionKind { kNone, kStartTraining, kDeferred };
enum class DeferReason { kInFlight, kCooldown, kFailureBackoff, kMinInterval };
enum class TrainingOutcome { kSucceeded, kFailed, kCancelled };

std::string_view to_string(DecisionKind kind);
std::string_view to_string(DeferReason reason);
std::string_view to_string(TrainingOutcome outcome);

struct Decision {
  DecisionKind kind = DecisionKind::kNone;
  std::optional<DeferReason> deferred_by;  // kDeferred
  std::optional<TimePoint> not_before;     // kDeferred by cooldown or min_interval
  // kStartTraining: every fire this training answers, held ones first. kDeferred: the fires
  // that just arrived and are now held.
  std::vector<Fire> fires;
  std::int64_t omitted_fires = 0;  // held fires dropped beyond the cap (counted, not kept)
  std::vector<Fire> superseded;    // held fires dropped because they judged an older model
  bool follow_up = false;          // kStartTraining that releases held fires
  TimePoint at{};

  bool start_training() const { return kind == DecisionKind::kStartTraining; }
  nlohmann::json to_json() const;
};

// Told of every evaluation the engine makes of a top-level trigger, with its fire or null
// (triggers warming up are not evaluated, so not reported). Called on the engine's thread,
// inside the engine call that evaluated; it must not call the engine.
using EvaluationListener = std::function<void(const Trigger& trigger, const Fire* fire)>;

class Engine {
 public:
  // Errors on duplicate trigger names, a null trigger or negative limits.
  static Result<std::unique_ptr<Engine>> create(std::string pipeline, const Clock& clock,
                                                RateLimits limits,
                                                std::vector<std::unique_ptr<Trigger>> triggers,
                                                EngineHistory history = {});

  Decision on_labels(const LabeledBatch& batch);
  Decision on_inferences(const InferenceBatch& batch);
  Decision on_metric(const MetricPoint& point);
  Decision on_model_promoted(const ModelContext& model);
  // Clock progress alone (schedules, releasing held fires after a cooldown). Call at least
  // once a minute.
  Decision tick();
  // A person's request through the API/CLI, to the top-level ManualTrigger named `trigger`.
  Result<Decision> request_manual(std::string_view trigger, std::string reason,
                                  std::string requested_by);
  // Fires that a previous process held and never acted on, handed back after a restart (the
  // caller persists held fires): they are held again and decided like new fires, so they start
  // a training as soon as the rate limits (restored through EngineHistory) allow.
  Decision resume_held(std::vector<Fire> fires);

  // The training started by the last kStartTraining decision ended (or never launched).
  // `promoted`: the model it produced when that model was promoted, else null.
  Decision training_finished(TrainingOutcome outcome, const ModelContext* promoted = nullptr);

  // Replaces the evaluation listener (none by default; an empty function removes it).
  void set_evaluation_listener(EvaluationListener listener) { listener_ = std::move(listener); }

  bool training_in_flight() const { return in_flight_; }
  int consecutive_failures() const { return consecutive_failures_; }
  // How long the failure backoff holds trainings after the last end (0 after a success).
  std::chrono::seconds failure_backoff() const;
  std::size_t held_fires() const { return held_.size(); }
  const std::string& pipeline() const { return pipeline_; }
  nlohmann::json describe() const;

  // Held fires beyond this many are counted, not kept.
  static constexpr std::size_t kMaxHeldFires = 256;

 private:
  Engine(std::string pipeline, const Clock& clock, RateLimits limits,
         std::vector<std::unique_ptr<Trigger>> triggers, EngineHistory history);
  std::vector<Fire> evaluate_triggers(TimePoint now);
  Decision decide(TimePoint now, std::vector<Fire> new_fires);
  // Routes a promotion to the triggers and returns the held fires it supersedes.
  std::vector<Fire> promote(const ModelContext& model);
  // The earliest start the limits allow for non-manual fires, if later than `now`.
  std::optional<std::pair<DeferReason, TimePoint>> limit_at(TimePoint now) const;
  Decision start(TimePoint now, bool releases_held);
  template <typename Event>
  Decision route(const Event& event, void (Trigger::*handler)(const Event&));

  std::string pipeline_;
  const Clock& clock_;
  RateLimits limits_;
  std::vector<std::unique_ptr<Trigger>> triggers_;
  std::vector<Fire> held_;
  std::int64_t omitted_ = 0;
  bool in_flight_ = false;
  std::optional<TimePoint> last_started_;
  std::optional<TimePoint> last_finished_;
  std::optional<TrainingOutcome> last_outcome_;
  int consecutive_failures_ = 0;
  std::int64_t trainings_started_ = 0;
  EvaluationListener listener_;
};

}  // namespace ctd::triggers

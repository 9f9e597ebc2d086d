// The continuous-training loop of one pipeline, run by the replica that leads it
// (daemon/leadership.h): new labeled samples go to the pipeline's trigger engine, and a
// decision to retrain becomes trigger event rows, a training run (TrainingService) and the
// promotion gate (PromotionService); the outcome goes back to the engine, and a promoted model
// becomes the triggers' new reference and baseline.
//
// Samples are read from PostgreSQL in sequence order (sequence order is commit order), so the
// leader sees every partition's samples, whichever replica ingested them. State that must
// survive a restart lives in PostgreSQL: a new leader feeds the engine from the end of the
// newest training's snapshot, anchors schedules at their last recorded fire, takes the rate
// limits' history from training_runs, and holds again the events a previous leader held.
//
// The inferences and metric points of the pipeline feed the engine the same way (drift windows
// and metric-based decay); a new leader starts the inferences at the newest
// kMaxSamplesPerStep, so drift windows refill, and the metrics at the newest point.
//
// Production changes made outside the loop (`ctd registry promote`/`rollback`, `ctd train`, a
// guardrail's rollback) reach the engine as a promotion in the next round, unless the loop's
// own training is in flight (its end reports production then).
//
// A failed training (the trainer crashed or timed out, or the run could not start) is recorded
// and the pipeline keeps its production model; the triggers re-arm, and repeated failures back
// off exponentially (the engine's failure_backoff, whose count of failures in a row a new
// leader takes from training_runs).
//
// Trainings abandoned by a daemon that died (RunStore::recover_abandoned, also run by a new
// leader, so a takeover recovers its dead predecessor's runs) are retried: the events their run
// answered are held again (deferred_by "retry") and start a new training, up to
// `retry_abandoned` times per event. Only the pipeline's newest run is retried; a later
// training has answered older ones.
//
// Prequential scoring: before new labeled samples reach the engine, the production model
// (loaded in-process, daemon/production_model.h, reloaded when the production alias moves)
// scores them; the per-sample errors go to the decay trigger (LabeledBatch::errors), and their
// sums per window of kScoreWindow samples to the prequential_scores table and the
// ctd_prequential_* metrics. A model that cannot score a batch leaves that batch unscored (the
// decay trigger sees no errors for it); the loop goes on.
//
// Every evaluation the engine makes is counted (ctd_trigger_evaluations_total), and after each
// round the drift triggers' last checks are exported per feature (ctd_drift_statistic, bounded:
// daemon/trigger_metrics.h); reset() retires those series, so only the leader exports them.
//
// The API reaches the loop through a PipelineControl (daemon/pipeline_control.h): each round
// answers its queued manual requests and, after the triggers, publishes the engine's
// describe() (the same one the drift metrics are exported from); a pipeline paused
// in pipeline_controls (migration 0007) skips its triggers for the round
// (pipeline_manager_control.cc).
//
// Thread-safety: step() and reset() from one thread (the leader loop); the training and its
// gate run on a thread of the manager's own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/options.h"
#include "daemon/alerts.h"
#include "daemon/metrics.h"
#include "daemon/pipeline_control.h"
#include "daemon/production_model.h"
#include "daemon/promotion_service.h"
#include "daemon/run_store.h"
#include "daemon/training_service.h"
#include "daemon/trigger_metrics.h"
#include "registry/registry.h"
#include "triggers/engine.h"

namespace ctd::loop {

// The loop's Prometheus families, registered once and shared by the pipelines' managers.
struct LoopMetrics {
  explicit LoopMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& scored_samples;
  metrics::Family<metrics::Counter>& scored_errors;
  metrics::Family<metrics::Counter>& scoring_failures;
  metrics::Family<metrics::Gauge>& scoring_version;
  TriggerMetrics triggers;  // evaluations and drift statistics (daemon/trigger_metrics.h)
};

class PipelineManager {
 public:
  // Samples read per round at most (the rest follow in later rounds).
  static constexpr std::int64_t kMaxSamplesPerStep = 50'000;
  // Prequential scores are stored per window of this many sequence numbers.
  static constexpr std::int64_t kScoreWindow = 500;

  PipelineManager(const config::PipelineOptions& pipeline, std::string dsn,
                  training::TrainingService& training, training::RunStore& runs,
                  int retry_abandoned, promotion::PromotionService& promotion,
                  registry::Registry& registry, LoopMetrics& metrics);
  ~PipelineManager();  // waits for the training thread (stop the TrainingService first)
  PipelineManager(const PipelineManager&) = delete;
  PipelineManager& operator=(const PipelineManager&) = delete;

  // One round: a finished training's outcome, new samples, the clock, and what the engine
  // decides. Throws on database errors (the caller logs them; the next round retries).
  void step();

  // Forgets the in-memory state (leadership moved away); the next step() starts over from
  // PostgreSQL. A training in flight is left to finish on its thread.
  void reset();

  const std::string& pipeline() const { return pipeline_.name; }

  // Whether the loop's training, or the gate of its candidate, is still going on its thread.
  // REQUIRES: no step() or reset() runs concurrently (the leader loop has stopped).
  bool training_in_flight() const { return runner_.joinable() && !runner_done_; }

  // Where the loop reports its events (a trigger fired, a training failed, a candidate was
  // rejected, production moved: promoted or rolled back, by whoever moved it) as one-off alerts
  // lasting `event_ttl`. Call before the first step(); null (the default) reports nothing.
  void set_notifier(alerts::Notifier* notifier, std::chrono::seconds event_ttl) {
    notifier_ = notifier;
    event_ttl_ = event_ttl;
  }

  // The API's handle (daemon/pipeline_control.h), served by every step(); optional. Call
  // before the first step().
  void set_control(std::shared_ptr<PipelineControl> control) { control_ = std::move(control); }

 private:
  struct Held {
    std::int64_t event_id = 0;
    std::string trigger;
    triggers::TimePoint at{};
  };
  struct Finished {
    triggers::TrainingOutcome outcome = triggers::TrainingOutcome::kFailed;
    std::optional<int> promoted_version;
    std::int64_t run_id = 0;
    std::string failure;                  // kFailed: why
    std::optional<int> rejected_version;  // the gate rejected the run's candidate
    std::string rejection;                // ... why, with the numbers
  };

  void start();
  // In pipeline_manager_control.cc: answers the control's manual requests and returns whether
  // the pipeline is paused (pipeline_controls). step() publishes the round's state after it.
  bool serve_control();
  void answer(PipelineControl::Pending& pending);
  // Holds again the events of the pipeline's newest run when it was abandoned (see above).
  void retry_abandoned();
  void feed_samples();
  // The production model's errors on `data` (empty when none is loaded or it cannot score
  // them); stores their window sums.
  std::vector<double> score(const trainers::Dataset& data, const triggers::FeatureBatchView& view);
  void store_scores(const trainers::Dataset& data, const std::vector<double>& errors, int version);
  void feed_inferences();
  void feed_metrics();
  void handle(const triggers::Decision& decision);
  void alert(std::string name, std::string severity, std::map<std::string, std::string> labels,
             std::string summary, std::string description = {});
  void alert_finished(const Finished& finished);
  // Alerts for production moves recorded since the last call (alias_history).
  void alert_production_moves();
  void start_training(const triggers::Decision& decision);
  void finish_training();
  // Tells the engine about production `version` (a new reference and baseline): as the end of
  // the training that produced it when `finished` is set, else as a promotion.
  void promoted(int version, std::optional<triggers::TrainingOutcome> finished);
  std::vector<std::int64_t> record(const std::vector<triggers::Fire>& fires,
                                   const std::string& status,
                                   std::optional<std::string> deferred_by,
                                   std::optional<std::int64_t> run_id);

  config::PipelineOptions pipeline_;
  std::string dsn_;
  training::TrainingService& training_;
  training::RunStore& runs_;
  int retry_abandoned_;
  promotion::PromotionService& promotion_;
  registry::Registry& registry_;
  triggers::SystemClock clock_;
  triggers::FeatureLayout layout_;
  metrics::Counter& scored_samples_;
  metrics::Counter& scored_errors_;
  metrics::Counter& scoring_failures_;
  metrics::Gauge& scoring_version_;
  metrics::Family<metrics::Counter>& evaluations_;
  DriftExport drift_export_;

  std::unique_ptr<pg::PgConnection> connection_;
  std::unique_ptr<triggers::Engine> engine_;
  int pipeline_id_ = 0;
  std::int64_t last_seq_ = 0;            // labeled samples fed up to here
  std::int64_t last_inference_seq_ = 0;  // inferences fed up to here
  std::int64_t last_metric_seq_ = 0;     // metric points fed up to here
  std::int64_t scored_seq_ = 0;          // prequential scores stored up to here
  std::optional<int> engine_version_;    // the production version the engine was told of
  std::unique_ptr<scoring::ProductionModel> production_model_;
  std::vector<Held> held_;
  alerts::Notifier* notifier_ = nullptr;
  std::chrono::seconds event_ttl_{3600};
  std::int64_t alerted_history_id_ = 0;  // production moves alerted up to here

  std::thread runner_;
  std::atomic<bool> runner_done_{false};
  std::mutex mutex_;
  std::optional<Finished> finished_;  // guarded by mutex_
  std::shared_ptr<PipelineControl> control_;
};

}  // namespace ctd::loop

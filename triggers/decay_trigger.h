// DecayTrigger: retrain when the production model's performance decays. One trigger watches
// one signal with one criterion; configure several (or a composite) to combine criteria.
//
// Signals
//   kPrequentialError  LabeledBatch::errors: the production model's error on each new labeled
//                      sample before training on it (0/1 or absolute error). Lower is better.
//   kMetric            MetricPoint values named `metric` (e.g. "accuracy", "ctr"), weighted by
//                      their `count` when present; points naming another model version than
//                      the production one are ignored. `higher_is_better` gives the direction.
//
// Criteria (window criteria work on the mean of consecutive tumbling windows of
// `window_samples` errors or `window_points` metric points; detectors see every value)
//   kStaticThreshold   a window worse than `threshold`.
//   kBaselineDrop      a window worse than the baseline by `drop` (absolute, or a fraction of
//                      the baseline). The baseline is ModelContext::baseline_metrics
//                      [`baseline_metric`] when set and present, else the first full window
//                      after the promotion (which is then not itself judged).
//   kQuantile          a window worse than the `quantile` of the last `history` windows
//                      (upper quantile when lower is better, 1 - quantile otherwise).
//   kRollingAverage    a window worse than the mean of the last `history` windows by more
//                      than `sigmas` standard deviations plus `margin`.
//   kPageHinkley       PH on the values (negated when higher is better): an increase of error.
//   kAdwin             ADWIN on the values; fires only when the change is for the worse.
//   kDdm               DDM on a 0/1 error stream (kPrequentialError only; values outside
//                      [0, 1] are skipped and counted).
//
// Warm-up (ready() false): no production model yet; kBaselineDrop without a baseline;
// kQuantile/kRollingAverage with fewer than `min_history` past windows; detectors still within
// their own warm-up (PH min_instances, ADWIN grace_period, DDM warm_start).
//
// Consumption: a fire consumes its evidence; the next fire needs new evidence (another bad
// window, another detection). A training start restarts the detectors and the open window, so
// evidence after it is fresh (baseline and history are kept: the production model is
// unchanged). A promotion resets everything for the new model. Fires carry `model_version`,
// so the engine drops held ones that judged a model no longer in production.
//
// Refit (`refit_after_samples` > 0, see refit.h): when a training answers one of this trigger's
// fires, it fires once more after that many labeled samples from the training's start (counted
// on every labeled batch, whatever the signal). Promotions and training starts do not cancel
// the countdown; a pending refit fire makes the trigger ready(), even during warm-up. A refit
// fire carries no top-level `model_version`, so a promotion never supersedes it.
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "triggers/detectors.h"
#include "triggers/refit.h"
#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

enum class DecaySignal { kPrequentialError, kMetric };
enum class DecayCriterion {
  kStaticThreshold,
  kBaselineDrop,
  kQuantile,
  kRollingAverage,
  kPageHinkley,
  kAdwin,
  kDdm,
};
enum class DropMode { kAbsolute, kRelative };

std::string_view to_string(DecaySignal signal);
std::string_view to_string(DecayCriterion criterion);
std::string_view to_string(DropMode mode);

struct DecayOptions {
  std::string name;
  DecaySignal signal = DecaySignal::kPrequentialError;
  std::string metric;             // kMetric: the metric name
  bool higher_is_better = false;  // kMetric only; prequential errors are lower-is-better
  DecayCriterion criterion = DecayCriterion::kStaticThreshold;

  std::int64_t window_samples = 1000;  // kPrequentialError window length
  std::int64_t window_points = 1;      // kMetric window length

  double threshold = 0;  // kStaticThreshold
  double drop = 0;       // kBaselineDrop: > 0
  DropMode drop_mode = DropMode::kAbsolute;
  std::string baseline_metric;  // kBaselineDrop: key in baseline_metrics, or empty

  std::int64_t history = 20;     // kQuantile / kRollingAverage: past windows kept
  std::int64_t min_history = 5;  // ... needed before judging
  double quantile = 0.95;        // kQuantile, in (0, 1)
  double sigmas = 3;             // kRollingAverage
  double margin = 0;             // kRollingAverage, in signal units

  PageHinkleyOptions page_hinkley;
  AdwinOptions adwin;
  DdmOptions ddm;

  // Fire once more this many labeled samples after a training that answered a fire of this
  // trigger started; 0: off. Typically the pipeline's training window (dataset.last_samples).
  std::int64_t refit_after_samples = 0;
};

class DecayTrigger final : public Trigger {
 public:
  static Result<std::unique_ptr<DecayTrigger>> create(const DecayOptions& options);

  const std::string& name() const override { return options_.name; }
  std::string_view kind() const override { return "decay"; }
  void on_labels(const LabeledBatch& batch) override;
  void on_metric(const MetricPoint& point) override;
  void on_model_promoted(const ModelContext& model) override;
  void on_training_started(TimePoint at) override;
  bool ready() const override;
  std::optional<Fire> evaluate(TimePoint now) override;
  nlohmann::json describe() const override;

 private:
  // Where a value sits in its stream: a sample sequence number (errors) and a time.
  struct Position {
    std::int64_t seq = -1;
    TimePoint at{};
  };
  struct Window {
    std::int64_t values = 0;
    double weighted_sum = 0;
    double weight = 0;
    Position first;
    Position last;
  };
  // The judgement of one closed window, for the fire's reason and evidence.
  struct WindowVerdict {
    double threshold = 0;
    nlohmann::json details = nlohmann::json::object();
  };

  // A detector's report of a change for the worse: a detail for the reason, its statistics,
  // and how many values lie behind the decision.
  struct DetectorVerdict {
    double value = 0;      // the detector's test statistic
    double threshold = 0;  // what it exceeded
    std::string detail;
    nlohmann::json detector;
    std::int64_t span = 1;
  };

  explicit DecayTrigger(DecayOptions options);
  bool uses_windows() const;
  std::int64_t window_length() const;
  void observe(double value, double weight, Position position);
  void observe_by_detector(double value, Position position);
  std::optional<DetectorVerdict> update_detector(double value);
  void close_window();
  std::optional<WindowVerdict> judge_window(double value);
  bool worse(double value, double threshold) const;
  void flag(std::string reason, nlohmann::json evidence);
  void restart_evidence();
  std::string statistic_name() const;
  nlohmann::json position_json(const Position& first, const Position& last) const;

  DecayOptions options_;
  bool model_known_ = false;
  std::int64_t model_version_ = -1;
  std::optional<double> baseline_;
  std::string baseline_source_;
  Window window_;
  std::deque<double> history_;
  std::optional<PageHinkley> page_hinkley_;
  std::optional<Adwin> adwin_;
  std::optional<Ddm> ddm_;
  std::optional<Fire> pending_;
  std::int64_t pending_repeats_ = 0;  // further flags folded into pending_
  std::int64_t values_seen_ = 0;
  std::int64_t values_skipped_ = 0;  // DDM inputs outside [0, 1]
  std::int64_t windows_closed_ = 0;
  std::optional<double> last_window_value_;
  Refit refit_;
};

}  // namespace ctd::triggers

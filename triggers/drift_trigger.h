// The drift trigger (kind "drift"): fires when the recent feature distribution has drifted
// from the production model's training snapshot.
//
// On every promotion it summarises ModelContext::reference (quantile bins, category counts;
// see drift_summary.h) and starts a fresh current window; until then it is not ready() and
// ignores events (warm-up). Rows of the configured source (inferences, or labeled samples
// when no inferences topic is configured) fill a tumbling or sliding window of rows, or a
// tumbling window by time; each complete window is checked (drift_check.h) as it completes
// (a time window also at an evaluate() tick past its end), and a dataset-level drift becomes
// a Fire that evaluate() hands out once, with every statistic, threshold and the window's
// bounds as evidence. Memory: the reference summary plus the window's panes,
// O(features x bins).
//
// Refit (`refit_after_samples` > 0, see refit.h): when a training answers one of this trigger's
// fires, it fires once more after that many labeled samples (whatever the source) from that
// training's start. Promotions do not cancel the countdown, and a pending refit fire makes
// the trigger ready() even while it waits for a reference.
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "triggers/drift_check.h"
#include "triggers/drift_summary.h"
#include "triggers/drift_window.h"
#include "triggers/refit.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

enum class DriftSource { kInferences, kLabels };

struct DriftTriggerOptions {
  std::string name;
  FeatureLayout layout;               // the pipeline's features, as batches carry them
  std::vector<std::string> features;  // the ones to watch; empty: all
  DriftSource source = DriftSource::kInferences;
  drift::SummaryOptions summary;
  drift::WindowOptions window;
  drift::DecisionOptions decision;
  // Fire once more this many labeled samples after a training that answered a fire of this
  // trigger started; 0: off. Typically the pipeline's training window (dataset.last_samples).
  std::int64_t refit_after_samples = 0;
};

// Returns an empty string when valid, else what is wrong.
std::string validate(const DriftTriggerOptions& options);

class DriftTrigger final : public Trigger {
 public:
  // The trigger, or what is wrong with the options.
  static std::variant<std::unique_ptr<DriftTrigger>, std::string> create(
      DriftTriggerOptions options);

  const std::string& name() const override { return options_.name; }
  std::string_view kind() const override { return "drift"; }

  void on_labels(const LabeledBatch& batch) override;
  void on_inferences(const InferenceBatch& batch) override;
  void on_model_promoted(const ModelContext& model) override;
  void on_training_started(TimePoint at) override { refit_.training_started(at); }

  bool ready() const override { return reference_ != nullptr || refit_.pending(); }
  std::optional<Fire> evaluate(TimePoint now) override;
  nlohmann::json describe() const override;

 private:
  explicit DriftTrigger(DriftTriggerOptions options, drift::FeatureColumns columns);
  void feed(const FeatureBatchView& batch, std::int64_t first_row, TimePoint at);
  void run_check();
  nlohmann::json evidence(const drift::DriftReport& report,
                          const drift::WindowBounds& bounds) const;

  DriftTriggerOptions options_;
  drift::FeatureColumns columns_;
  // Heap-held so that the window's pointer to it stays valid.
  std::unique_ptr<const drift::ReferenceSummary> reference_;
  std::optional<drift::CurrentWindow> window_;
  drift::DistanceHistory history_;
  std::int64_t model_version_ = -1;
  std::int64_t reference_rows_ = 0;
  std::int64_t inference_rows_ = 0;  // running number of inference rows seen
  std::uint64_t checks_ = 0;
  std::uint64_t fires_ = 0;
  std::uint64_t rejected_batches_ = 0;  // batches whose widths do not match the layout
  std::optional<Fire> pending_;
  nlohmann::json last_check_;  // summary of the latest check, for describe()
  Refit refit_;
};

}  // namespace ctd::triggers

// NewDataTrigger: retrain once enough newly accepted labeled samples have arrived since the
// last training started: at least `min_samples`, and/or at least `min_fraction` of the
// production model's training-set size (whichever is met first when both are set).
//
// Consumption: a fire consumes the samples it counted; the next fire needs the threshold again
// in samples that arrived after it (or after the next training start, which resets the count).
//
// Warm-up: with only `min_fraction` set, the trigger is not ready until a production model is
// known (on_model_promoted).
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

struct NewDataOptions {
  std::string name;
  std::int64_t min_samples = 0;  // 0: not used
  double min_fraction = 0;       // 0: not used; e.g. 0.2 = 20 % of the model's training rows
};

class NewDataTrigger final : public Trigger {
 public:
  static Result<std::unique_ptr<NewDataTrigger>> create(const NewDataOptions& options);

  const std::string& name() const override { return options_.name; }
  std::string_view kind() const override { return "new_data"; }
  void on_labels(const LabeledBatch& batch) override;
  void on_model_promoted(const ModelContext& model) override;
  void on_training_started(TimePoint at) override;
  bool ready() const override;
  std::optional<Fire> evaluate(TimePoint now) override;
  nlohmann::json describe() const override;

  std::int64_t samples_since_training() const { return samples_since_training_; }

 private:
  explicit NewDataTrigger(NewDataOptions options) : options_(std::move(options)) {}
  // The sample count the fraction rule needs, when a model is known.
  std::optional<std::int64_t> fraction_threshold() const;

  NewDataOptions options_;
  std::int64_t samples_since_training_ = 0;
  // Samples not yet consumed by a fire: since the last fire or training start.
  std::int64_t samples_ = 0;
  std::optional<std::int64_t> first_seq_;
  std::int64_t last_seq_ = -1;
  std::optional<TimePoint> counting_since_;  // last fire or training start
  std::optional<std::int64_t> model_training_rows_;
  std::int64_t model_version_ = -1;
};

}  // namespace ctd::triggers

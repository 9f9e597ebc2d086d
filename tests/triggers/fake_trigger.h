// A Trigger with knobs for composite and engine tests: fire on the next evaluation, be ready
// or not, and counters of what it was told.
#pragma once

#include <string>

#include "triggers/trigger.h"

namespace ctd::triggers::testing {

class FakeTrigger final : public Trigger {
 public:
  // Counters live outside the trigger so a test can read them after handing it to its owner.
  struct Log {
    int evaluations = 0;
    int labels = 0;
    int inferences = 0;
    int metrics = 0;
    int promotions = 0;
    int trainings_started = 0;
  };
  struct Knobs {
    bool ready = true;
    bool fire_next = false;  // fire on the next evaluate(), once
    bool fire_always = false;
    std::string reason = "fake condition";
  };

  FakeTrigger(std::string name, Knobs& knobs, Log& log, std::string kind = "fake")
      : name_(std::move(name)), kind_(std::move(kind)), knobs_(knobs), log_(log) {}

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return kind_; }
  void on_labels(const LabeledBatch&) override { ++log_.labels; }
  void on_inferences(const InferenceBatch&) override { ++log_.inferences; }
  void on_metric(const MetricPoint&) override { ++log_.metrics; }
  void on_model_promoted(const ModelContext&) override { ++log_.promotions; }
  void on_training_started(TimePoint) override { ++log_.trainings_started; }
  bool ready() const override { return knobs_.ready; }
  std::optional<Fire> evaluate(TimePoint now) override {
    ++log_.evaluations;
    if (!knobs_.fire_next && !knobs_.fire_always) return std::nullopt;
    knobs_.fire_next = false;
    return Fire{name_, kind_, knobs_.reason, {{"statistic", "fake"}}, now};
  }

 private:
  std::string name_;
  std::string kind_;
  Knobs& knobs_;
  Log& log_;
};

}  // namespace ctd::triggers::testing

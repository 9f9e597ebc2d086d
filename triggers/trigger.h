// The contract between the trigger engine and its triggers: the events a pipeline's triggers
// see, the injected clock, and what a trigger reports when it fires.
//
// triggers/ is pure logic. It includes the standard library and nlohmann::json (for evidence
// that ends up in Postgres and the API) and nothing else: no Kafka, Postgres, HTTP or logging.
// The daemon adapts its own types to these views and acts on the decisions.
//
// Thread-safety: none. One owner (a pipeline's manager) feeds a pipeline's triggers from one
// thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctd::triggers {

using TimePoint = std::chrono::system_clock::time_point;

// Time is injected so that tests advance a manual clock instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start) {}
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }
  void advance(std::chrono::system_clock::duration d) { now_ += d; }

 private:
  TimePoint now_;
};

// Names of a pipeline's features, split by type in configuration order. The same split as
// ingestion's decoded batches (daemon/records.h), so a batch is viewed without copying.
struct FeatureLayout {
  std::vector<std::string> numeric;
  std::vector<std::string> categorical;
};

// A read-only, row-major view of the features of `rows` records.
struct FeatureBatchView {
  std::size_t rows = 0;
  std::size_t numeric_width = 0;                  // == layout.numeric.size()
  std::size_t categorical_width = 0;              // == layout.categorical.size()
  std::span<const double> numeric;                // rows * numeric_width; NaN = missing
  std::span<const std::string> categorical;       // rows * categorical_width
  std::span<const std::uint8_t> categorical_set;  // 1 where categorical[i] is present

  double numeric_at(std::size_t row, std::size_t feature) const {
    return numeric[row * numeric_width + feature];
  }
  // nullptr when the value is missing.
  const std::string* categorical_at(std::size_t row, std::size_t feature) const {
    std::size_t i = row * categorical_width + feature;
    return categorical_set[i] != 0 ? &categorical[i] : nullptr;
  }
};

// Newly committed labeled samples, in sequence order.
struct LabeledBatch {
  std::int64_t first_seq = 0;  // sequence number of the first sample in the pipeline
  FeatureBatchView features;
  std::span<const double> labels;
  // Prequential scores: the production model's error on each sample before training on it
  // (0/1 for classification, absolute error for regression). Empty when no production model
  // has scored the batch.
  std::span<const double> errors;
  TimePoint at{};  // when the batch was committed
};

// Features seen at serving time.
struct InferenceBatch {
  FeatureBatchView features;
  TimePoint at{};
};

// One online metric point from the metrics topic.
struct MetricPoint {
  std::string_view model;
  std::int64_t version = -1;  // -1 when the point names no version
  std::string_view name;      // e.g. "accuracy", "ctr"
  double value = 0;
  std::int64_t count = -1;  // observations behind the value; -1 when absent
  TimePoint event_time{};
};

// What the pipeline's current production model looks like, given to every trigger when a
// model is promoted (and on start-up, when one already exists).
struct ModelContext {
  std::int64_t version = 0;
  std::int64_t training_rows = 0;                  // size of its training set
  std::map<std::string, double> baseline_metrics;  // validation metrics recorded at promotion
  // The model's training snapshot features: the drift reference. Only valid during the call
  // to on_model_promoted; a trigger that needs it later keeps its own summary. Null when
  // not available.
  const FeatureBatchView* reference = nullptr;
  TimePoint promoted_at{};
};

// A trigger's report that its condition holds.
struct Fire {
  std::string trigger;      // the configured trigger name, e.g. "nightly"
  std::string kind;         // "manual", "schedule", "new_data", "decay", "drift", "composite"
  std::string reason;       // one line for people, with the numbers
  nlohmann::json evidence;  // statistics, thresholds and window bounds
  TimePoint at{};
};

// One configured trigger of a pipeline. The engine routes every event to every trigger and
// then asks each whether it fires; a trigger keeps whatever bounded state it needs.
class Trigger {
 public:
  virtual ~Trigger() = default;

  virtual const std::string& name() const = 0;
  virtual std::string_view kind() const = 0;

  virtual void on_labels(const LabeledBatch&) {}
  virtual void on_inferences(const InferenceBatch&) {}
  virtual void on_metric(const MetricPoint&) {}
  virtual void on_model_promoted(const ModelContext&) {}
  // A training run was started (the engine calls this when it decides to train): triggers
  // that count "since the last training" or detect on a stream reset here.
  virtual void on_training_started(TimePoint) {}

  // False while a trigger cannot decide yet (no reference distribution, no baseline); the
  // engine reports such triggers as warming up and never fires them.
  virtual bool ready() const { return true; }

  // Whether the trigger fires at `now`. Called after events and on clock ticks; a trigger
  // that fires consumes its condition (it does not fire again for the same evidence).
  virtual std::optional<Fire> evaluate(TimePoint now) = 0;

  // Current state for the API (counters, detector statistics, next fire time, ...).
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

}  // namespace ctd::triggers

// Test helpers: events that own their storage and hand out the views triggers read.
#pragma once

#include <cstdint>
#include <vector>

#include "triggers/trigger.h"

namespace ctd::triggers::testing {

// Labeled samples with prequential errors (or none) and no features.
struct OwnedLabels {
  std::vector<double> labels;
  std::vector<double> errors;
  LabeledBatch batch;

  OwnedLabels(std::int64_t first_seq, std::vector<double> sample_errors, TimePoint at)
      : labels(sample_errors.size(), 0.0), errors(std::move(sample_errors)) {
    batch.first_seq = first_seq;
    batch.labels = labels;
    batch.errors = errors;
    batch.at = at;
  }
  // `count` samples without prequential errors (no production model scored them).
  static OwnedLabels unscored(std::int64_t first_seq, std::size_t count, TimePoint at) {
    OwnedLabels owned(first_seq, std::vector<double>(count, 0.0), at);
    owned.batch.errors = {};
    return owned;
  }
  const LabeledBatch& operator*() const { return batch; }
};

inline ModelContext model(std::int64_t version, std::int64_t training_rows,
                          std::map<std::string, double> baseline = {}) {
  ModelContext context;
  context.version = version;
  context.training_rows = training_rows;
  context.baseline_metrics = std::move(baseline);
  return context;
}

inline MetricPoint metric(std::string_view name, double value, TimePoint at,
                          std::int64_t version = -1, std::int64_t count = -1) {
  MetricPoint point;
  point.model = "m";
  point.version = version;
  point.name = name;
  point.value = value;
  point.count = count;
  point.event_time = at;
  return point;
}

}  // namespace ctd::triggers::testing

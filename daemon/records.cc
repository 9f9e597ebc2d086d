#include "daemon/records.h"

namespace ctd::ingest {

std::string_view stream_name(Stream stream) {
  switch (stream) {
    case Stream::kLabels:
      return "labels";
    case Stream::kInferences:
      return "inferences";
    case Stream::kMetrics:
      return "metrics";
  }
  return "unknown";
}

std::string_view reason_code(RejectReason reason) {
  static constexpr std::string_view kCodes[kRejectReasonCount] = {"empty",
                                                                  "oversized",
                                                                  "invalid_utf8",
                                                                  "invalid_json",
                                                                  "not_an_object",
                                                                  "missing_field",
                                                                  "wrong_type",
                                                                  "non_finite",
                                                                  "label_out_of_range",
                                                                  "unknown_feature",
                                                                  "missing_feature",
                                                                  "duplicate_feature",
                                                                  "value_out_of_range",
                                                                  "unknown_category",
                                                                  "invalid_event_time",
                                                                  "invalid_weight",
                                                                  "invalid_string"};
  return kCodes[static_cast<int>(reason)];
}

void DecodedBatch::clear() {
  keys.clear();
  event_time_ms.clear();
  ids.clear();
  numeric.clear();
  categorical.clear();
  categorical_set.clear();
  labels.clear();
  weights.clear();
  predictions.clear();
  model_versions.clear();
  metric_models.clear();
  metric_versions.clear();
  metric_names.clear();
  metric_values.clear();
  metric_counts.clear();
}

}  // namespace ctd::ingest

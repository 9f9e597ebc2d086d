// The trigger engines' Prometheus families, shared by the pipelines' managers
// (daemon/pipeline_manager.h), and the export of each drift trigger's last check:
//
//   ctd_trigger_evaluations_total{pipeline,trigger,kind}  every evaluation the engine makes of a
//       top-level trigger (Engine's evaluation listener; warming-up triggers are not evaluated).
//       Fires are ctd_trigger_events_total{pipeline,kind} (daemon/ops_metrics.h).
//   ctd_drift_statistic{pipeline,trigger,feature,statistic}  the value a drift trigger's last
//       check compared for the feature: a distance (psi, jensen_shannon, wasserstein, linf;
//       drift when above the threshold) or a p-value (ks_p_value, chi2_p_value, corrected when
//       a correction is configured; drift when below it);
//   ctd_drift_threshold{pipeline,trigger,feature,statistic}  what it was compared with.
//
// Cardinality: features come from the pipeline's declared schema, and at most
// kMaxDriftFeatures of them per drift trigger are exported: those the check evaluated, most
// drifted first (drifted ones, then by how close they came to their threshold; see
// drift_features_to_export). A feature that leaves that set, and every series of a pipeline
// whose replica stops leading it, is retired from /metrics (metrics::Family::retire). A
// pipeline without drift triggers exports no drift series.
//
// Thread-safety: the families are thread-safe; a DriftExport belongs to one pipeline manager.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/metrics.h"

namespace ctd::loop {

// Drift features exported per drift trigger at most.
inline constexpr std::size_t kMaxDriftFeatures = 20;

struct TriggerMetrics {
  explicit TriggerMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& evaluations;
  metrics::Family<metrics::Gauge>& drift_statistic;
  metrics::Family<metrics::Gauge>& drift_threshold;
};

// One feature's decision in a drift check, as exported.
struct ExportedDriftFeature {
  std::string feature;
  std::string statistic;  // the label: "wasserstein", "ks_p_value", ...
  double value = 0;
  double threshold = 0;
  bool drifted = false;
};

// The features of a drift trigger's describe()["last_check"] to export: the evaluated ones,
// drifted first, then by severity (a distance's value / threshold, a p-value's threshold /
// value), then by name; at most `cap`. Pure.
std::vector<ExportedDriftFeature> drift_features_to_export(const nlohmann::json& last_check,
                                                           std::size_t cap);

// The drift series of one pipeline.
class DriftExport {
 public:
  DriftExport(TriggerMetrics& metrics, std::string pipeline)
      : metrics_(metrics), pipeline_(std::move(pipeline)) {}

  // Sets the gauges from the engine's describe(): for every drift trigger (inside composites
  // too) with a last check, its exported features; retires the series exported before that are
  // not exported now.
  void update(const nlohmann::json& engine_state);
  // Retires every series this pipeline exports.
  void clear();

 private:
  void export_trigger(const std::string& trigger, const nlohmann::json& state,
                      std::set<metrics::LabelValues>& now);

  TriggerMetrics& metrics_;
  std::string pipeline_;
  std::set<metrics::LabelValues> exported_;
};

}  // namespace ctd::loop

#include "daemon/trigger_metrics.h"

#include <algorithm>
#include <limits>

#include "triggers/drift_check.h"

namespace ctd::loop {
namespace {

// How far a feature went towards drift: >= 1 at or past its threshold.
double severity(const ExportedDriftFeature& f, bool p_value) {
  const double over = p_value ? f.threshold : f.value;
  const double under = p_value ? f.value : f.threshold;
  if (under > 0) return over / under;
  return over > 0 ? std::numeric_limits<double>::infinity() : 0;
}

double number(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : 0;
}

// Calls fn(name, state) for every trigger entry of a describe() list, composites' children too.
template <typename Fn>
void for_each_trigger(const nlohmann::json& entries, Fn&& fn) {
  if (!entries.is_array()) return;
  for (const nlohmann::json& entry : entries) {
    if (!entry.is_object() || !entry.contains("state")) continue;
    const nlohmann::json& state = entry["state"];
    fn(entry.value("name", ""), entry.value("kind", ""), state);
    if (state.is_object() && state.contains("children")) for_each_trigger(state["children"], fn);
  }
}

}  // namespace

TriggerMetrics::TriggerMetrics(metrics::Registry& registry)
    : evaluations(registry.counter(
          "ctd_trigger_evaluations_total",
          "Evaluations of a trigger by its pipeline's engine (ready triggers only, on the "
          "leading replica); its fires are ctd_trigger_events_total.",
          {"pipeline", "trigger", "kind"})),
      drift_statistic(registry.gauge(
          "ctd_drift_statistic",
          "The value a drift trigger's last check compared for a feature: a distance (drift when "
          "above ctd_drift_threshold) or a *_p_value (drift when below); at most " +
              std::to_string(kMaxDriftFeatures) + " features per trigger, the most drifted.",
          {"pipeline", "trigger", "feature", "statistic"})),
      drift_threshold(registry.gauge(
          "ctd_drift_threshold",
          "The threshold (a distance, or alpha for a *_p_value) a drift trigger's last check "
          "compared ctd_drift_statistic with.",
          {"pipeline", "trigger", "feature", "statistic"})) {}

std::vector<ExportedDriftFeature> drift_features_to_export(const nlohmann::json& last_check,
                                                           std::size_t cap) {
  struct Ranked {
    ExportedDriftFeature feature;
    double severity = 0;
  };
  std::vector<Ranked> ranked;
  const auto features = last_check.find("features");
  if (features == last_check.end() || !features->is_array()) return {};
  for (const nlohmann::json& f : *features) {
    if (!f.is_object() || !f.value("evaluated", false)) continue;
    const auto metric = triggers::drift::parse_metric(f.value("metric", ""));
    if (!metric) continue;
    const bool p_value = triggers::drift::is_p_value_test(*metric);
    ExportedDriftFeature out{
        f.value("feature", ""),
        std::string(triggers::drift::to_string(*metric)) + (p_value ? "_p_value" : ""),
        number(f, "value"), number(f, "threshold"), f.value("drifted", false)};
    const double s = severity(out, p_value);
    ranked.push_back({std::move(out), s});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.feature.drifted != b.feature.drifted) return a.feature.drifted;
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.feature.feature < b.feature.feature;
  });
  if (ranked.size() > cap) ranked.resize(cap);
  std::vector<ExportedDriftFeature> out;
  for (Ranked& r : ranked) out.push_back(std::move(r.feature));
  return out;
}

void DriftExport::export_trigger(const std::string& trigger, const nlohmann::json& state,
                                 std::set<metrics::LabelValues>& now) {
  if (!state.is_object() || !state.contains("last_check")) return;
  for (const ExportedDriftFeature& f :
       drift_features_to_export(state["last_check"], kMaxDriftFeatures)) {
    metrics::LabelValues labels{pipeline_, trigger, f.feature, f.statistic};
    metrics_.drift_statistic.with(labels).set(f.value);
    metrics_.drift_threshold.with(labels).set(f.threshold);
    now.insert(std::move(labels));
  }
}

void DriftExport::update(const nlohmann::json& engine_state) {
  std::set<metrics::LabelValues> now;
  if (engine_state.is_object() && engine_state.contains("triggers")) {
    for_each_trigger(engine_state["triggers"], [&](const std::string& name, const std::string& kind,
                                                   const nlohmann::json& state) {
      if (kind == "drift") export_trigger(name, state, now);
    });
  }
  for (const metrics::LabelValues& labels : exported_) {
    if (now.count(labels)) continue;
    metrics_.drift_statistic.retire(labels);
    metrics_.drift_threshold.retire(labels);
  }
  exported_ = std::move(now);
}

void DriftExport::clear() { update(nlohmann::json::object()); }

}  // namespace ctd::loop

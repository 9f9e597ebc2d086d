#include "bench/scenario/policies.h"

#include <chrono>

namespace ctd::bench {
namespace {

using triggers::TriggerSpec;

namespace g = generators;

// Rate limit of the decided policies: a new model gets 2,000 samples before another start.
constexpr std::chrono::seconds kTriggeredCooldown{2000};

ScenarioStream sea_stream(std::int64_t samples) {
  ScenarioStream s;
  s.name = "sea";
  s.spec.generator.kind = g::GeneratorKind::kSea;
  s.spec.initial_concept = 1;  // f1 + f2 <= 8
  s.spec.noise = 0.1;
  s.spec.seed = 11;
  const auto third = static_cast<std::uint64_t>(samples / 3);
  const std::uint64_t width = 5000;
  s.spec.drifts = {{3, third, 0}, {4, 2 * third, width}};  // -> 7 abrupt, -> 9.5 gradual
  s.samples = samples;
  s.drift_starts = {static_cast<std::int64_t>(third), static_cast<std::int64_t>(2 * third - width)};
  s.drift_names = {"abrupt 8->7", "gradual 7->9.5 (width 5000)"};
  s.description = "SEA, 10% label noise: concept drift only, the features never change";
  return s;
}

ScenarioStream rbf_stream(std::int64_t samples) {
  ScenarioStream s;
  s.name = "rbf";
  s.spec.generator.kind = g::GeneratorKind::kRbf;  // 10 features, 50 centroids, 2 classes
  s.spec.initial_concept = 1;
  s.spec.noise = 0.05;
  s.spec.seed = 12;
  const auto third = static_cast<std::uint64_t>(samples / 3);
  const std::uint64_t width = 5000;
  s.spec.drifts = {{2, third, 0}, {3, 2 * third, width}};  // new centroids, abrupt then gradual
  s.samples = samples;
  s.drift_starts = {static_cast<std::int64_t>(third), static_cast<std::int64_t>(2 * third - width)};
  s.drift_names = {"abrupt 1->2", "gradual 2->3 (width 5000)"};
  s.description = "random RBF, 5% label noise: new centroids, so features and labels both move";
  return s;
}

ScenarioStream stable_stream(std::string name, g::GeneratorKind kind, std::int64_t samples,
                             double noise) {
  ScenarioStream s;
  s.name = std::move(name);
  s.spec.generator.kind = kind;
  s.spec.noise = noise;
  s.spec.seed = 13;
  s.samples = samples;
  s.stable = true;
  s.description = "one concept, no drift: every fire is a false fire";
  return s;
}

TriggerSpec schedule(std::string name, std::int64_t every) {
  return {triggers::ScheduleOptions{
      .name = std::move(name), .cron = "", .interval = std::chrono::seconds(every)}};
}

TriggerSpec drift(std::string name, const triggers::FeatureLayout& layout) {
  triggers::DriftTriggerOptions o;
  o.name = std::move(name);
  o.layout = layout;
  o.source = triggers::DriftSource::kLabels;
  o.window.size = 2000;  // tumbling; Wasserstein (normed) >= 0.1 on half the features
  return {o};
}

TriggerSpec ddm(std::string name) {
  triggers::DecayOptions o;
  o.name = std::move(name);
  o.criterion = triggers::DecayCriterion::kDdm;
  o.ddm.warm_start = 1000;  // triggers/README.md: raise it for low error rates
  return {o};
}

TriggerSpec error_drop(std::string name) {
  triggers::DecayOptions o;
  o.name = std::move(name);
  o.criterion = triggers::DecayCriterion::kBaselineDrop;
  o.window_samples = 1000;  // baseline: the first window after a promotion
  o.drop = 0.05;
  return {o};
}

TriggerSpec accuracy_drop(std::string name) {
  triggers::DecayOptions o;
  o.name = std::move(name);
  o.signal = triggers::DecaySignal::kMetric;
  o.metric = "accuracy";
  o.higher_is_better = true;
  o.criterion = triggers::DecayCriterion::kBaselineDrop;
  o.window_points = 4;  // 4 batches of 500
  o.drop = 0.03;
  o.baseline_metric = "accuracy";  // the model's validation accuracy
  return {o};
}

PolicySpec policy(std::string name, std::string description, std::vector<TriggerSpec> triggers,
                  bool triggered) {
  PolicySpec p;
  p.name = std::move(name);
  p.description = std::move(description);
  p.engine.triggers = std::move(triggers);
  p.triggered = triggered;
  if (triggered) p.engine.limits.cooldown = kTriggeredCooldown;
  return p;
}

}  // namespace

std::vector<ScenarioStream> scenario_streams(const ScenarioSizes& sizes) {
  return {sea_stream(sizes.drift_samples), rbf_stream(sizes.drift_samples),
          stable_stream("sea-stable", g::GeneratorKind::kSea, sizes.stable_samples, 0.1),
          stable_stream("rbf-stable", g::GeneratorKind::kRbf, sizes.stable_samples, 0.05)};
}

std::vector<PolicySpec> scenario_policies(const triggers::FeatureLayout& layout) {
  std::vector<PolicySpec> out;
  out.push_back(policy("never", "the initial model only", {}, false));
  for (std::int64_t k : {2000, 5000, 10000}) {
    PolicySpec p =
        policy("periodic-" + std::to_string(k / 1000) + "k",
               "schedule every " + std::to_string(k) + " samples", {schedule("every", k)}, false);
    p.periodic = true;
    out.push_back(std::move(p));
  }
  out.push_back(policy("new-data-10k", "new_data min_samples 10000",
                       {{triggers::NewDataOptions{.name = "fresh", .min_samples = 10000}}}, false));
  out.push_back(policy("drift",
                       "drift on labeled features: tumbling 2000 rows, Wasserstein 0.1, "
                       "share 0.5; cooldown 2000",
                       {drift("features", layout)}, true));
  out.push_back(policy("decay-ddm",
                       "decay DDM on prequential errors, warm_start 1000; cooldown 2000",
                       {ddm("ddm")}, true));
  out.push_back(policy("decay-drop",
                       "decay baseline_drop 0.05 on 1000-sample error windows (baseline: first "
                       "window); cooldown 2000",
                       {error_drop("drop")}, true));
  out.push_back(
      policy("decay-acc",
             "decay baseline_drop 0.03 on the accuracy metric, 4 points of 500 (baseline: "
             "validation accuracy); cooldown 2000",
             {accuracy_drop("acc")}, true));
  triggers::CompositeSpec any;
  any.options.name = "any";
  any.options.mode = triggers::CompositeMode::kAny;
  any.children = {ddm("c-ddm"), drift("c-features", layout)};
  out.push_back(policy("composite", "any of (decay-ddm, drift); cooldown 2000", {{any}}, true));
  return out;
}

}  // namespace ctd::bench

#include "bench/scenario/policies.h"

#include <chrono>

namespace ctd::bench {
namespace {

using triggers::TriggerSpec;

namespace g = generators;

// Rate limit of the decided policies: a new model gets 2,000 samples before another start.
constexpr std::chrono::seconds kTriggeredCooldown{2000};
// The refit variants' refit_after_samples: the training window (ctd-train's newest 5,000
// samples), so the refit model sees only data from after the training that answered the
// detection started.
constexpr std::int64_t kRefitAfterSamples = 5000;

// An abrupt drift to concept `abrupt` at 35% of the stream and a gradual one (sigmoid of width
// 5,000, centred at 70%) to concept `gradual`, on multiples of 1,000 samples; a drift "starts"
// where its new concept's share passes 2% (position - width).
void set_drifts(ScenarioStream& s, int abrupt, int gradual) {
  constexpr std::int64_t kWidth = 5000;
  const std::int64_t first = s.samples * 35 / 100 / 1000 * 1000;
  const std::int64_t second = s.samples * 70 / 100 / 1000 * 1000;
  s.spec.drifts = {{abrupt, static_cast<std::uint64_t>(first), 0},
                   {gradual, static_cast<std::uint64_t>(second), kWidth}};
  s.drift_starts = {first, second - kWidth};
}

ScenarioStream sea_stream(std::int64_t samples) {
  ScenarioStream s;
  s.name = "sea";
  s.spec.generator.kind = g::GeneratorKind::kSea;
  s.spec.initial_concept = 1;  // f1 + f2 <= 8
  s.spec.noise = 0.1;
  s.spec.seed = 11;
  s.samples = samples;
  set_drifts(s, 3, 4);  // -> 7 abrupt, -> 9.5 gradual
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
  s.samples = samples;
  set_drifts(s, 2, 3);  // new centroids, abrupt then gradual
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

TriggerSpec drift(std::string name, const triggers::FeatureLayout& layout, std::int64_t refit = 0) {
  triggers::DriftTriggerOptions o;
  o.refit_after_samples = refit;
  o.name = std::move(name);
  o.layout = layout;
  o.source = triggers::DriftSource::kLabels;
  o.window.size = 2000;  // tumbling; Wasserstein (normed) >= 0.1 on half the features
  return {o};
}

TriggerSpec ddm(std::string name, std::int64_t refit = 0) {
  triggers::DecayOptions o;
  o.refit_after_samples = refit;
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

TriggerSpec accuracy_drop(std::string name, double drop, std::int64_t refit = 0) {
  triggers::DecayOptions o;
  o.refit_after_samples = refit;
  o.name = std::move(name);
  o.signal = triggers::DecaySignal::kMetric;
  o.metric = "accuracy";
  o.higher_is_better = true;
  o.criterion = triggers::DecayCriterion::kBaselineDrop;
  o.window_points = 4;  // 4 batches of 500
  o.drop = drop;
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

// Policies that retrain regardless of what the stream does.
std::vector<PolicySpec> fixed_policies() {
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
  return out;
}

TriggerSpec any_of(std::string name, std::vector<TriggerSpec> children) {
  triggers::CompositeSpec any;
  any.options.name = std::move(name);
  any.options.mode = triggers::CompositeMode::kAny;
  any.children = std::move(children);
  return {any};
}

// Policies decided by drift or decay triggers: the ones the targets judge.
std::vector<PolicySpec> decided_policies(const triggers::FeatureLayout& layout) {
  std::vector<PolicySpec> out;
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
             {accuracy_drop("acc", 0.03)}, true));
  // Added after the first run, where decay-acc fired 1 and 6 times on the stable streams: the
  // baseline, accuracy on ~1,000 validation rows, is itself uncertain by about 1 point.
  out.push_back(policy("decay-acc-4",
                       "decay-acc with drop 0.04 (quiet on the stable streams); cooldown 2000",
                       {accuracy_drop("acc4", 0.04)}, true));
  out.push_back(policy("composite", "any of (decay-ddm, drift); cooldown 2000",
                       {any_of("any", {ddm("c-ddm"), drift("c-features", layout)})}, true));
  // Added with decay-acc-4.
  out.push_back(policy(
      "composite-acc", "any of (decay-acc-4, drift); cooldown 2000",
      {any_of("any-acc", {accuracy_drop("c-acc4", 0.04), drift("c2-features", layout)})}, true));
  // Added with the refit option (before any run with it): the same triggers, each firing once
  // more 5,000 labeled samples (the training window) after a training that answered its fire.
  const std::int64_t r = kRefitAfterSamples;
  out.push_back(policy("decay-ddm-refit", "decay-ddm with refit_after_samples 5000; cooldown 2000",
                       {ddm("ddm-r", r)}, true));
  out.push_back(policy("decay-acc-4-refit",
                       "decay-acc-4 with refit_after_samples 5000; cooldown 2000",
                       {accuracy_drop("acc4-r", 0.04, r)}, true));
  out.push_back(policy("composite-refit",
                       "any of (decay-ddm, drift), both with refit_after_samples 5000; cooldown "
                       "2000",
                       {any_of("any-r", {ddm("c-ddm-r", r), drift("c-features-r", layout, r)})},
                       true));
  out.push_back(policy("composite-acc-refit",
                       "any of (decay-acc-4, drift), both with refit_after_samples 5000; "
                       "cooldown 2000",
                       {any_of("any-acc-r", {accuracy_drop("c-acc4-r", 0.04, r),
                                             drift("c2-features-r", layout, r)})},
                       true));
  return out;
}

}  // namespace

std::vector<ScenarioStream> scenario_streams(const ScenarioSizes& sizes) {
  std::vector<ScenarioStream> streams = {
      sea_stream(sizes.drift_samples), rbf_stream(sizes.drift_samples),
      stable_stream("sea-stable", g::GeneratorKind::kSea, sizes.stable_samples, 0.1),
      stable_stream("rbf-stable", g::GeneratorKind::kRbf, sizes.stable_samples, 0.05)};
  for (ScenarioStream& s : streams) s.spec.seed += sizes.seed_offset;
  return streams;
}

std::vector<PolicySpec> scenario_policies(const triggers::FeatureLayout& layout) {
  std::vector<PolicySpec> out = fixed_policies();
  for (PolicySpec& p : decided_policies(layout)) out.push_back(std::move(p));
  return out;
}

}  // namespace ctd::bench

// Tests of each pipeline's `triggers` section: defaults (the triggers' own), every key of every
// trigger kind, how `ctd check-config` renders the section, and that what the loader accepts
// builds a working engine (triggers::build_triggers), from the shipped examples too. Errors are
// in config_triggers_errors_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "tests/unit/config_triggers_support.h"
#include "triggers/factory.h"

namespace config_triggers_test {
namespace {

// ---------------------------------------------------------------------------------------------
// Defaults.

TEST(ConfigTriggers, AbsentSectionMeansNoTriggers) {
  const EngineSpec spec = engine_of(options_of(kBase));
  EXPECT_TRUE(spec.triggers.empty());
  EXPECT_EQ(spec.limits.cooldown, seconds(0));
  EXPECT_EQ(spec.limits.min_interval, seconds(0));
}

TEST(ConfigTriggers, RateLimitsDefaultToNone) {
  const EngineSpec spec = engine_of(options_of(with_triggers(R"(
      rules: [{name: ask, type: manual}]
)")));
  ASSERT_EQ(spec.triggers.size(), 1u);
  EXPECT_EQ(spec.triggers[0].kind(), TriggerKind::kManual);
  EXPECT_EQ(spec.triggers[0].name(), "ask");
  EXPECT_EQ(spec.limits.cooldown, seconds(0));
  EXPECT_EQ(spec.limits.min_interval, seconds(0));
  // Repeated failures back off unless disabled.
  EXPECT_EQ(spec.limits.failure_backoff, seconds(60));
  EXPECT_EQ(spec.limits.failure_backoff_max, seconds(3600));
}

TEST(ConfigTriggers, DecayDefaultsAreTheTriggersDefaults) {
  const DecayOptions defaults;
  const DecayOptions threshold =
      rule_of<DecayOptions>(with_rule("{name: bad, type: decay, criterion: static_threshold, "
                                      "threshold: 0.2}"));
  EXPECT_EQ(threshold.signal, DecaySignal::kPrequentialError);
  EXPECT_EQ(threshold.criterion, DecayCriterion::kStaticThreshold);
  EXPECT_EQ(threshold.window_samples, defaults.window_samples);
  EXPECT_EQ(threshold.threshold, 0.2);

  const DecayOptions quantile =
      rule_of<DecayOptions>(with_rule("{name: q, type: decay, criterion: quantile}"));
  EXPECT_EQ(quantile.history, defaults.history);
  EXPECT_EQ(quantile.min_history, defaults.min_history);
  EXPECT_EQ(quantile.quantile, defaults.quantile);
  const DecayOptions rolling =
      rule_of<DecayOptions>(with_rule("{name: r, type: decay, criterion: rolling_average}"));
  EXPECT_EQ(rolling.sigmas, defaults.sigmas);
  EXPECT_EQ(rolling.margin, defaults.margin);
  const DecayOptions drop =
      rule_of<DecayOptions>(with_rule("{name: d, type: decay, criterion: baseline_drop, drop: 1}"));
  EXPECT_EQ(drop.drop_mode, ctd::triggers::DropMode::kAbsolute);
  EXPECT_EQ(drop.baseline_metric, "");

  // Detectors: River's / MOA's defaults.
  const DecayOptions ph =
      rule_of<DecayOptions>(with_rule("{name: ph, type: decay, detector: {type: page_hinkley}}"));
  EXPECT_EQ(ph.criterion, DecayCriterion::kPageHinkley);
  EXPECT_EQ(ph.page_hinkley.min_instances, 30);
  EXPECT_EQ(ph.page_hinkley.delta, 0.005);
  EXPECT_EQ(ph.page_hinkley.threshold, 50);
  EXPECT_EQ(ph.page_hinkley.alpha, 1 - 1e-4);
  const DecayOptions adwin =
      rule_of<DecayOptions>(with_rule("{name: a, type: decay, detector: {type: adwin}}"));
  EXPECT_EQ(adwin.criterion, DecayCriterion::kAdwin);
  EXPECT_EQ(adwin.adwin.delta, 0.002);
  EXPECT_EQ(adwin.adwin.clock, 32);
  EXPECT_EQ(adwin.adwin.max_buckets, 5);
  EXPECT_EQ(adwin.adwin.min_window_length, 5);
  EXPECT_EQ(adwin.adwin.grace_period, 10);
  const DecayOptions ddm =
      rule_of<DecayOptions>(with_rule("{name: d, type: decay, detector: {type: ddm}}"));
  EXPECT_EQ(ddm.criterion, DecayCriterion::kDdm);
  EXPECT_EQ(ddm.ddm.warm_start, 30);
  EXPECT_EQ(ddm.ddm.warning_threshold, 2.0);
  EXPECT_EQ(ddm.ddm.drift_threshold, 3.0);
  for (const DecayOptions* d : {&threshold, &quantile, &rolling, &drop, &ph, &adwin, &ddm}) {
    EXPECT_EQ(d->refit_after_samples, 0) << d->name;  // off
  }
}

TEST(ConfigTriggers, DriftDefaultsAreTheTriggersDefaults) {
  const DriftTriggerOptions d = rule_of<DriftTriggerOptions>(with_rule("{name: f, type: drift}"));
  const DriftTriggerOptions defaults;
  EXPECT_EQ(d.name, "f");
  EXPECT_TRUE(d.features.empty());  // all of them
  EXPECT_EQ(d.layout.numeric, (std::vector<std::string>{"tenure", "spend"}));
  EXPECT_EQ(d.layout.categorical, (std::vector<std::string>{"plan"}));
  EXPECT_EQ(d.source, DriftSource::kInferences);  // the pipeline has an inferences topic
  EXPECT_EQ(d.window.kind, drift::WindowKind::kTumbling);
  EXPECT_EQ(d.window.size, defaults.window.size);
  EXPECT_EQ(d.window.panes, defaults.window.panes);
  EXPECT_EQ(d.window.ks_sample, 0u);
  EXPECT_EQ(d.window.duration.count(), 0);
  EXPECT_EQ(d.decision.numeric_metric, drift::DriftMetric::kWasserstein);
  EXPECT_EQ(d.decision.categorical_metric, drift::DriftMetric::kJensenShannon);
  EXPECT_FALSE(d.decision.numeric_threshold.has_value());
  EXPECT_FALSE(d.decision.categorical_threshold.has_value());
  EXPECT_EQ(d.decision.policy, drift::ThresholdPolicy::kStatic);
  EXPECT_EQ(d.decision.rule, drift::DatasetRule::kShare);
  EXPECT_EQ(d.decision.drift_share, 0.5);
  EXPECT_EQ(d.decision.correction, drift::Correction::kNone);
  EXPECT_EQ(d.decision.min_samples, 1u);
  EXPECT_EQ(d.summary.bins, 100u);
  EXPECT_EQ(d.summary.coarse_bins, 10u);
  EXPECT_EQ(d.summary.sample_size, 50000u);
  EXPECT_EQ(d.refit_after_samples, 0);  // off

  // Without an inferences topic the labeled samples are watched.
  std::string labels_only = with_rule("{name: f, type: drift}");
  const std::string topics = "{labels: churn.labels, inferences: churn.inferences}";
  labels_only.replace(labels_only.find(topics), topics.size(), "{labels: churn.labels}");
  EXPECT_EQ(rule_of<DriftTriggerOptions>(labels_only).source, DriftSource::kLabels);
}

TEST(ConfigTriggers, CompositeDefaults) {
  const CompositeSpec c = rule_of<CompositeSpec>(
      with_rule("{name: c, type: composite, of: [{name: n, type: new_data, min_samples: 5}]}"));
  EXPECT_EQ(c.options.name, "c");
  EXPECT_EQ(c.options.mode, CompositeMode::kAny);
  EXPECT_FALSE(c.options.window.has_value());
  ASSERT_EQ(c.children.size(), 1u);
  EXPECT_EQ(c.children[0].name(), "n");
}

// ---------------------------------------------------------------------------------------------
// Every key.

const std::string kEveryKey = with_triggers(R"(
      cooldown_s: 1800
      min_interval_s: 600
      failure_backoff_s: 120
      failure_backoff_max_s: 7200
      rules:
        - {name: ask, type: manual}
        - {name: nightly, type: schedule, cron: "*/15 2 * * MON-FRI"}
        - {name: hourly, type: schedule, every_s: 3600}
        - {name: fresh, type: new_data, min_samples: 5000, min_fraction_of_training_set: 0.25}
        - name: accuracy-drop
          type: decay
          signal: metric
          metric: accuracy
          higher_is_better: true
          window_points: 12
          criterion: baseline_drop
          drop: 0.1
          drop_mode: relative
          baseline_metric: val_accuracy
        - {name: errors, type: decay, window_samples: 500, criterion: static_threshold, threshold: 0.25}
        - {name: q, type: decay, criterion: quantile, history: 30, min_history: 8, quantile: 0.9}
        - {name: r, type: decay, criterion: rolling_average, history: 40, min_history: 10, sigmas: 2.5, margin: 0.01}
        - {name: ph, type: decay, detector: {type: page_hinkley, min_instances: 100, delta: 0.01, threshold: 20, alpha: 0.999}}
        - {name: adwin, type: decay, detector: {type: adwin, delta: 0.01, clock: 16, max_buckets: 7, min_window_length: 10, grace_period: 50}}
        - {name: ddm, type: decay, detector: {type: ddm, warm_start: 1000, warning_threshold: 2.5, drift_threshold: 3.5}, refit_after_samples: 5000}
        - name: features
          type: drift
          features: [tenure, plan]
          source: labels
          window: {type: sliding, rows: 20000, panes: 20}
          numeric_metric: ks
          numeric_threshold: 0.01
          categorical_metric: chi2
          categorical_threshold: 0.001
          policy: dynamic_quantile
          quantile: 0.99
          history: 100
          min_history: 20
          rule: share
          drift_share: 0.3
          correction: benjamini_hochberg
          min_samples: 50
          reference: {bins: 200, coarse_bins: 20, sample_size: 100000}
          refit_after_samples: 20000
        - {name: hourly-drift, type: drift, features: [spend], window: {type: tumbling, duration_s: 3600, ks_sample: 5000}, numeric_metric: psi, rule: any}
        - name: two-of-three
          type: composite
          mode: at_least
          n: 2
          window_s: 7200
          of:
            - {name: c-new, type: new_data, min_samples: 100}
            - {name: c-bad, type: decay, criterion: static_threshold, threshold: 0.3}
            - name: c-inner
              type: composite
              mode: all
              of: [{name: c-drift, type: drift, rule: any}]
)");

TEST(ConfigTriggers, EveryKeyIsRead) {
  const Options options = options_of(kEveryKey);
  const EngineSpec& spec = engine_of(options);
  EXPECT_EQ(spec.limits.cooldown, seconds(1800));
  EXPECT_EQ(spec.limits.min_interval, seconds(600));
  EXPECT_EQ(spec.limits.failure_backoff, seconds(120));
  EXPECT_EQ(spec.limits.failure_backoff_max, seconds(7200));
  ASSERT_EQ(spec.triggers.size(), 14u);
  const auto& t = spec.triggers;

  EXPECT_EQ(std::get<ScheduleOptions>(t[1].options).cron, "*/15 2 * * MON-FRI");
  EXPECT_EQ(std::get<ScheduleOptions>(t[1].options).interval, seconds(0));
  EXPECT_EQ(std::get<ScheduleOptions>(t[2].options).interval, seconds(3600));
  EXPECT_EQ(std::get<ScheduleOptions>(t[2].options).cron, "");
  EXPECT_EQ(std::get<NewDataOptions>(t[3].options).min_samples, 5000);
  EXPECT_EQ(std::get<NewDataOptions>(t[3].options).min_fraction, 0.25);

  const auto& metric = std::get<DecayOptions>(t[4].options);
  EXPECT_EQ(metric.name, "accuracy-drop");
  EXPECT_EQ(metric.signal, DecaySignal::kMetric);
  EXPECT_EQ(metric.metric, "accuracy");
  EXPECT_TRUE(metric.higher_is_better);
  EXPECT_EQ(metric.window_points, 12);
  EXPECT_EQ(metric.criterion, DecayCriterion::kBaselineDrop);
  EXPECT_EQ(metric.drop, 0.1);
  EXPECT_EQ(metric.drop_mode, ctd::triggers::DropMode::kRelative);
  EXPECT_EQ(metric.baseline_metric, "val_accuracy");
  const auto& errors = std::get<DecayOptions>(t[5].options);
  EXPECT_EQ(errors.window_samples, 500);
  EXPECT_EQ(errors.threshold, 0.25);
  const auto& q = std::get<DecayOptions>(t[6].options);
  EXPECT_EQ(q.criterion, DecayCriterion::kQuantile);
  EXPECT_EQ(q.history, 30);
  EXPECT_EQ(q.min_history, 8);
  EXPECT_EQ(q.quantile, 0.9);
  const auto& r = std::get<DecayOptions>(t[7].options);
  EXPECT_EQ(r.criterion, DecayCriterion::kRollingAverage);
  EXPECT_EQ(r.history, 40);
  EXPECT_EQ(r.min_history, 10);
  EXPECT_EQ(r.sigmas, 2.5);
  EXPECT_EQ(r.margin, 0.01);
  const auto& ph = std::get<DecayOptions>(t[8].options).page_hinkley;
  EXPECT_EQ(ph.min_instances, 100);
  EXPECT_EQ(ph.delta, 0.01);
  EXPECT_EQ(ph.threshold, 20);
  EXPECT_EQ(ph.alpha, 0.999);
  const auto& adwin = std::get<DecayOptions>(t[9].options).adwin;
  EXPECT_EQ(adwin.delta, 0.01);
  EXPECT_EQ(adwin.clock, 16);
  EXPECT_EQ(adwin.max_buckets, 7);
  EXPECT_EQ(adwin.min_window_length, 10);
  EXPECT_EQ(adwin.grace_period, 50);
  EXPECT_EQ(std::get<DecayOptions>(t[10].options).refit_after_samples, 5000);
  const auto& ddm = std::get<DecayOptions>(t[10].options).ddm;
  EXPECT_EQ(ddm.warm_start, 1000);
  EXPECT_EQ(ddm.warning_threshold, 2.5);
  EXPECT_EQ(ddm.drift_threshold, 3.5);

  const auto& d = std::get<DriftTriggerOptions>(t[11].options);
  EXPECT_EQ(d.features, (std::vector<std::string>{"tenure", "plan"}));
  EXPECT_EQ(d.source, DriftSource::kLabels);
  EXPECT_EQ(d.window.kind, drift::WindowKind::kSliding);
  EXPECT_EQ(d.window.size, 20000u);
  EXPECT_EQ(d.window.panes, 20u);
  EXPECT_EQ(d.decision.numeric_metric, drift::DriftMetric::kKolmogorovSmirnov);
  EXPECT_EQ(d.decision.numeric_threshold, 0.01);
  EXPECT_EQ(d.decision.categorical_metric, drift::DriftMetric::kChiSquared);
  EXPECT_EQ(d.decision.categorical_threshold, 0.001);
  EXPECT_EQ(d.decision.policy, drift::ThresholdPolicy::kDynamicQuantile);
  EXPECT_EQ(d.decision.quantile, 0.99);
  EXPECT_EQ(d.decision.history, 100u);
  EXPECT_EQ(d.decision.min_history, 20u);
  EXPECT_EQ(d.decision.drift_share, 0.3);
  EXPECT_EQ(d.decision.correction, drift::Correction::kBenjaminiHochberg);
  EXPECT_EQ(d.decision.min_samples, 50u);
  EXPECT_EQ(d.summary.bins, 200u);
  EXPECT_EQ(d.summary.coarse_bins, 20u);
  EXPECT_EQ(d.summary.sample_size, 100000u);
  EXPECT_EQ(d.refit_after_samples, 20000);
  const auto& timed = std::get<DriftTriggerOptions>(t[12].options);
  EXPECT_EQ(timed.window.kind, drift::WindowKind::kTumbling);
  EXPECT_EQ(timed.window.duration, std::chrono::hours(1));
  EXPECT_EQ(timed.window.ks_sample, 5000u);
  EXPECT_EQ(timed.decision.numeric_metric, drift::DriftMetric::kPsi);
  EXPECT_EQ(timed.decision.rule, drift::DatasetRule::kAny);

  const auto& c = std::get<CompositeSpec>(t[13].options);
  EXPECT_EQ(c.options.name, "two-of-three");
  EXPECT_EQ(c.options.mode, CompositeMode::kAtLeast);
  EXPECT_EQ(c.options.at_least, 2);
  EXPECT_EQ(c.options.window, seconds(7200));
  ASSERT_EQ(c.children.size(), 3u);
  EXPECT_EQ(c.children[0].kind(), TriggerKind::kNewData);
  EXPECT_EQ(c.children[1].kind(), TriggerKind::kDecay);
  const auto& inner = std::get<CompositeSpec>(c.children[2].options);
  EXPECT_EQ(inner.options.mode, CompositeMode::kAll);
  ASSERT_EQ(inner.children.size(), 1u);
  EXPECT_EQ(inner.children[0].name(), "c-drift");
}

TEST(ConfigTriggers, JsIsJensenShannon) {
  const DriftTriggerOptions d = rule_of<DriftTriggerOptions>(
      with_rule("{name: f, type: drift, numeric_metric: js, categorical_metric: linf}"));
  EXPECT_EQ(d.decision.numeric_metric, drift::DriftMetric::kJensenShannon);
  EXPECT_EQ(d.decision.categorical_metric, drift::DriftMetric::kLInfinity);
}

TEST(ConfigTriggers, RangesAcceptTheirEdges) {
  const Options options = options_of(with_triggers(R"(
      cooldown_s: 31536000
      min_interval_s: 0
      rules:
        - {name: a, type: schedule, every_s: 60}
        - {name: b, type: new_data, min_samples: 1000000000}
        - {name: c, type: decay, criterion: quantile, history: 2, min_history: 2, quantile: 0.999}
        - {name: d, type: decay, detector: {type: page_hinkley, alpha: 1, delta: 0}}
        - {name: e, type: drift, features: [plan], reference: {bins: 65535, coarse_bins: 65535}}
        - {name: f, type: composite, window_s: 0, of: [{name: g, type: new_data, min_samples: 1}]}
)"));
  const EngineSpec& spec = engine_of(options);
  ASSERT_EQ(spec.triggers.size(), 6u);
  EXPECT_EQ(spec.limits.cooldown, seconds(31536000));
  EXPECT_EQ(std::get<CompositeSpec>(spec.triggers[5].options).options.window, seconds(0));
}

// ---------------------------------------------------------------------------------------------
// Rendering (`ctd check-config`).

TEST(ConfigTriggersRender, ShowsEveryResolvedSetting) {
  const std::string rendered = ctd::config::render(options_of(with_triggers(R"(
      cooldown_s: 1800
      rules:
        - {name: ask, type: manual}
        - {name: nightly, type: schedule, cron: "*/15 * * * *"}
        - {name: fresh, type: new_data, min_samples: 100}
        - {name: ph, type: decay, detector: {type: page_hinkley, threshold: 25}}
        - {name: acc, type: decay, signal: metric, metric: accuracy, higher_is_better: true, criterion: baseline_drop, drop: 0.05}
        - {name: drift, type: drift, features: [plan], window: {type: sliding, rows: 1000, panes: 10}}
        - {name: both, type: composite, mode: at_least, n: 1, window_s: 600, of: [{name: more, type: new_data, min_fraction_of_training_set: 0.5}]}
)")));
  EXPECT_NE(rendered.find(R"(
    triggers:
      cooldown_s: 1800
      min_interval_s: 0
      failure_backoff_s: 60
      failure_backoff_max_s: 3600
      rules:
        - name: ask
          type: manual
        - name: nightly
          type: schedule
          cron: "*/15 * * * *"
        - name: fresh
          type: new_data
          min_samples: 100
        - name: ph
          type: decay
          signal: prequential_error
          detector:
            type: page_hinkley
            min_instances: 30
            delta: 0.005
            threshold: 25
            alpha: 0.9999
        - name: acc
          type: decay
          signal: metric
          metric: accuracy
          higher_is_better: true
          window_points: 1
          criterion: baseline_drop
          drop: 0.05
          drop_mode: absolute
        - name: drift
          type: drift
          features: [plan]
          source: inferences
          window:
            type: sliding
            rows: 1000
            panes: 10
          categorical_metric: jensen_shannon
          categorical_threshold: 0.1
          policy: static
          rule: share
          drift_share: 0.5
          correction: none
          min_samples: 1
          reference:
            bins: 100
            coarse_bins: 10
            sample_size: 50000
        - name: both
          type: composite
          mode: at_least
          n: 1
          window_s: 600
          of:
            - name: more
              type: new_data
              min_fraction_of_training_set: 0.5
)"),
            std::string::npos)
      << rendered;
  EXPECT_EQ(ctd::config::render(options_of(rendered)), rendered);
}

TEST(ConfigTriggersRender, EveryKeyReadsBackToTheSameOptions) {
  const std::string rendered = ctd::config::render(options_of(kEveryKey));
  EXPECT_NE(rendered.find("          numeric_metric: ks\n          numeric_threshold: 0.01\n"),
            std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find("            type: tumbling\n            duration_s: 3600\n"
                          "            ks_sample: 5000\n"),
            std::string::npos)
      << rendered;
  EXPECT_NE(
      rendered.find("            drift_threshold: 3.5\n          refit_after_samples: 5000\n"),
      std::string::npos)
      << rendered;
  EXPECT_NE(
      rendered.find("            sample_size: 100000\n          refit_after_samples: 20000\n"),
      std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find("          criterion: quantile\n          history: 30\n"
                          "          min_history: 8\n          quantile: 0.9\n"),
            std::string::npos)
      << rendered;
  EXPECT_EQ(ctd::config::render(options_of(rendered)), rendered);
}

TEST(ConfigTriggersRender, NoSectionWithoutTriggers) {
  EXPECT_EQ(ctd::config::render(options_of(kBase)).find("triggers"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// From configuration to a working engine.

TEST(ConfigTriggersEngine, AConfiguredNewDataTriggerFiresAfterItsMinSamples) {
  const Options options = options_of(with_triggers(R"(
      cooldown_s: 3600
      rules:
        - {name: fresh, type: new_data, min_samples: 100}
        - {name: nightly, type: schedule, cron: "0 2 * * *"}
)"));
  const ctd::triggers::TimePoint start{std::chrono::hours(24 * 20000)};  // 2024-10-04T00:00Z
  ctd::triggers::ScheduleAnchors anchors;
  anchors.pipeline_start = start;
  auto built = ctd::triggers::build_triggers(engine_of(options), anchors);
  ASSERT_TRUE(built) << built.error().message;
  EXPECT_EQ(built.value().limits.cooldown, std::chrono::hours(1));
  ctd::triggers::ManualClock clock(start);
  auto engine = ctd::triggers::Engine::create("churn", clock, built.value().limits,
                                              std::move(built.value().triggers));
  ASSERT_TRUE(engine) << engine.error().message;

  std::vector<double> labels(100, 0.0);
  ctd::triggers::LabeledBatch batch;
  batch.first_seq = 1;
  batch.labels = std::span<const double>(labels).first(99);
  batch.at = start;
  EXPECT_EQ(engine.value()->on_labels(batch).kind, ctd::triggers::DecisionKind::kNone);
  batch.first_seq = 100;
  batch.labels = std::span<const double>(labels).first(1);
  const ctd::triggers::Decision decision = engine.value()->on_labels(batch);
  ASSERT_TRUE(decision.start_training());
  ASSERT_EQ(decision.fires.size(), 1u);
  EXPECT_EQ(decision.fires[0].trigger, "fresh");
  EXPECT_EQ(decision.fires[0].evidence["value"], 100);

  // The nightly schedule fires at 02:00, but within the cooldown after the training finished
  // it is deferred to its end.
  clock.set(start + std::chrono::hours(1) + std::chrono::minutes(30));
  engine.value()->training_finished(ctd::triggers::TrainingOutcome::kSucceeded);
  clock.set(start + std::chrono::hours(2));
  const ctd::triggers::Decision nightly = engine.value()->tick();
  EXPECT_EQ(nightly.kind, ctd::triggers::DecisionKind::kDeferred);
  EXPECT_EQ(nightly.deferred_by, ctd::triggers::DeferReason::kCooldown);
  ASSERT_EQ(nightly.fires.size(), 1u);
  EXPECT_EQ(nightly.fires[0].trigger, "nightly");
  clock.set(start + std::chrono::hours(2) + std::chrono::minutes(30));
  EXPECT_TRUE(engine.value()->tick().start_training());
}

TEST(ConfigTriggersExamples, ExamplesConfigureTriggersThatBuild) {
  for (const char* name : {"demo.yaml", "production.yaml"}) {
    const auto loaded =
        ctd::config::load((examples_dir() / name).string(), {{"CTD_POSTGRES_DSN", "host=db"}});
    ASSERT_TRUE(std::holds_alternative<Options>(loaded))
        << name << describe(std::get<std::vector<ConfigError>>(loaded));
    const Options& options = std::get<Options>(loaded);
    ASSERT_FALSE(options.pipelines.empty());
    EXPECT_FALSE(options.pipelines[0].triggers.triggers.empty()) << name;
    for (const auto& pipeline : options.pipelines) {
      auto built = ctd::triggers::build_triggers(pipeline.triggers, {});
      EXPECT_TRUE(built) << name << ": " << built.error().message;
    }
  }
  const auto production = ctd::config::load((examples_dir() / "production.yaml").string(),
                                            {{"CTD_POSTGRES_DSN", "host=db"}});
  std::vector<TriggerKind> kinds;
  for (const TriggerSpec& trigger : std::get<Options>(production).pipelines[0].triggers.triggers) {
    kinds.push_back(trigger.kind());
  }
  for (const TriggerKind kind :
       {TriggerKind::kManual, TriggerKind::kSchedule, TriggerKind::kNewData, TriggerKind::kDecay,
        TriggerKind::kDrift, TriggerKind::kComposite}) {
    EXPECT_TRUE(std::find(kinds.begin(), kinds.end(), kind) != kinds.end())
        << "production.yaml has no " << ctd::triggers::to_string(kind) << " trigger";
  }
  EXPECT_GT(std::get<Options>(production).pipelines[0].triggers.limits.cooldown.count(), 0);
}

}  // namespace
}  // namespace config_triggers_test

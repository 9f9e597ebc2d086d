// Tests of the errors in a pipeline's `triggers` section: unknown keys with suggestions, wrong
// types, ranges, missing keys, exclusive keys, keys that do not apply to a trigger's type,
// signal, criterion, window or policy, rules between keys, cron expressions, trigger names and
// drift features, each with its message, line and key path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "tests/unit/config_triggers_support.h"

namespace config_triggers_test {
namespace {

// ---------------------------------------------------------------------------------------------
// Errors. Line 14 holds the first key under `triggers:`; with_rule's trigger is on line 15.

TEST(ConfigTriggersErrors, UnknownKeysSuggestTheClosestKey) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      cooldwn_s: 60
      rules:
        - {name: a, type: new_data, min_sample: 10}
        - {name: b, type: schedule, cronn: "0 2 * * *"}
        - {name: c, type: decay, criterion: quantile, quantil: 0.9}
        - {name: d, type: decay, detector: {type: adwin, delt: 0.1}}
        - {name: e, type: drift, windw: {rows: 10}}
        - {name: f, type: drift, window: {type: sliding, row: 10}}
        - {name: g, type: composite, mod: all, of: [{name: h, type: manul}]}
)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].triggers.cooldwn_s", 14,
                       "unknown key 'cooldwn_s' (did you mean 'cooldown_s'?)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].min_sample", 16, "did you mean 'min_samples'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].cronn", 17, "did you mean 'cron'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].quantil", 18, "did you mean 'quantile'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].detector.delt", 19, "did you mean 'delta'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].windw", 20, "did you mean 'window'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[5].window.row", 21, "did you mean 'rows'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].mod", 22, "did you mean 'mode'?"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].of[0].type", 22,
                       "invalid value 'manul', expected one of: manual, schedule, new_data, "
                       "decay, drift, composite (did you mean 'manual'?)"));
}

TEST(ConfigTriggersErrors, KeysOfAnotherTriggerTypeAreUnknown) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: a, type: new_data, min_samples: 10, every_s: 60}
        - {name: b, type: manual, reason: because}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].every_s", 15,
                       "unknown key 'every_s' (valid keys: name, type, min_samples, "
                       "min_fraction_of_training_set)"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].reason", 16, "valid keys: name, type"));
  EXPECT_EQ(errors.size(), 2u) << describe(errors);
}

TEST(ConfigTriggersErrors, WrongTypes) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      cooldown_s: soon
      rules:
        - {name: a, type: new_data, min_samples: [10]}
        - {name: b, type: drift, features: tenure}
        - {name: c, type: decay, signal: metric, metric: acc, higher_is_better: yes, criterion: static_threshold, threshold: high}
        - {name: d, type: composite, of: {name: e}}
        - {name: f, type: decay, detector: page_hinkley}
        - just-a-name
)"));
  EXPECT_TRUE(
      HasError(errors, "pipelines[0].triggers.cooldown_s", 14, "expected an integer, got 'soon'"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].min_samples", 16, "expected an integer, got a list"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].features", 17, "expected a list, got 'tenure'"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].higher_is_better", 18,
                       "expected a boolean (true or false), got 'yes'"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[2].threshold", 18, "expected a finite number, got 'high'"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].of", 19, "expected a list, got a map"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].detector", 20, "expected a map, got 'page_hinkley'"));
  EXPECT_TRUE(HasError(errors, kRules + "[5]", 21, "expected a map, got 'just-a-name'"));

  EXPECT_TRUE(OnlyError(kBase + "    triggers: [{name: a, type: manual}]\n",
                        "pipelines[0].triggers", 13, "expected a map, got a list"));
  EXPECT_TRUE(OnlyError(with_triggers("\n      rules: {name: a, type: manual}\n"), kRules, 14,
                        "expected a list, got a map"));
}

TEST(ConfigTriggersErrors, OutOfRangeValuesStateTheRange) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      cooldown_s: -1
      min_interval_s: 31536001
      rules:
        - {name: a, type: schedule, every_s: 59}
        - {name: b, type: new_data, min_samples: 0}
        - {name: c, type: new_data, min_fraction_of_training_set: 0}
        - {name: d, type: decay, window_samples: 0, criterion: quantile, quantile: 1, history: 1}
        - {name: e, type: decay, criterion: rolling_average, sigmas: -1, margin: -0.5, refit_after_samples: -1}
        - {name: f, type: decay, criterion: baseline_drop, drop: 0}
        - {name: g, type: decay, detector: {type: page_hinkley, min_instances: 0, delta: -1, threshold: 0, alpha: 1.5}}
        - {name: h, type: decay, detector: {type: adwin, delta: 1, clock: 0, max_buckets: 1, min_window_length: 0, grace_period: -1}}
        - {name: i, type: decay, detector: {type: ddm, warm_start: 0, warning_threshold: 0}}
        - {name: j, type: drift, window: {rows: 0, ks_sample: -1}, numeric_threshold: -0.1, categorical_metric: chi2, categorical_threshold: 1}
        - {name: k, type: drift, policy: dynamic_quantile, quantile: 1.1, history: 0, drift_share: 0, min_samples: 0, reference: {bins: 65536, sample_size: 0}, refit_after_samples: 1000000001}
        - {name: l, type: composite, window_s: -5, mode: at_least, n: 0, of: [{name: m, type: new_data, min_samples: 1}]}
)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].triggers.cooldown_s", 14,
                       "must be between 0 and 31536000, got -1"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].triggers.min_interval_s", 15,
                       "must be between 0 and 31536000, got 31536001"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].every_s", 17, "must be between 60 and 31536000"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].min_samples", 18, "must be between 1 and 1000000000"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[2].min_fraction_of_training_set", 19, "must be > 0, got 0"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[3].window_samples", 20, "must be between 1 and 100000000"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].quantile", 20, "must be in (0, 1), got 1"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].history", 20, "must be between 2 and 10000, got 1"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].sigmas", 21, "must be >= 0, got -1"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].margin", 21, "must be >= 0, got -0.5"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].refit_after_samples", 21,
                       "must be between 0 and 1000000000, got -1"));
  EXPECT_TRUE(HasError(errors, kRules + "[5].drop", 22, "must be > 0, got 0"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].detector.min_instances", 23, "between 1 and"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].detector.delta", 23, "must be >= 0, got -1"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].detector.threshold", 23, "must be > 0, got 0"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].detector.alpha", 23, "must be in (0, 1], got 1.5"));
  EXPECT_TRUE(HasError(errors, kRules + "[7].detector.delta", 24, "must be in (0, 1), got 1"));
  EXPECT_TRUE(HasError(errors, kRules + "[7].detector.clock", 24, "between 1 and 1000000"));
  EXPECT_TRUE(HasError(errors, kRules + "[7].detector.max_buckets", 24, "between 2 and 1000"));
  EXPECT_TRUE(HasError(errors, kRules + "[7].detector.min_window_length", 24, "between 1 and"));
  EXPECT_TRUE(HasError(errors, kRules + "[7].detector.grace_period", 24, "between 0 and"));
  EXPECT_TRUE(HasError(errors, kRules + "[8].detector.warm_start", 25, "between 1 and"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[8].detector.warning_threshold", 25, "must be > 0, got 0"));
  EXPECT_TRUE(HasError(errors, kRules + "[9].window.rows", 26, "between 1 and 100000000"));
  EXPECT_TRUE(HasError(errors, kRules + "[9].window.ks_sample", 26, "between 0 and 10000000"));
  EXPECT_TRUE(HasError(errors, kRules + "[9].numeric_threshold", 26, "must be >= 0, got -0.1"));
  // chi2 decides by a p-value: its threshold is an alpha.
  EXPECT_TRUE(
      HasError(errors, kRules + "[9].categorical_threshold", 26, "must be in (0, 1), got 1"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].quantile", 27, "must be in [0, 1], got 1.1"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].history", 27, "between 1 and 10000, got 0"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].drift_share", 27, "must be in (0, 1], got 0"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].min_samples", 27, "between 1 and 1000000000"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].reference.bins", 27, "between 1 and 65535"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].reference.sample_size", 27, "between 1 and"));
  EXPECT_TRUE(HasError(errors, kRules + "[10].refit_after_samples", 27,
                       "must be between 0 and 1000000000, got 1000000001"));
  EXPECT_TRUE(HasError(errors, kRules + "[11].window_s", 28, "between 0 and 31536000, got -5"));
  EXPECT_TRUE(HasError(errors, kRules + "[11].n", 28, "between 1 and 1000, got 0"));
  EXPECT_EQ(errors.size(), 36u) << describe(errors);
}

TEST(ConfigTriggersErrors, MissingRequiredKeys) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      cooldown_s: 60
      rules:
        - {type: manual}
        - {name: a}
        - {name: b, type: decay, criterion: static_threshold}
        - {name: c, type: decay, criterion: baseline_drop}
        - {name: d, type: decay, signal: metric, criterion: static_threshold, threshold: 0.1}
        - {name: e, type: decay, detector: {threshold: 5}}
        - {name: f, type: composite, mode: at_least}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].name", 16, "missing required key 'name'"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].type", 17, "missing required key 'type'"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].threshold", 18, "missing required key 'threshold'"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].drop", 19, "missing required key 'drop'"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].metric", 20,
                       "missing required key 'metric' (the metric signal's name)"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].higher_is_better", 20,
                       "missing required key 'higher_is_better' (whether larger values of the "
                       "metric are better)"));
  EXPECT_TRUE(HasError(errors, kRules + "[5].detector.type", 21,
                       "missing required key 'type' (page_hinkley, adwin or ddm)"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].of", 22,
                       "missing required key 'of' (the triggers it combines)"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].n", 22,
                       "missing required key 'n' (how many of the triggers must fire)"));
  EXPECT_EQ(errors.size(), 9u) << describe(errors);

  EXPECT_TRUE(OnlyError(with_triggers("\n      cooldown_s: 60\n"), kRules, 14,
                        "missing required key 'rules' (the pipeline's triggers)"));
  EXPECT_TRUE(OnlyError(with_triggers("\n      rules: []\n"), kRules, 14,
                        "at least one trigger is required; leave 'triggers' out for none"));
}

TEST(ConfigTriggersErrors, OneOfTwoKeys) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: a, type: schedule}
        - {name: b, type: schedule, cron: "@daily", every_s: 3600}
        - {name: c, type: new_data}
        - {name: d, type: decay}
        - {name: e, type: decay, criterion: quantile, detector: {type: adwin}}
        - {name: f, type: drift, window: {rows: 100, duration_s: 60}}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0]", 15, "a schedule trigger needs 'cron' or 'every_s'"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].every_s", 16,
                       "'cron' and 'every_s' are exclusive: set one of them"));
  EXPECT_TRUE(HasError(errors, kRules + "[2]", 17,
                       "a new_data trigger needs 'min_samples' and/or "
                       "'min_fraction_of_training_set'"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[3]", 18, "a decay trigger needs 'criterion' or 'detector'"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[4].detector", 19, "'criterion' and 'detector' are exclusive"));
  EXPECT_TRUE(HasError(errors, kRules + "[5].window.duration_s", 20,
                       "'rows' and 'duration_s' are exclusive"));
  EXPECT_EQ(errors.size(), 6u) << describe(errors);
}

TEST(ConfigTriggersErrors, CronExpressionsAreCheckedByTheCronParser) {
  EXPECT_TRUE(OnlyError(with_rule(R"({name: nightly, type: schedule, cron: "0 25 * * *"})"),
                        rule_path(".cron"), 15,
                        R"(cron "0 25 * * *": hour field "25": value 25 is out of range 0-23)"));
  EXPECT_TRUE(OnlyError(with_rule(R"({name: never, type: schedule, cron: "0 0 30 2 *"})"),
                        rule_path(".cron"), 15, "never"));
  EXPECT_TRUE(OnlyError(with_rule(R"({name: short, type: schedule, cron: "0 2 * *"})"),
                        rule_path(".cron"), 15, "cron \"0 2 * *\""));
  // The cron parser's month and weekday names, steps and shorthands are accepted.
  const ScheduleOptions weekly = rule_of<ScheduleOptions>(
      with_rule(R"({name: weekly, type: schedule, cron: "0 6 * JAN-MAR mon"})"));
  EXPECT_EQ(weekly.cron, "0 6 * JAN-MAR mon");
  EXPECT_EQ(
      rule_of<ScheduleOptions>(with_rule(R"({name: d, type: schedule, cron: "@hourly"})")).cron,
      "@hourly");
}

TEST(ConfigTriggersErrors, TriggerNames) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: Nightly, type: schedule, cron: "@daily"}
        - {name: fresh, type: new_data, min_samples: 10}
        - {name: fresh, type: new_data, min_samples: 20}
        - name: both
          type: composite
          of:
            - {name: fresh, type: new_data, min_samples: 30}
            - {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, type: new_data, min_samples: 1}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].name", 15,
                       "invalid trigger name 'Nightly': must match [a-z0-9_-]{1,63}"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].name", 17,
                       "duplicate trigger name 'fresh' (first used at "
                       "pipelines[0].triggers.rules[1].name, line 16)"));
  // Unique across the whole pipeline, composites included.
  EXPECT_TRUE(HasError(errors, kRules + "[3].of[0].name", 21, "duplicate trigger name 'fresh'"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].of[1].name", 22, "invalid trigger name"));
  EXPECT_EQ(errors.size(), 4u) << describe(errors);
}

TEST(ConfigTriggersErrors, KeysThatDoNotApply) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: a, type: decay, criterion: static_threshold, threshold: 1, drop: 0.1, sigmas: 2, history: 5}
        - {name: b, type: decay, detector: {type: adwin}, window_samples: 10, quantile: 0.5}
        - {name: c, type: decay, metric: acc, higher_is_better: false, window_points: 3, criterion: quantile}
        - {name: d, type: decay, signal: metric, metric: acc, higher_is_better: true, window_samples: 3, criterion: quantile}
        - {name: e, type: drift, history: 5, quantile: 0.5, rule: any, drift_share: 0.5}
        - {name: f, type: drift, window: {type: sliding, ks_sample: 10}}
        - {name: g, type: composite, mode: all, n: 2, of: [{name: h, type: new_data, min_samples: 1}]}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].drop", 15,
                       "'drop' is only allowed with criterion baseline_drop"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].sigmas", 15,
                       "'sigmas' is only allowed with criterion rolling_average"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].history", 15,
                       "'history' is only allowed with criterion quantile or rolling_average"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].window_samples", 16,
                       "only allowed with a window criterion (a detector sees every value)"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[1].quantile", 16, "only allowed with a window criterion"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].metric", 17,
                       "'metric' is only allowed when signal is metric"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[2].higher_is_better", 17, "only allowed when signal is metric"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[2].window_points", 17, "only allowed when signal is metric"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].window_samples", 18,
                       "only allowed when signal is prequential_error"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].history", 19,
                       "'history' is only allowed with policy: dynamic_quantile"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].quantile", 19, "only allowed with policy"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].drift_share", 19,
                       "'drift_share' is only allowed with rule: share"));
  EXPECT_TRUE(HasError(errors, kRules + "[5].window.ks_sample", 20,
                       "unknown key 'ks_sample' (valid keys: type, rows, panes)"));
  EXPECT_TRUE(HasError(errors, kRules + "[6].n", 21, "'n' is only allowed when mode is at_least"));
  EXPECT_EQ(errors.size(), 14u) << describe(errors);
}

TEST(ConfigTriggersErrors, RulesBetweenKeys) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: a, type: decay, criterion: quantile, history: 10, min_history: 11}
        - {name: b, type: decay, criterion: rolling_average, history: 4}
        - {name: c, type: decay, detector: {type: ddm, warning_threshold: 3, drift_threshold: 3}}
        - {name: d, type: decay, detector: {type: ddm, warning_threshold: 4}}
        - {name: e, type: decay, signal: metric, metric: acc, higher_is_better: true, detector: {type: ddm}}
        - {name: f, type: drift, window: {type: sliding, rows: 1000, panes: 7}}
        - {name: g, type: drift, window: {type: sliding, rows: 1001}}
        - {name: h, type: drift, reference: {coarse_bins: 7}}
        - {name: i, type: drift, policy: dynamic_quantile, history: 5}
        - {name: j, type: composite, mode: at_least, n: 3, of: [{name: k, type: new_data, min_samples: 1}, {name: l, type: new_data, min_samples: 2}]}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].min_history", 15,
                       "min_history (11) must not be greater than history (10)"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].history", 16,
                       "min_history (5, the default) must not be greater than history (4)"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].detector.drift_threshold", 17,
                       "drift_threshold (3) must be greater than warning_threshold (3)"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].detector.warning_threshold", 18,
                       "drift_threshold (3, the default) must be greater than warning_threshold "
                       "(4)"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].detector.type", 19,
                       "ddm needs signal prequential_error (a stream of 0/1 errors)"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[5].window.panes", 20, "panes (7) must divide rows (1000)"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[6].window.rows", 21, "panes (10) must divide rows (1001)"));
  EXPECT_TRUE(HasError(errors, kRules + "[7].reference.coarse_bins", 22,
                       "coarse_bins (7) must divide bins (100)"));
  EXPECT_TRUE(HasError(errors, kRules + "[8].history", 23,
                       "min_history (10, the default) must not be greater than history (5)"));
  EXPECT_TRUE(HasError(errors, kRules + "[9].n", 24,
                       "n (3) must not exceed the number of triggers in 'of' (2)"));
  EXPECT_EQ(errors.size(), 10u) << describe(errors);

  const std::string kLimits = "pipelines[0].triggers.";
  EXPECT_TRUE(OnlyError(with_triggers(R"(
      failure_backoff_s: 600
      failure_backoff_max_s: 300
      rules: [{name: a, type: manual}]
)"),
                        kLimits + "failure_backoff_s", 14,
                        "failure_backoff_s (600) must not be greater than failure_backoff_max_s "
                        "(300)"));
  EXPECT_TRUE(OnlyError(with_triggers(R"(
      failure_backoff_max_s: 30
      rules: [{name: a, type: manual}]
)"),
                        kLimits + "failure_backoff_max_s", 14,
                        "failure_backoff_s (60, the default) must not be greater than "
                        "failure_backoff_max_s (30)"));
  EXPECT_TRUE(OnlyError(with_triggers(R"(
      failure_backoff_s: 7200
      rules: [{name: a, type: manual}]
)"),
                        kLimits + "failure_backoff_s", 14,
                        "failure_backoff_s (7200) must not be greater than failure_backoff_max_s "
                        "(3600, the default)"));
}

TEST(ConfigTriggersErrors, DriftFeatures) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: a, type: drift, features: [tenur, spend, spend, country]}
        - {name: b, type: drift, features: []}
        - {name: c, type: drift, numeric_metric: chi2, categorical_metric: wasserstein}
        - {name: d, type: drift, features: [plan], numeric_metric: psi, numeric_threshold: 0.2}
        - {name: e, type: drift, features: [tenure], categorical_threshold: 0.2}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].features[0]", 15,
                       "unknown feature 'tenur' (did you mean 'tenure'?)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].features[2]", 15, "duplicate feature 'spend'"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].features[3]", 15,
                       "unknown feature 'country' (features: tenure, spend, plan)"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].features", 16,
                       "must not be empty; leave 'features' out to watch every feature"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].numeric_metric", 17,
                       "chi2 does not apply to numeric features (numeric metrics: psi, "
                       "jensen_shannon, wasserstein, ks)"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].categorical_metric", 17,
                       "wasserstein does not apply to categorical features (categorical metrics: "
                       "psi, jensen_shannon, chi2, linf)"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].numeric_metric", 18,
                       "'numeric_metric' is set, but the trigger watches no numeric feature"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].numeric_threshold", 18,
                       "the trigger watches no numeric feature"));
  EXPECT_TRUE(HasError(errors, kRules + "[4].categorical_threshold", 19,
                       "the trigger watches no categorical feature"));
  EXPECT_EQ(errors.size(), 9u) << describe(errors);
}

TEST(ConfigTriggersErrors, DriftOnInferencesNeedsAnInferencesTopic) {
  std::string text = with_rule("{name: f, type: drift, source: inferences}");
  const std::string topics = "{labels: churn.labels, inferences: churn.inferences}";
  text.replace(text.find(topics), topics.size(), "{labels: churn.labels}");
  EXPECT_TRUE(OnlyError(text, rule_path(".source"), 15,
                        "the pipeline has no inferences topic (topics.inferences); use source: "
                        "labels"));
}

TEST(ConfigTriggersErrors, InvalidEnumValuesListTheAllowedOnes) {
  const std::vector<ConfigError> errors = errors_of(with_triggers(R"(
      rules:
        - {name: a, type: decay, signal: metrics, criterion: static_threshold, threshold: 1}
        - {name: b, type: decay, detector: {type: hinkley}}
        - {name: c, type: drift, source: batch, window: {type: hopping}, policy: dynamic, rule: all, correction: bh}
        - {name: d, type: composite, mode: every, of: [{name: e, type: new_data, min_samples: 1}]}
)"));
  EXPECT_TRUE(HasError(errors, kRules + "[0].signal", 15,
                       "invalid value 'metrics', expected one of: prequential_error, metric "
                       "(did you mean 'metric'?)"));
  EXPECT_TRUE(HasError(errors, kRules + "[1].detector.type", 16,
                       "expected one of: page_hinkley, adwin, ddm"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].source", 17, "expected one of: inferences, labels"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[2].window.type", 17, "expected one of: tumbling, sliding"));
  EXPECT_TRUE(
      HasError(errors, kRules + "[2].policy", 17, "expected one of: static, dynamic_quantile"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].rule", 17, "expected one of: share, any"));
  EXPECT_TRUE(HasError(errors, kRules + "[2].correction", 17,
                       "expected one of: none, bonferroni, benjamini_hochberg"));
  EXPECT_TRUE(HasError(errors, kRules + "[3].mode", 18, "expected one of: any, all, at_least"));
  // An unreadable signal, type, policy or mode leaves the keys that depend on it unjudged.
  EXPECT_EQ(errors.size(), 8u) << describe(errors);

  EXPECT_TRUE(OnlyError(with_rule("{name: a, type: decay, criterion: treshold}"),
                        rule_path(".criterion"), 15,
                        "invalid value 'treshold', expected one of: static_threshold, "
                        "baseline_drop, quantile, rolling_average"));
}

TEST(ConfigTriggersErrors, ManualTriggersCannotBeInsideComposites) {
  EXPECT_TRUE(OnlyError(with_triggers(R"(
      rules:
        - name: both
          type: composite
          of:
            - {name: ask, type: manual}
            - {name: fresh, type: new_data, min_samples: 10}
)"),
                        rule_path(".of[0].type"), 18,
                        "a manual trigger cannot be part of a composite: requests reach "
                        "top-level manual triggers only"));
  EXPECT_TRUE(OnlyError(with_rule("{name: c, type: composite, of: []}"), rule_path(".of"), 15,
                        "at least one trigger is required"));
}

TEST(ConfigTriggersErrors, ErrorStringHasFileLineColumnAndKeyPath) {
  const std::vector<ConfigError> errors =
      errors_of(with_rule(R"({name: nightly, type: schedule, cron: "0 25 * * *"})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "test.yaml:15:49: pipelines[0].triggers.rules[0].cron: cron \"0 25 * * *\": hour "
            "field \"25\": value 25 is out of range 0-23");
}

}  // namespace
}  // namespace config_triggers_test

// The promotion gate and the guardrail: every check passing and failing, both metric
// directions, the first-model path, slices, and reading ctd-train's evaluation report.
#include "registry/gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ctd::registry {
namespace {

using config::GuardrailOptions;
using config::MetricDirection;
using config::PromotionOptions;
using nlohmann::json;

PromotionOptions binary_options() {
  PromotionOptions options;
  options.metric = "roc_auc";
  options.direction = MetricDirection::kHigherIsBetter;
  options.min_holdout_samples = 100;
  return options;
}

PromotionOptions regression_options() {
  PromotionOptions options;
  options.metric = "rmse";
  options.direction = MetricDirection::kLowerIsBetter;
  options.min_holdout_samples = 100;
  return options;
}

EvalReport report(std::int64_t rows, std::map<std::string, double> overall) {
  EvalReport r;
  r.rows = rows;
  r.overall = std::move(overall);
  return r;
}

void add_slice(EvalReport& r, const std::string& feature, const std::string& value,
               std::int64_t rows, std::map<std::string, double> metrics) {
  r.slices[feature][value] = EvalReport::Slice{rows, std::move(metrics)};
}

// The check named `name`; fails the test when there is none.
const GateCheck& check(const GateDecision& decision, const std::string& name) {
  const auto it = std::find_if(decision.checks.begin(), decision.checks.end(),
                               [&name](const GateCheck& c) { return c.name == name; });
  if (it == decision.checks.end()) {
    ADD_FAILURE() << "no check " << name << " in " << decision.to_json().dump();
    static const GateCheck kNone;
    return kNone;
  }
  return *it;
}

bool has_check(const GateDecision& decision, const std::string& name) {
  return std::any_of(decision.checks.begin(), decision.checks.end(),
                     [&name](const GateCheck& c) { return c.name == name; });
}

std::vector<std::string> check_names(const GateDecision& decision) {
  std::vector<std::string> names;
  for (const GateCheck& c : decision.checks) names.push_back(c.name);
  return names;
}

// ---------------------------------------------------------------------------------------------
// The first model of a pipeline: no champion.

TEST(Gate, FirstModelIsJudgedOnItsValueOnly) {
  PromotionOptions options = binary_options();
  options.min_value = 0.85;
  options.min_improvement = 0.5;           // would fail against any champion
  options.min_relative_improvement = 0.5;  // likewise
  options.slices = {"region"};
  EvalReport candidate = report(500, {{"roc_auc", 0.9}, {"log_loss", 0.3}});
  add_slice(candidate, "region", "eu", 200, {{"roc_auc", 0.1}});

  const GateDecision decision = decide(options, candidate, nullptr);
  EXPECT_TRUE(decision.passed) << decision.to_json().dump();
  EXPECT_EQ(check_names(decision), (std::vector<std::string>{"metric", "rows", "min_value"}));
  EXPECT_EQ(decision.metric, "roc_auc");
  EXPECT_EQ(decision.candidate_value, 0.9);
  EXPECT_FALSE(decision.champion_value.has_value());
  EXPECT_EQ(decision.reasons(), "");
  EXPECT_EQ(check(decision, "metric").detail, "roc_auc 0.9000");
  EXPECT_EQ(check(decision, "rows").detail, "holdout rows 500 >= min_holdout_samples 100");
  EXPECT_EQ(check(decision, "min_value").detail, "roc_auc 0.9000 >= min_value 0.8500");
}

TEST(Gate, FirstModelBelowMinValueFails) {
  PromotionOptions options = binary_options();
  options.min_value = 0.85;
  const GateDecision decision = decide(options, report(500, {{"roc_auc", 0.812}}), nullptr);
  EXPECT_FALSE(decision.passed);
  const GateCheck& min_value = check(decision, "min_value");
  EXPECT_FALSE(min_value.passed);
  EXPECT_EQ(min_value.detail, "roc_auc 0.8120 < min_value 0.8500");
  EXPECT_EQ(min_value.values, (json{{"candidate", 0.812}, {"bound", 0.85}}));
  EXPECT_EQ(decision.reasons(), "roc_auc 0.8120 < min_value 0.8500");
}

TEST(Gate, UnconfiguredChecksDoNotAppear) {
  const GateDecision decision = decide(binary_options(), report(500, {{"roc_auc", 0.8}}), nullptr);
  EXPECT_TRUE(decision.passed);
  EXPECT_EQ(check_names(decision), (std::vector<std::string>{"metric", "rows"}));
}

// ---------------------------------------------------------------------------------------------
// metric and rows.

TEST(Gate, MissingMetricFailsAndSkipsTheValueChecks) {
  PromotionOptions options = binary_options();
  options.min_value = 0.5;
  const EvalReport champion = report(500, {{"roc_auc", 0.8}});
  // roc_auc is absent when the held-out data hold one class only.
  const EvalReport candidate = report(500, {{"accuracy", 1.0}, {"log_loss", 0.01}});
  const GateDecision decision = decide(options, candidate, &champion);
  EXPECT_FALSE(decision.passed);
  const GateCheck& metric = check(decision, "metric");
  EXPECT_FALSE(metric.passed);
  EXPECT_EQ(metric.detail,
            "roc_auc missing from the candidate's evaluation (reported: accuracy, log_loss)");
  EXPECT_FALSE(decision.candidate_value.has_value());
  EXPECT_EQ(decision.champion_value, 0.8);
  EXPECT_FALSE(has_check(decision, "min_value"));
  EXPECT_FALSE(has_check(decision, "min_improvement"));
  EXPECT_EQ(decision.reasons(), metric.detail);
  EXPECT_TRUE(decision.to_json().at("candidate").is_null());
}

TEST(Gate, EmptyMetricNameIsAFailedCheck) {
  PromotionOptions options = binary_options();
  options.metric.clear();
  options.min_value = 0.5;
  const EvalReport champion = report(500, {{"roc_auc", 0.8}});
  const GateDecision decision = decide(options, report(500, {{"roc_auc", 0.9}}), &champion);
  EXPECT_FALSE(decision.passed);
  EXPECT_EQ(check_names(decision), (std::vector<std::string>{"metric", "rows"}));
  EXPECT_FALSE(check(decision, "metric").passed);
  EXPECT_EQ(check(decision, "metric").detail, "no promotion metric is configured");
  EXPECT_TRUE(check(decision, "rows").passed);
}

TEST(Gate, TooFewHoldoutRowsFail) {
  const GateDecision decision = decide(binary_options(), report(99, {{"roc_auc", 0.9}}), nullptr);
  EXPECT_FALSE(decision.passed);
  const GateCheck& rows = check(decision, "rows");
  EXPECT_FALSE(rows.passed);
  EXPECT_EQ(rows.detail, "holdout rows 99 < min_holdout_samples 100");
  EXPECT_EQ(rows.values, (json{{"rows", 99}, {"bound", 100}}));

  EXPECT_TRUE(decide(binary_options(), report(100, {{"roc_auc", 0.9}}), nullptr).passed);
}

// ---------------------------------------------------------------------------------------------
// min_value and max_value, both directions.

TEST(Gate, MaxValueBoundsALowerIsBetterMetric) {
  PromotionOptions options = regression_options();
  options.max_value = 12.5;
  const GateDecision passing = decide(options, report(500, {{"rmse", 12.5}, {"mae", 9}}), nullptr);
  EXPECT_TRUE(passing.passed) << passing.to_json().dump();
  EXPECT_EQ(check(passing, "max_value").detail, "rmse 12.5000 <= max_value 12.5000");

  const GateDecision failing = decide(options, report(500, {{"rmse", 13.25}}), nullptr);
  EXPECT_FALSE(failing.passed);
  EXPECT_EQ(check(failing, "max_value").detail, "rmse 13.2500 > max_value 12.5000");
  EXPECT_EQ(check(failing, "max_value").values, (json{{"candidate", 13.25}, {"bound", 12.5}}));
}

TEST(Gate, MinAndMaxValueTogether) {
  PromotionOptions options = binary_options();
  options.metric = "accuracy";
  options.min_value = 0.6;
  options.max_value = 0.99;  // suspiciously perfect models are held back
  EXPECT_TRUE(decide(options, report(500, {{"accuracy", 0.8}}), nullptr).passed);
  const GateDecision too_good = decide(options, report(500, {{"accuracy", 0.999}}), nullptr);
  EXPECT_FALSE(too_good.passed);
  EXPECT_TRUE(check(too_good, "min_value").passed);
  EXPECT_EQ(check(too_good, "max_value").detail, "accuracy 0.9990 > max_value 0.9900");
  EXPECT_EQ(too_good.reasons(), "accuracy 0.9990 > max_value 0.9900");
}

// ---------------------------------------------------------------------------------------------
// min_improvement against the champion.

TEST(Gate, ImprovementHigherIsBetter) {
  const PromotionOptions options = binary_options();  // min_improvement 0: not worse
  const EvalReport champion = report(500, {{"roc_auc", 0.825}});

  const GateDecision worse = decide(options, report(500, {{"roc_auc", 0.812}}), &champion);
  EXPECT_FALSE(worse.passed);
  const GateCheck& improvement = check(worse, "min_improvement");
  EXPECT_FALSE(improvement.passed);
  EXPECT_EQ(improvement.detail,
            "improvement -0.0130 over production 0.8250 < min_improvement 0.0000");
  EXPECT_NEAR(improvement.values.at("improvement").get<double>(), -0.013, 1e-12);
  EXPECT_EQ(improvement.values.at("champion"), 0.825);
  EXPECT_EQ(improvement.values.at("candidate"), 0.812);
  EXPECT_EQ(worse.champion_value, 0.825);
  EXPECT_EQ(worse.reasons(), "improvement -0.0130 over production 0.8250 < min_improvement 0.0000");

  const GateDecision equal = decide(options, report(500, {{"roc_auc", 0.825}}), &champion);
  EXPECT_TRUE(equal.passed);
  EXPECT_EQ(check(equal, "min_improvement").detail,
            "improvement 0.0000 over production 0.8250 >= min_improvement 0.0000");
}

TEST(Gate, ImprovementLowerIsBetterIsSignFlipped) {
  PromotionOptions options = regression_options();
  options.min_improvement = 0.5;
  const EvalReport champion = report(500, {{"rmse", 10.0}});

  const GateDecision better = decide(options, report(500, {{"rmse", 9.25}}), &champion);
  EXPECT_TRUE(better.passed) << better.to_json().dump();
  EXPECT_EQ(check(better, "min_improvement").detail,
            "improvement 0.7500 over production 10.0000 >= min_improvement 0.5000");
  EXPECT_EQ(check(better, "min_improvement").values.at("improvement"), 0.75);

  // A higher rmse is a negative improvement.
  const GateDecision worse = decide(options, report(500, {{"rmse", 10.25}}), &champion);
  EXPECT_FALSE(worse.passed);
  EXPECT_EQ(check(worse, "min_improvement").detail,
            "improvement -0.2500 over production 10.0000 < min_improvement 0.5000");

  // Better, but not by enough.
  const GateDecision small = decide(options, report(500, {{"rmse", 9.75}}), &champion);
  EXPECT_FALSE(small.passed);
  EXPECT_EQ(check(small, "min_improvement").detail,
            "improvement 0.2500 over production 10.0000 < min_improvement 0.5000");
}

TEST(Gate, NegativeMinImprovementToleratesASmallLoss) {
  PromotionOptions options = binary_options();
  options.min_improvement = -0.01;
  const EvalReport champion = report(500, {{"roc_auc", 0.8}});
  EXPECT_TRUE(decide(options, report(500, {{"roc_auc", 0.795}}), &champion).passed);
  const GateDecision decision = decide(options, report(500, {{"roc_auc", 0.785}}), &champion);
  EXPECT_FALSE(decision.passed);
  EXPECT_EQ(check(decision, "min_improvement").detail,
            "improvement -0.0150 over production 0.8000 < min_improvement -0.0100");
}

TEST(Gate, ImprovementExactlyAtTheBoundPassesDespiteRounding) {
  PromotionOptions options = binary_options();
  options.min_improvement = 0.05;
  const EvalReport champion = report(500, {{"roc_auc", 0.80}});
  // 0.85 - 0.80 is 0.04999999999999993 in binary floating point.
  const GateDecision decision = decide(options, report(500, {{"roc_auc", 0.85}}), &champion);
  EXPECT_TRUE(decision.passed) << decision.to_json().dump();
  EXPECT_FALSE(decide(options, report(500, {{"roc_auc", 0.8499}}), &champion).passed);
}

TEST(Gate, ChampionWithoutTheMetricIsNotComparedButRecorded) {
  const EvalReport champion = report(500, {{"log_loss", 0.4}});
  const GateDecision decision =
      decide(binary_options(), report(500, {{"roc_auc", 0.8}}), &champion);
  EXPECT_TRUE(decision.passed);
  EXPECT_FALSE(decision.champion_value.has_value());
  EXPECT_EQ(check(decision, "min_improvement").detail,
            "production's evaluation has no roc_auc; improvement not judged");
}

// ---------------------------------------------------------------------------------------------
// min_relative_improvement.

TEST(Gate, RelativeImprovementHigherIsBetter) {
  PromotionOptions options = binary_options();
  options.min_relative_improvement = 0.02;
  const EvalReport champion = report(500, {{"roc_auc", 0.8}});

  const GateDecision enough = decide(options, report(500, {{"roc_auc", 0.82}}), &champion);
  EXPECT_TRUE(enough.passed) << enough.to_json().dump();
  const GateCheck& passed = check(enough, "min_relative_improvement");
  EXPECT_EQ(passed.detail,
            "relative improvement 0.0250 over production 0.8000 >= min_relative_improvement "
            "0.0200");
  EXPECT_NEAR(passed.values.at("relative_improvement").get<double>(), 0.025, 1e-12);

  const GateDecision short_of = decide(options, report(500, {{"roc_auc", 0.81}}), &champion);
  EXPECT_FALSE(short_of.passed);
  EXPECT_TRUE(check(short_of, "min_improvement").passed);
  EXPECT_EQ(check(short_of, "min_relative_improvement").detail,
            "relative improvement 0.0125 over production 0.8000 < min_relative_improvement "
            "0.0200");
  EXPECT_EQ(short_of.reasons(), check(short_of, "min_relative_improvement").detail);
}

TEST(Gate, RelativeImprovementLowerIsBetterUsesTheChampionsMagnitude) {
  PromotionOptions options = regression_options();
  options.min_relative_improvement = 0.1;
  const EvalReport champion = report(500, {{"rmse", 20.0}});
  const GateDecision better = decide(options, report(500, {{"rmse", 17.0}}), &champion);
  EXPECT_TRUE(better.passed) << better.to_json().dump();
  EXPECT_EQ(check(better, "min_relative_improvement").detail,
            "relative improvement 0.1500 over production 20.0000 >= min_relative_improvement "
            "0.1000");
  const GateDecision not_enough = decide(options, report(500, {{"rmse", 19.0}}), &champion);
  EXPECT_FALSE(not_enough.passed);
  EXPECT_EQ(check(not_enough, "min_relative_improvement").detail,
            "relative improvement 0.0500 over production 20.0000 < min_relative_improvement "
            "0.1000");

  // A negative champion value (a metric that can be negative) divides by its magnitude.
  PromotionOptions higher = binary_options();
  higher.metric = "score";
  higher.min_relative_improvement = 0.1;
  const EvalReport negative = report(500, {{"score", -2.0}});
  const GateDecision up = decide(higher, report(500, {{"score", -1.5}}), &negative);
  EXPECT_TRUE(up.passed) << up.to_json().dump();
  EXPECT_EQ(check(up, "min_relative_improvement").values.at("relative_improvement"), 0.25);
}

TEST(Gate, RelativeImprovementOverAChampionOfZero) {
  PromotionOptions options = regression_options();
  options.min_relative_improvement = 0.5;
  const EvalReport champion = report(500, {{"rmse", 0.0}});

  const GateDecision equal = decide(options, report(500, {{"rmse", 0.0}}), &champion);
  EXPECT_TRUE(equal.passed) << equal.to_json().dump();
  const GateCheck& relative = check(equal, "min_relative_improvement");
  EXPECT_EQ(relative.detail, "production rmse is 0: improvement 0.0000 >= 0");
  EXPECT_TRUE(relative.values.at("relative_improvement").is_null());

  const GateDecision worse = decide(options, report(500, {{"rmse", 0.25}}), &champion);
  EXPECT_FALSE(worse.passed);
  EXPECT_EQ(check(worse, "min_relative_improvement").detail,
            "production rmse is 0: improvement -0.2500 < 0");
}

// ---------------------------------------------------------------------------------------------
// Slices.

TEST(Gate, RegressingSliceFails) {
  PromotionOptions options = binary_options();
  options.slices = {"region"};
  EvalReport champion = report(1000, {{"roc_auc", 0.80}});
  EvalReport candidate = report(1000, {{"roc_auc", 0.82}});
  add_slice(champion, "region", "eu", 300, {{"roc_auc", 0.76}});
  add_slice(candidate, "region", "eu", 300, {{"roc_auc", 0.701}});
  add_slice(champion, "region", "us", 700, {{"roc_auc", 0.82}});
  add_slice(candidate, "region", "us", 700, {{"roc_auc", 0.85}});

  const GateDecision decision = decide(options, candidate, &champion);
  EXPECT_FALSE(decision.passed);
  EXPECT_TRUE(check(decision, "min_improvement").passed);
  const GateCheck& eu = check(decision, "slice region=eu");
  EXPECT_FALSE(eu.passed);
  EXPECT_EQ(eu.detail,
            "slice region=eu: roc_auc 0.7010 vs production 0.7600 regresses 0.0590 > "
            "max_slice_regression 0.0500");
  EXPECT_NEAR(eu.values.at("regression").get<double>(), 0.059, 1e-12);
  EXPECT_EQ(eu.values.at("candidate_rows"), 300);
  const GateCheck& us = check(decision, "slice region=us");
  EXPECT_TRUE(us.passed);
  EXPECT_EQ(us.detail,
            "slice region=us: roc_auc 0.8500 vs production 0.8200 regresses -0.0300 <= "
            "max_slice_regression 0.0500");
  EXPECT_EQ(decision.reasons(), eu.detail);
}

TEST(Gate, SliceWithinTheAllowedRegressionPasses) {
  PromotionOptions options = binary_options();
  options.slices = {"region"};
  options.max_slice_regression = 0.1;
  EvalReport champion = report(1000, {{"roc_auc", 0.80}});
  EvalReport candidate = report(1000, {{"roc_auc", 0.80}});
  add_slice(champion, "region", "eu", 300, {{"roc_auc", 0.76}});
  add_slice(candidate, "region", "eu", 300, {{"roc_auc", 0.701}});
  const GateDecision decision = decide(options, candidate, &champion);
  EXPECT_TRUE(decision.passed) << decision.to_json().dump();
  EXPECT_EQ(check(decision, "slice region=eu").detail,
            "slice region=eu: roc_auc 0.7010 vs production 0.7600 regresses 0.0590 <= "
            "max_slice_regression 0.1000");
}

TEST(Gate, SliceRegressionLowerIsBetter) {
  PromotionOptions options = regression_options();
  options.slices = {"carrier"};
  options.max_slice_regression = 1.0;
  EvalReport champion = report(1000, {{"rmse", 10.0}});
  EvalReport candidate = report(1000, {{"rmse", 9.0}});
  add_slice(champion, "carrier", "dhl", 100, {{"rmse", 8.0}});
  add_slice(candidate, "carrier", "dhl", 100, {{"rmse", 9.5}});  // 1.5 worse
  add_slice(champion, "carrier", "ups", 100, {{"rmse", 12.0}});
  add_slice(candidate, "carrier", "ups", 100, {{"rmse", 11.0}});  // better
  const GateDecision decision = decide(options, candidate, &champion);
  EXPECT_FALSE(decision.passed);
  EXPECT_EQ(check(decision, "slice carrier=dhl").detail,
            "slice carrier=dhl: rmse 9.5000 vs production 8.0000 regresses 1.5000 > "
            "max_slice_regression 1.0000");
  EXPECT_TRUE(check(decision, "slice carrier=ups").passed);
  EXPECT_EQ(check(decision, "slice carrier=ups").values.at("regression"), -1.0);
}

TEST(Gate, SmallMissingAndUnconfiguredSlicesAreNotJudged) {
  PromotionOptions options = binary_options();
  options.slices = {"region", "plan"};
  options.min_slice_samples = 30;
  EvalReport champion = report(1000, {{"roc_auc", 0.8}});
  EvalReport candidate = report(1000, {{"roc_auc", 0.8}});
  // Too few rows in the candidate's or the champion's evaluation.
  add_slice(champion, "region", "small", 100, {{"roc_auc", 0.9}});
  add_slice(candidate, "region", "small", 29, {{"roc_auc", 0.1}});
  add_slice(champion, "region", "tiny", 29, {{"roc_auc", 0.9}});
  add_slice(candidate, "region", "tiny", 100, {{"roc_auc", 0.1}});
  // Exactly min_slice_samples in both: judged.
  add_slice(champion, "region", "edge", 30, {{"roc_auc", 0.7}});
  add_slice(candidate, "region", "edge", 30, {{"roc_auc", 0.7}});
  // The metric missing in one evaluation (one class only in that slice).
  add_slice(champion, "region", "one_class", 100, {{"accuracy", 1.0}});
  add_slice(candidate, "region", "one_class", 100, {{"roc_auc", 0.1}, {"accuracy", 0.5}});
  add_slice(champion, "region", "one_class_b", 100, {{"roc_auc", 0.9}});
  add_slice(candidate, "region", "one_class_b", 100, {{"accuracy", 0.5}});
  // A value in one evaluation only.
  add_slice(candidate, "region", "new", 100, {{"roc_auc", 0.1}});
  add_slice(champion, "region", "gone", 100, {{"roc_auc", 0.9}});
  // A slice feature that is not configured.
  add_slice(champion, "channel", "web", 100, {{"roc_auc", 0.9}});
  add_slice(candidate, "channel", "web", 100, {{"roc_auc", 0.1}});
  // "plan" is configured but only the candidate reports it.
  add_slice(candidate, "plan", "pro", 100, {{"roc_auc", 0.1}});

  const GateDecision decision = decide(options, candidate, &champion);
  EXPECT_TRUE(decision.passed) << decision.to_json().dump();
  EXPECT_EQ(check_names(decision),
            (std::vector<std::string>{"metric", "rows", "min_improvement", "slice region=edge"}));
}

TEST(Gate, FailuresAreAllListedInReasons) {
  PromotionOptions options = binary_options();
  options.min_value = 0.9;
  options.slices = {"region"};
  EvalReport champion = report(1000, {{"roc_auc", 0.825}});
  EvalReport candidate = report(50, {{"roc_auc", 0.812}});
  add_slice(champion, "region", "eu", 300, {{"roc_auc", 0.76}});
  add_slice(candidate, "region", "eu", 300, {{"roc_auc", 0.701}});
  const GateDecision decision = decide(options, candidate, &champion);
  EXPECT_FALSE(decision.passed);
  EXPECT_EQ(decision.reasons(),
            "holdout rows 50 < min_holdout_samples 100; "
            "roc_auc 0.8120 < min_value 0.9000; "
            "improvement -0.0130 over production 0.8250 < min_improvement 0.0000; "
            "slice region=eu: roc_auc 0.7010 vs production 0.7600 regresses 0.0590 > "
            "max_slice_regression 0.0500");
}

TEST(Gate, DecisionJson) {
  PromotionOptions options = binary_options();
  options.min_value = 0.85;
  const EvalReport champion = report(500, {{"roc_auc", 0.825}});
  const json j = decide(options, report(500, {{"roc_auc", 0.812}}), &champion).to_json();
  EXPECT_EQ(j.at("passed"), false);
  EXPECT_EQ(j.at("metric"), "roc_auc");
  EXPECT_EQ(j.at("candidate"), 0.812);
  EXPECT_EQ(j.at("champion"), 0.825);
  ASSERT_EQ(j.at("checks").size(), 4u);
  EXPECT_EQ(j.at("checks")[2], (json{{"name", "min_value"},
                                     {"passed", false},
                                     {"detail", "roc_auc 0.8120 < min_value 0.8500"},
                                     {"values", {{"candidate", 0.812}, {"bound", 0.85}}}}));
  const json first = decide(options, report(500, {{"roc_auc", 0.9}}), nullptr).to_json();
  EXPECT_TRUE(first.at("champion").is_null());
  EXPECT_EQ(first.at("passed"), true);
}

// ---------------------------------------------------------------------------------------------
// EvalReport.

TEST(EvalReport, ReadsCtdTrainEvaluateOutput) {
  const json j = json::parse(R"json({
    "overall": {"accuracy": 0.9, "log_loss": 0.25, "macro_f1": 0.8, "roc_auc": 0.95},
    "rows": 1200,
    "slices": {"region": {"eu": {"rows": 700, "metrics": {"roc_auc": 0.93}},
                          "(missing)": {"rows": 500, "metrics": {"accuracy": 1.0}}}}
  })json");
  const EvalReport r = EvalReport::from_json(j);
  EXPECT_EQ(r.rows, 1200);
  EXPECT_EQ(r.overall.at("roc_auc"), 0.95);
  EXPECT_EQ(r.overall.size(), 4u);
  ASSERT_EQ(r.slices.at("region").size(), 2u);
  EXPECT_EQ(r.slices.at("region").at("eu").rows, 700);
  EXPECT_EQ(r.slices.at("region").at("eu").metrics.at("roc_auc"), 0.93);
  EXPECT_EQ(r.slices.at("region").at("(missing)").metrics.count("roc_auc"), 0u);
  EXPECT_EQ(EvalReport::from_json(r.to_json()).to_json(), r.to_json());
  EXPECT_EQ(r.to_json(), j);
}

TEST(EvalReport, SlicesAreOptionalAndNullMetricsAreAbsent) {
  const EvalReport r =
      EvalReport::from_json(json::parse(R"({"rows": 0, "overall": {"rmse": null, "mae": 2}})"));
  EXPECT_EQ(r.rows, 0);
  EXPECT_EQ(r.overall, (std::map<std::string, double>{{"mae", 2.0}}));
  EXPECT_TRUE(r.slices.empty());
  EXPECT_EQ(r.to_json(), json::parse(R"({"rows": 0, "overall": {"mae": 2.0}, "slices": {}})"));
}

// from_json's message for `text`, or "" when it is accepted.
std::string from_json_error(const char* text) {
  try {
    EvalReport::from_json(json::parse(text));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(EvalReport, MalformedInputNamesTheBadPart) {
  EXPECT_EQ(from_json_error(R"([1, 2])"),
            "invalid evaluation report: (top level): expected an object, got array");
  EXPECT_EQ(from_json_error(R"({"overall": {}})"),
            "invalid evaluation report: (top level): missing \"rows\"");
  EXPECT_EQ(from_json_error(R"({"rows": 5})"),
            "invalid evaluation report: (top level): missing \"overall\"");
  EXPECT_EQ(from_json_error(R"({"rows": -1, "overall": {}})"),
            "invalid evaluation report: rows: expected a non-negative integer, got number");
  EXPECT_EQ(from_json_error(R"({"rows": 1.5, "overall": {}})"),
            "invalid evaluation report: rows: expected a non-negative integer, got number");
  EXPECT_EQ(from_json_error(R"({"rows": "5", "overall": {}})"),
            "invalid evaluation report: rows: expected a non-negative integer, got string");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": [0.5]})"),
            "invalid evaluation report: overall: expected an object, got array");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": {"roc_auc": "high"}})"),
            "invalid evaluation report: overall.roc_auc: expected a number, got string");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": {}, "slices": []})"),
            "invalid evaluation report: slices: expected an object, got array");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": {}, "slices": {"region": 3}})"),
            "invalid evaluation report: slices.region: expected an object, got number");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": {}, "slices": {"region": {"eu": 1}}})"),
            "invalid evaluation report: slices.region.eu: expected an object, got number");
  EXPECT_EQ(from_json_error(
                R"({"rows": 5, "overall": {}, "slices": {"region": {"eu": {"metrics": {}}}}})"),
            "invalid evaluation report: slices.region.eu: missing \"rows\"");
  EXPECT_EQ(
      from_json_error(R"({"rows": 5, "overall": {}, "slices": {"region": {"eu": {"rows": 1}}}})"),
      "invalid evaluation report: slices.region.eu: missing \"metrics\"");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": {},
                               "slices": {"region": {"eu": {"rows": 1, "metrics": {"x": true}}}}})"),
            "invalid evaluation report: slices.region.eu.metrics.x: expected a number, got "
            "boolean");
  EXPECT_EQ(from_json_error(R"({"rows": 5, "overall": {}, "extra": 1})"), "");
}

// ---------------------------------------------------------------------------------------------
// The guardrail.

GuardrailOptions guardrail(double max_drop) {
  GuardrailOptions g;
  g.samples = 1000;
  g.max_drop = max_drop;
  return g;
}

TEST(Guardrail, WithinTheBoundKeepsTheNewVersion) {
  const GuardDecision d =
      judge_guardrail(binary_options(), guardrail(0.05), report(1000, {{"roc_auc", 0.74}}),
                      report(1000, {{"roc_auc", 0.76}}));
  EXPECT_FALSE(d.rollback);
  EXPECT_EQ(d.detail, "roc_auc 0.7400 vs previous version 0.7600 drops 0.0200 <= max_drop 0.0500");
  EXPECT_NEAR(d.values.at("drop").get<double>(), 0.02, 1e-12);
  EXPECT_EQ(d.values.at("promoted"), 0.74);
  EXPECT_EQ(d.values.at("previous"), 0.76);
  EXPECT_EQ(d.values.at("max_drop"), 0.05);

  // An improvement is a negative drop.
  const GuardDecision better =
      judge_guardrail(binary_options(), guardrail(0.0), report(1000, {{"roc_auc", 0.80}}),
                      report(1000, {{"roc_auc", 0.76}}));
  EXPECT_FALSE(better.rollback);
  EXPECT_EQ(better.detail,
            "roc_auc 0.8000 vs previous version 0.7600 drops -0.0400 <= max_drop 0.0000");
}

TEST(Guardrail, BeyondTheBoundRollsBack) {
  const GuardDecision d =
      judge_guardrail(binary_options(), guardrail(0.05), report(1000, {{"roc_auc", 0.701}}),
                      report(1000, {{"roc_auc", 0.76}}));
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.detail, "roc_auc 0.7010 vs previous version 0.7600 drops 0.0590 > max_drop 0.0500");

  // max_drop 0 (the default): any loss rolls back.
  EXPECT_TRUE(judge_guardrail(binary_options(), guardrail(0.0), report(1000, {{"roc_auc", 0.759}}),
                              report(1000, {{"roc_auc", 0.76}}))
                  .rollback);
}

TEST(Guardrail, LowerIsBetter) {
  const PromotionOptions options = regression_options();
  const GuardDecision worse = judge_guardrail(
      options, guardrail(0.5), report(1000, {{"rmse", 11.0}}), report(1000, {{"rmse", 10.0}}));
  EXPECT_TRUE(worse.rollback);
  EXPECT_EQ(worse.detail,
            "rmse 11.0000 vs previous version 10.0000 drops 1.0000 > max_drop 0.5000");
  const GuardDecision better = judge_guardrail(
      options, guardrail(0.5), report(1000, {{"rmse", 9.0}}), report(1000, {{"rmse", 10.0}}));
  EXPECT_FALSE(better.rollback);
  EXPECT_EQ(better.detail,
            "rmse 9.0000 vs previous version 10.0000 drops -1.0000 <= max_drop 0.5000");
  EXPECT_FALSE(judge_guardrail(options, guardrail(0.5), report(1000, {{"rmse", 10.5}}),
                               report(1000, {{"rmse", 10.0}}))
                   .rollback);
}

TEST(Guardrail, MissingMetric) {
  const PromotionOptions options = binary_options();
  const GuardDecision missing_new =
      judge_guardrail(options, guardrail(0.05), report(1000, {{"accuracy", 1.0}}),
                      report(1000, {{"roc_auc", 0.76}}));
  EXPECT_TRUE(missing_new.rollback);
  EXPECT_EQ(missing_new.detail,
            "roc_auc missing from the promoted version's evaluation (previous version 0.7600)");
  EXPECT_TRUE(missing_new.values.at("promoted").is_null());

  const GuardDecision missing_old =
      judge_guardrail(options, guardrail(0.05), report(1000, {{"roc_auc", 0.7}}),
                      report(1000, {{"accuracy", 1.0}}));
  EXPECT_FALSE(missing_old.rollback);
  EXPECT_EQ(missing_old.detail,
            "roc_auc missing from the previous version's evaluation; guardrail not judged");

  const GuardDecision missing_both =
      judge_guardrail(options, guardrail(0.05), report(1000, {{"accuracy", 1.0}}),
                      report(1000, {{"accuracy", 1.0}}));
  EXPECT_FALSE(missing_both.rollback);
  EXPECT_EQ(missing_both.detail, "roc_auc missing from both evaluations; guardrail not judged");
}

}  // namespace
}  // namespace ctd::registry

// Tests of the model registry's configuration: each pipeline's `promotion` section (defaults by
// label kind, every key, every rule with its position and key path) and the root `registry`
// section (paths, the CTD_ARTIFACT_ROOT override), and how `ctd check-config` renders them.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"

namespace {

using ctd::config::ConfigError;
using ctd::config::Environment;
using ctd::config::MetricDirection;
using ctd::config::Options;
using ctd::config::PromotionOptions;
using ctd::config::RegistryOptions;

// Raw strings below start with a newline so that their first line is line 1.
std::string yaml(const char* text) { return std::string(text).substr(1); }

// A valid configuration with two categorical features. Line 13 holds the label, so that
// label_kind() can swap it without moving later lines; tests append pipeline keys (indented by
// 4) or root sections from line 15.
const std::string kBase = yaml(R"(
postgres:
  dsn: postgresql://ctd@localhost/ctd
kafka:
  brokers: embedded
pipelines:
  - name: churn
    topics:
      labels: churn.labels
    features:
      - {name: tenure, type: numeric}
      - {name: plan, type: categorical}
      - {name: region, type: categorical}
    label: {kind: binary}
    # promotion or root sections follow
)");

// kBase with the label on line 13 replaced by `label` (a flow map).
std::string with_label(const std::string& label) {
  std::string text = kBase;
  const std::string binary = "{kind: binary}";
  return text.replace(text.find(binary), binary.size(), label);
}

const std::string kMulticlass = "{kind: multiclass, num_classes: 3}";
const std::string kRegression = "{kind: regression}";

std::string describe(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& error : errors) out += "\n  " + error.to_string();
  return out;
}

Options options_in(const std::string& text, const std::string& file, const Environment& env = {}) {
  auto result = ctd::config::parse(text, file, env);
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
    ADD_FAILURE() << "unexpected errors:" << describe(*errors);
    return {};
  }
  return std::get<Options>(result);
}

Options options_of(const std::string& text, const Environment& env = {}) {
  return options_in(text, "/etc/ctd/ctd.yaml", env);
}

std::vector<ConfigError> errors_of(const std::string& text, const Environment& env = {}) {
  auto result = ctd::config::parse(text, "test.yaml", env);
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) return *errors;
  ADD_FAILURE() << "expected errors, but the configuration was accepted";
  return {};
}

// Succeeds when one error has this key path and line and its message contains `text`.
testing::AssertionResult HasError(const std::vector<ConfigError>& errors,
                                  const std::string& key_path, int line, const std::string& text) {
  for (const ConfigError& error : errors) {
    if (error.key_path == key_path && error.line == line &&
        error.message.find(text) != std::string::npos) {
      return testing::AssertionSuccess();
    }
  }
  return testing::AssertionFailure() << "no error at " << key_path << " (line " << line
                                     << ") containing \"" << text << "\"; got:" << describe(errors);
}

// The promotion options of the only pipeline of `text`.
PromotionOptions promotion_of(const std::string& text) {
  const Options options = options_of(text);
  if (options.pipelines.size() != 1) {
    ADD_FAILURE() << "expected one pipeline";
    return {};
  }
  return options.pipelines[0].promotion;
}

// ---------------------------------------------------------------------------------------------
// Defaults.

TEST(ConfigPromotion, DefaultsWhenAbsent) {
  const PromotionOptions p = promotion_of(kBase);
  EXPECT_EQ(p.metric, "log_loss");  // trainers::primary_metric(binary)
  EXPECT_EQ(p.direction, MetricDirection::kLowerIsBetter);
  EXPECT_FALSE(p.min_value.has_value());
  EXPECT_FALSE(p.max_value.has_value());
  EXPECT_EQ(p.min_improvement, 0.0);
  EXPECT_FALSE(p.min_relative_improvement.has_value());
  EXPECT_EQ(p.holdout_samples, 1000);
  EXPECT_EQ(p.min_holdout_samples, 100);
  EXPECT_TRUE(p.slices.empty());
  EXPECT_EQ(p.max_slice_regression, 0.05);
  EXPECT_EQ(p.min_slice_samples, 30);
  EXPECT_FALSE(p.canary.has_value());
  EXPECT_FALSE(p.guardrail.has_value());

  // An empty section is the same as an absent one.
  const PromotionOptions empty = promotion_of(kBase + "    promotion: {}\n");
  EXPECT_EQ(empty.metric, "log_loss");
  EXPECT_EQ(empty.holdout_samples, 1000);
}

TEST(ConfigPromotion, DefaultMetricFollowsTheLabelKind) {
  const PromotionOptions multiclass = promotion_of(with_label(kMulticlass));
  EXPECT_EQ(multiclass.metric, "log_loss");
  EXPECT_EQ(multiclass.direction, MetricDirection::kLowerIsBetter);
  const PromotionOptions regression = promotion_of(with_label(kRegression));
  EXPECT_EQ(regression.metric, "rmse");
  EXPECT_EQ(regression.direction, MetricDirection::kLowerIsBetter);
}

TEST(ConfigPromotion, DirectionDefaultsFromTheMetric) {
  struct Case {
    std::string label;
    const char* metric;
    MetricDirection direction;
  };
  const std::vector<Case> cases = {
      {"{kind: binary}", "accuracy", MetricDirection::kHigherIsBetter},
      {"{kind: binary}", "log_loss", MetricDirection::kLowerIsBetter},
      {"{kind: binary}", "roc_auc", MetricDirection::kHigherIsBetter},
      {"{kind: binary}", "macro_f1", MetricDirection::kHigherIsBetter},
      {kMulticlass, "accuracy", MetricDirection::kHigherIsBetter},
      {kMulticlass, "log_loss", MetricDirection::kLowerIsBetter},
      {kMulticlass, "macro_f1", MetricDirection::kHigherIsBetter},
      {kRegression, "mae", MetricDirection::kLowerIsBetter},
      {kRegression, "rmse", MetricDirection::kLowerIsBetter},
  };
  for (const Case& c : cases) {
    const PromotionOptions p =
        promotion_of(with_label(c.label) + "    promotion: {metric: " + c.metric + "}\n");
    EXPECT_EQ(p.metric, c.metric);
    EXPECT_EQ(p.direction, c.direction) << c.metric;
  }
  // An explicit direction wins.
  const PromotionOptions explicit_direction =
      promotion_of(kBase + "    promotion: {metric: roc_auc, direction: lower}\n");
  EXPECT_EQ(explicit_direction.direction, MetricDirection::kLowerIsBetter);
  EXPECT_EQ(promotion_of(kBase + "    promotion: {direction: higher}\n").direction,
            MetricDirection::kHigherIsBetter);
}

TEST(ConfigRegistry, DefaultsWhenAbsent) {
  const RegistryOptions defaults;
  const Options options = options_of(kBase);
  EXPECT_EQ(options.registry.artifact_root, "/var/lib/ctd/artifacts");
  EXPECT_EQ(options.registry.artifact_root, defaults.artifact_root);
  EXPECT_FALSE(options.registry.triton_repository.has_value());
  EXPECT_EQ(options.registry.triton_max_batch_size, 256);
  EXPECT_EQ(options.registry.watch_interval, std::chrono::seconds(30));
  EXPECT_EQ(options_of(kBase + "registry: {}\n").registry.artifact_root, defaults.artifact_root);
}

// ---------------------------------------------------------------------------------------------
// Every key.

const std::string kFullPromotion = kBase + yaml(R"(
    promotion:
      metric: roc_auc
      direction: higher
      min_value: 0.7
      max_value: 0.999
      min_improvement: -0.005
      min_relative_improvement: 0.01
      holdout_samples: 5000
      min_holdout_samples: 500
      slices: [region, plan]
      max_slice_regression: 0.02
      min_slice_samples: 50
      canary: {samples: 20000}
      guardrail: {samples: 10000, max_drop: 0.01, window_s: 86400}
registry:
  artifact_root: ../artifacts
  triton_repository: triton/models
  triton_max_batch_size: 1024
  watch_interval_s: 5
)");

TEST(ConfigPromotion, EveryKeyIsRead) {
  const Options options = options_of(kFullPromotion);
  const PromotionOptions& p = options.pipelines.at(0).promotion;
  EXPECT_EQ(p.metric, "roc_auc");
  EXPECT_EQ(p.direction, MetricDirection::kHigherIsBetter);
  EXPECT_EQ(p.min_value, 0.7);
  EXPECT_EQ(p.max_value, 0.999);
  EXPECT_EQ(p.min_improvement, -0.005);
  EXPECT_EQ(p.min_relative_improvement, 0.01);
  EXPECT_EQ(p.holdout_samples, 5000);
  EXPECT_EQ(p.min_holdout_samples, 500);
  EXPECT_EQ(p.slices, (std::vector<std::string>{"region", "plan"}));
  EXPECT_EQ(p.max_slice_regression, 0.02);
  EXPECT_EQ(p.min_slice_samples, 50);
  ASSERT_TRUE(p.canary.has_value());
  EXPECT_EQ(p.canary->samples, 20000);
  ASSERT_TRUE(p.guardrail.has_value());
  EXPECT_EQ(p.guardrail->samples, 10000);
  EXPECT_EQ(p.guardrail->max_drop, 0.01);
  EXPECT_EQ(p.guardrail->window, std::chrono::seconds(86400));

  // Relative paths: against the config file's directory.
  EXPECT_EQ(options.registry.artifact_root, "/etc/artifacts");
  EXPECT_EQ(options.registry.triton_repository, "/etc/ctd/triton/models");
  EXPECT_EQ(options.registry.triton_max_batch_size, 1024);
  EXPECT_EQ(options.registry.watch_interval, std::chrono::seconds(5));
}

TEST(ConfigPromotion, GuardrailDefaults) {
  const PromotionOptions p = promotion_of(kBase + "    promotion: {guardrail: {samples: 5}}\n");
  ASSERT_TRUE(p.guardrail.has_value());
  EXPECT_EQ(p.guardrail->samples, 5);
  EXPECT_EQ(p.guardrail->max_drop, 0.0);
  EXPECT_EQ(p.guardrail->window, std::chrono::hours(24 * 7));
  EXPECT_FALSE(p.canary.has_value());
}

TEST(ConfigPromotion, BoundsAtTheEdgesOfTheirRanges) {
  const PromotionOptions low = promotion_of(kBase + yaml(R"(
    promotion:
      holdout_samples: 1
      min_holdout_samples: 1
      min_slice_samples: 1
      max_slice_regression: 0
      min_value: 0.5
      max_value: 0.5
      canary: {samples: 1}
      guardrail: {samples: 1, max_drop: 0, window_s: 1}
)"));
  EXPECT_EQ(low.holdout_samples, 1);
  EXPECT_EQ(low.min_holdout_samples, 1);
  EXPECT_EQ(low.guardrail->window, std::chrono::seconds(1));
  const PromotionOptions high = promotion_of(kBase + yaml(R"(
    promotion:
      holdout_samples: 100000000
      min_holdout_samples: 100000000
      min_slice_samples: 1000000000
      canary: {samples: 100000000}
      guardrail: {samples: 100000000, window_s: 31536000}
)"));
  EXPECT_EQ(high.holdout_samples, 100'000'000);
  EXPECT_EQ(high.min_slice_samples, 1'000'000'000);
  EXPECT_EQ(high.guardrail->window, std::chrono::seconds(31'536'000));
  EXPECT_EQ(options_of(kBase + "registry: {triton_max_batch_size: 1000000}\n")
                .registry.triton_max_batch_size,
            1'000'000);
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST(ConfigPromotionErrors, UnknownMetricListsTheLabelKindsMetrics) {
  const auto binary = errors_of(kBase + "    promotion: {metric: rmse}\n");
  ASSERT_EQ(binary.size(), 1u) << describe(binary);
  EXPECT_TRUE(HasError(binary, "pipelines[0].promotion.metric", 15,
                       "unknown metric 'rmse' for a binary label, expected one of: accuracy, "
                       "log_loss, roc_auc, macro_f1"));
  EXPECT_EQ(binary[0].column, 25);

  EXPECT_TRUE(HasError(errors_of(kBase + "    promotion: {metric: roc-auc}\n"),
                       "pipelines[0].promotion.metric", 15,
                       "unknown metric 'roc-auc' for a binary label, expected one of: accuracy, "
                       "log_loss, roc_auc, macro_f1 (did you mean 'roc_auc'?)"));
  EXPECT_TRUE(HasError(errors_of(with_label(kMulticlass) + "    promotion: {metric: roc_auc}\n"),
                       "pipelines[0].promotion.metric", 15,
                       "unknown metric 'roc_auc' for a multiclass label, expected one of: "
                       "accuracy, log_loss, macro_f1"));
  EXPECT_TRUE(HasError(errors_of(with_label(kRegression) + "    promotion: {metric: accuracy}\n"),
                       "pipelines[0].promotion.metric", 15,
                       "unknown metric 'accuracy' for a regression label, expected one of: mae, "
                       "rmse"));
  EXPECT_TRUE(HasError(errors_of(kBase + "    promotion: {metric: \"\"}\n"),
                       "pipelines[0].promotion.metric", 15, "must not be empty"));
}

TEST(ConfigPromotionErrors, MetricIsNotJudgedWhenTheLabelKindIsUnreadable) {
  const auto errors = errors_of(with_label("{kind: binar}") + "    promotion: {metric: rmse}\n");
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].label.kind", 13, "invalid value 'binar'"));
}

TEST(ConfigPromotionErrors, InvalidDirection) {
  const auto errors = errors_of(kBase + "    promotion: {direction: up}\n");
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.direction", 15,
                       "invalid value 'up', expected one of: higher, lower"));
  EXPECT_TRUE(HasError(errors_of(kBase + "    promotion: {direction: lowr}\n"),
                       "pipelines[0].promotion.direction", 15, "(did you mean 'lower'?)"));
}

TEST(ConfigPromotionErrors, MinValueAboveMaxValue) {
  const auto errors = errors_of(kBase + yaml(R"(
    promotion:
      max_value: 0.8
      min_value: 0.9
)"));
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_value", 17,
                       "min_value (0.9) must not be greater than max_value (0.8)"));
}

TEST(ConfigPromotionErrors, MinHoldoutSamplesAboveHoldoutSamples) {
  const auto errors = errors_of(kBase + yaml(R"(
    promotion:
      holdout_samples: 200
      min_holdout_samples: 201
)"));
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_holdout_samples", 17,
                       "min_holdout_samples (201) must not be greater than holdout_samples (200)"));

  // Against the default minimum (100), reported at holdout_samples.
  const auto against_default = errors_of(kBase + "    promotion:\n      holdout_samples: 50\n");
  ASSERT_EQ(against_default.size(), 1u) << describe(against_default);
  EXPECT_TRUE(HasError(against_default, "pipelines[0].promotion.holdout_samples", 16,
                       "holdout_samples (50) must not be less than min_holdout_samples (100, the "
                       "default)"));
  // ... and against the default holdout (1000), at min_holdout_samples.
  EXPECT_TRUE(HasError(errors_of(kBase + "    promotion:\n      min_holdout_samples: 1001\n"),
                       "pipelines[0].promotion.min_holdout_samples", 16,
                       "min_holdout_samples (1001) must not be greater than holdout_samples "
                       "(1000)"));
  // Not judged when either value is unreadable (one error each).
  const auto unreadable = errors_of(kBase + yaml(R"(
    promotion:
      holdout_samples: 0
      min_holdout_samples: 500
)"));
  ASSERT_EQ(unreadable.size(), 1u) << describe(unreadable);
  EXPECT_TRUE(HasError(unreadable, "pipelines[0].promotion.holdout_samples", 16,
                       "must be between 1 and 100000000, got 0"));
}

TEST(ConfigPromotionErrors, RangeErrorsHavePositions) {
  const auto errors = errors_of(kBase + yaml(R"(
    promotion:
      holdout_samples: 100000001
      min_holdout_samples: 0
      max_slice_regression: -0.01
      min_slice_samples: 1000000001
      canary: {samples: 0}
      guardrail: {samples: 100000001, max_drop: -1, window_s: 31536001}
registry:
  triton_max_batch_size: 1000001
)"));
  ASSERT_EQ(errors.size(), 9u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.holdout_samples", 16,
                       "must be between 1 and 100000000, got 100000001"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_holdout_samples", 17,
                       "must be between 1 and 100000000, got 0"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.max_slice_regression", 18,
                       "must be >= 0, got -0.01"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_slice_samples", 19,
                       "must be between 1 and 1000000000, got 1000000001"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.canary.samples", 20,
                       "must be between 1 and 100000000, got 0"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.guardrail.samples", 21,
                       "must be between 1 and 100000000, got 100000001"));
  EXPECT_TRUE(
      HasError(errors, "pipelines[0].promotion.guardrail.max_drop", 21, "must be >= 0, got -1"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.guardrail.window_s", 21,
                       "must be between 1 and 31536000, got 31536001"));
  EXPECT_TRUE(HasError(errors, "registry.triton_max_batch_size", 23,
                       "must be between 1 and 1000000, got 1000001"));
  const auto guardrail = std::find_if(errors.begin(), errors.end(), [](const ConfigError& e) {
    return e.key_path == "pipelines[0].promotion.guardrail.window_s";
  });
  ASSERT_NE(guardrail, errors.end());
  EXPECT_EQ(guardrail->to_string(),
            "test.yaml:21:63: pipelines[0].promotion.guardrail.window_s: must be between 1 and "
            "31536000, got 31536001");

  const auto low = errors_of(kBase + yaml(R"(
    promotion:
      min_slice_samples: 0
      guardrail: {samples: 0, window_s: 0}
registry: {triton_max_batch_size: 0, watch_interval_s: 0}
)"));
  ASSERT_EQ(low.size(), 5u) << describe(low);
  EXPECT_TRUE(HasError(low, "pipelines[0].promotion.min_slice_samples", 16, "got 0"));
  EXPECT_TRUE(HasError(low, "pipelines[0].promotion.guardrail.samples", 17, "got 0"));
  EXPECT_TRUE(HasError(low, "pipelines[0].promotion.guardrail.window_s", 17, "got 0"));
  EXPECT_TRUE(HasError(low, "registry.triton_max_batch_size", 18, "got 0"));
  EXPECT_TRUE(HasError(low, "registry.watch_interval_s", 18, "got 0"));
}

TEST(ConfigPromotionErrors, SlicesMustNameCategoricalFeaturesOnce) {
  const auto errors =
      errors_of(kBase + "    promotion:\n      slices: [tenure, regoin, country, plan, plan]\n");
  ASSERT_EQ(errors.size(), 4u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.slices[0]", 16,
                       "feature 'tenure' is numeric; slices must name categorical features "
                       "(categorical features: plan, region)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.slices[1]", 16,
                       "unknown feature 'regoin' (did you mean 'region'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.slices[2]", 16,
                       "unknown feature 'country' (categorical features: plan, region)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.slices[4]", 16,
                       "duplicate slice 'plan' (first used at pipelines[0].promotion.slices[3]"));
  const auto slices_1 = std::find_if(errors.begin(), errors.end(), [](const ConfigError& e) {
    return e.key_path == "pipelines[0].promotion.slices[1]";
  });
  ASSERT_NE(slices_1, errors.end());
  EXPECT_EQ(slices_1->column, 24);
}

TEST(ConfigPromotionErrors, CanaryAndGuardrailRequireSamples) {
  const auto errors = errors_of(kBase + yaml(R"(
    promotion:
      canary: {}
      guardrail:
        max_drop: 0.01
)"));
  ASSERT_EQ(errors.size(), 2u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.canary.samples", 16,
                       "missing required key 'samples'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.guardrail.samples", 18,
                       "missing required key 'samples'"));
  // An empty value counts as present.
  EXPECT_TRUE(HasError(errors_of(kBase + "    promotion:\n      canary:\n"),
                       "pipelines[0].promotion.canary.samples", 16,
                       "missing required key 'samples'"));
}

TEST(ConfigPromotionErrors, UnknownKeysSuggestTheClosestKey) {
  const auto errors = errors_of(kBase + yaml(R"(
    promotion:
      metrc: roc_auc
      min_improvment: 0.01
      canary: {sample: 5}
      guardrail: {samples: 5, max_dorp: 0.1}
      rollout: fast
    promotoin: {}
registry:
  artifact_roots: /x
  triton_batch: 3
)"));
  ASSERT_EQ(errors.size(), 9u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.metrc", 16,
                       "unknown key 'metrc' (did you mean 'metric'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_improvment", 17,
                       "unknown key 'min_improvment' (did you mean 'min_improvement'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.canary.sample", 18,
                       "unknown key 'sample' (did you mean 'samples'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.canary.samples", 18,
                       "missing required key 'samples'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.guardrail.max_dorp", 19,
                       "unknown key 'max_dorp' (did you mean 'max_drop'?)"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.rollout", 20,
                       "unknown key 'rollout' (valid keys: metric, direction, min_value,"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotoin", 21,
                       "unknown key 'promotoin' (did you mean 'promotion'?)"));
  EXPECT_TRUE(HasError(errors, "registry.artifact_roots", 23,
                       "unknown key 'artifact_roots' (did you mean 'artifact_root'?)"));
  // triton_batch is too far from any key for a suggestion: the valid keys are listed.
  EXPECT_TRUE(HasError(errors, "registry.triton_batch", 24,
                       "unknown key 'triton_batch' (valid keys: artifact_root, "
                       "triton_repository, triton_max_batch_size, watch_interval_s)"));
}

TEST(ConfigPromotionErrors, WrongTypes) {
  const auto errors = errors_of(kBase + yaml(R"(
    promotion:
      metric: [roc_auc]
      min_value: high
      min_improvement: {a: 1}
      holdout_samples: 1.5
      slices: plan
      canary: 3
      guardrail: [1]
registry:
  artifact_root: ""
  triton_repository: {}
)"));
  ASSERT_EQ(errors.size(), 9u) << describe(errors);
  EXPECT_TRUE(
      HasError(errors, "pipelines[0].promotion.metric", 16, "expected a string, got a list"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_value", 17,
                       "expected a finite number, got 'high'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.min_improvement", 18,
                       "expected a number, got a map"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.holdout_samples", 19,
                       "expected an integer, got '1.5'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.slices", 20, "expected a list, got 'plan'"));
  EXPECT_TRUE(HasError(errors, "pipelines[0].promotion.canary", 21, "expected a map, got '3'"));
  EXPECT_TRUE(
      HasError(errors, "pipelines[0].promotion.guardrail", 22, "expected a map, got a list"));
  EXPECT_TRUE(HasError(errors, "registry.artifact_root", 24, "must not be empty"));
  EXPECT_TRUE(HasError(errors, "registry.triton_repository", 25, "expected a string, got a map"));

  const auto not_maps = errors_of(kBase + "    promotion: [1]\nregistry: x\n");
  ASSERT_EQ(not_maps.size(), 2u) << describe(not_maps);
  EXPECT_TRUE(HasError(not_maps, "pipelines[0].promotion", 15, "expected a map, got a list"));
  EXPECT_TRUE(HasError(not_maps, "registry", 16, "expected a map, got 'x'"));
}

// ---------------------------------------------------------------------------------------------
// Paths and the environment.

TEST(ConfigRegistry, PathsAreMadeAbsolute) {
  const std::string text =
      kBase + "registry: {artifact_root: art, triton_repository: /srv/triton/../models}\n";
  const Options options = options_in(text, "/etc/ctd/ctd.yaml");
  EXPECT_EQ(options.registry.artifact_root, "/etc/ctd/art");
  EXPECT_EQ(options.registry.triton_repository, "/srv/models");

  // A relative config file name: relative to the working directory.
  const std::filesystem::path cwd = std::filesystem::current_path();
  EXPECT_EQ(options_in(text, "conf/ctd.yaml").registry.artifact_root,
            (cwd / "conf" / "art").string());
}

TEST(ConfigRegistry, EnvironmentOverridesArtifactRoot) {
  const std::string text = kBase + "registry: {artifact_root: /a/art}\n";
  EXPECT_EQ(options_of(text, {{"CTD_ARTIFACT_ROOT", "/srv/artifacts"}}).registry.artifact_root,
            "/srv/artifacts");
  // Satisfied without the file's key, too.
  EXPECT_EQ(options_of(kBase, {{"CTD_ARTIFACT_ROOT", "/srv/a/../b"}}).registry.artifact_root,
            "/srv/b");

  // Relative values are resolved against the working directory, not the file's.
  EXPECT_EQ(options_of(text, {{"CTD_ARTIFACT_ROOT", "artifacts"}}).registry.artifact_root,
            (std::filesystem::current_path() / "artifacts").string());

  const auto errors = errors_of(kBase, {{"CTD_ARTIFACT_ROOT", ""}});
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(HasError(errors, "env CTD_ARTIFACT_ROOT", 0, "must not be empty"));
}

// ---------------------------------------------------------------------------------------------
// Rendering (`ctd check-config`).

TEST(ConfigPromotionRender, ShowsTheResolvedSettings) {
  const std::string rendered = ctd::config::render(options_of(kFullPromotion));
  EXPECT_NE(rendered.find(R"(
    promotion:
      metric: roc_auc
      direction: higher
      min_value: 0.7
      max_value: 0.999
      min_improvement: -0.005
      min_relative_improvement: 0.01
      holdout_samples: 5000
      min_holdout_samples: 500
      slices: [region, plan]
      max_slice_regression: 0.02
      min_slice_samples: 50
      canary:
        samples: 20000
      guardrail:
        samples: 10000
        max_drop: 0.01
        window_s: 86400
)"),
            std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find(R"(
registry:
  artifact_root: /etc/artifacts
  triton_repository: /etc/ctd/triton/models
  triton_max_batch_size: 1024
)"),
            std::string::npos)
      << rendered;
  // It reads back to the same options.
  EXPECT_EQ(ctd::config::render(options_of(rendered)), rendered);
}

TEST(ConfigPromotionRender, ShowsTheDefaults) {
  const std::string rendered = ctd::config::render(options_of(with_label(kRegression)));
  EXPECT_NE(rendered.find(R"(
    promotion:
      metric: rmse
      direction: lower
      min_improvement: 0
      holdout_samples: 1000
      min_holdout_samples: 100
      max_slice_regression: 0.05
      min_slice_samples: 30
)"),
            std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find(R"(
registry:
  artifact_root: /var/lib/ctd/artifacts
  triton_max_batch_size: 256
)"),
            std::string::npos)
      << rendered;
  EXPECT_EQ(rendered.find("canary"), std::string::npos) << rendered;
  EXPECT_EQ(rendered.find("guardrail"), std::string::npos) << rendered;
  EXPECT_EQ(rendered.find("triton_repository"), std::string::npos) << rendered;
  EXPECT_EQ(ctd::config::render(options_of(rendered)), rendered);

  // The environment's artifact root is what is shown.
  EXPECT_NE(ctd::config::render(options_of(kBase, {{"CTD_ARTIFACT_ROOT", "/srv/art"}}))
                .find("  artifact_root: /srv/art\n"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The shipped examples.

std::filesystem::path examples_dir() {
  return std::filesystem::path(CTD_SOURCE_DIR) / "config" / "examples";
}

TEST(ConfigPromotionExamples, ExamplesConfigurePromotion) {
  const auto demo = ctd::config::load((examples_dir() / "demo.yaml").string(), {});
  ASSERT_TRUE(std::holds_alternative<Options>(demo))
      << describe(std::get<std::vector<ConfigError>>(demo));
  const PromotionOptions& modest = std::get<Options>(demo).pipelines.at(0).promotion;
  EXPECT_EQ(modest.metric, "log_loss");
  EXPECT_EQ(modest.direction, MetricDirection::kLowerIsBetter);
  EXPECT_EQ(modest.holdout_samples, 500);
  EXPECT_EQ(modest.min_holdout_samples, 100);
  EXPECT_EQ(modest.min_improvement, 0.0);

  const auto production = ctd::config::load((examples_dir() / "production.yaml").string(),
                                            {{"CTD_POSTGRES_DSN", "host=db"}});
  ASSERT_TRUE(std::holds_alternative<Options>(production))
      << describe(std::get<std::vector<ConfigError>>(production));
  const Options& prod = std::get<Options>(production);
  const PromotionOptions& fraud = prod.pipelines.at(0).promotion;
  EXPECT_EQ(fraud.metric, "roc_auc");
  EXPECT_EQ(fraud.slices, (std::vector<std::string>{"channel", "country"}));
  ASSERT_TRUE(fraud.canary.has_value());
  ASSERT_TRUE(fraud.guardrail.has_value());
  EXPECT_EQ(fraud.guardrail->max_drop, 0.01);
  const PromotionOptions& eta = prod.pipelines.at(1).promotion;
  EXPECT_EQ(eta.metric, "rmse");
  EXPECT_EQ(eta.min_improvement, 5.0);
  EXPECT_EQ(prod.registry.triton_repository, "/srv/triton/models");
  EXPECT_EQ(prod.registry.triton_max_batch_size, 512);
}

}  // namespace

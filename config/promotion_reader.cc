// Readers of the model registry's configuration (see promotion_reader.h).
//
// A pipeline's `promotion` section is always read, present or not, so that its metric is
// filled in: the gate (registry/gate.h) never has to guess one. Rules between keys are judged
// only on values that were read cleanly, so one mistake is reported once.
#include "config/promotion_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/internal.h"
#include "config/training_reader.h"
#include "trainers/eval_metrics.h"

namespace ctd::config::internal {
namespace {

constexpr Range kHoldoutSamplesRange{1, 100'000'000};
constexpr Range kMinSliceSamplesRange{1, 1'000'000'000};
constexpr Range kCanarySamplesRange{1, 100'000'000};
constexpr Range kGuardrailSamplesRange{1, 100'000'000};
constexpr Range kWindowSecondsRange{1, 31'536'000};
constexpr Range kTritonMaxBatchSizeRange{1, 1'000'000};
constexpr Range kWatchIntervalRange{1, 86'400};

constexpr std::string_view kPromotionKeys[] = {"metric",
                                               "direction",
                                               "min_value",
                                               "max_value",
                                               "min_improvement",
                                               "min_relative_improvement",
                                               "holdout_samples",
                                               "min_holdout_samples",
                                               "slices",
                                               "max_slice_regression",
                                               "min_slice_samples",
                                               "canary",
                                               "guardrail"};
constexpr std::string_view kCanaryKeys[] = {"samples"};
constexpr std::string_view kGuardrailKeys[] = {"samples", "max_drop", "window_s"};
constexpr std::string_view kRegistryKeys[] = {"artifact_root", "triton_repository",
                                              "triton_max_batch_size", "watch_interval_s"};

// The metrics ctd-train reports per label kind (trainers/eval_metrics.h), each with the
// direction in which it is better.
constexpr auto kHigher = MetricDirection::kHigherIsBetter;
constexpr auto kLower = MetricDirection::kLowerIsBetter;
constexpr std::array<Choice<MetricDirection>, 4> kBinaryMetrics{{
    {"accuracy", kHigher},
    {"log_loss", kLower},
    {"roc_auc", kHigher},
    {"macro_f1", kHigher},
}};
constexpr std::array<Choice<MetricDirection>, 3> kMulticlassMetrics{{
    {"accuracy", kHigher},
    {"log_loss", kLower},
    {"macro_f1", kHigher},
}};
constexpr std::array<Choice<MetricDirection>, 2> kRegressionMetrics{{
    {"mae", kLower},
    {"rmse", kLower},
}};

std::span<const Choice<MetricDirection>> metrics_of(LabelKind kind) {
  switch (kind) {
    case LabelKind::kBinary:
      return kBinaryMetrics;
    case LabelKind::kMulticlass:
      return kMulticlassMetrics;
    case LabelKind::kRegression:
      return kRegressionMetrics;
  }
  return {};
}

trainers::Task task_of(LabelKind kind) {
  switch (kind) {
    case LabelKind::kBinary:
      return trainers::Task::kBinary;
    case LabelKind::kMulticlass:
      return trainers::Task::kMulticlass;
    case LabelKind::kRegression:
      return trainers::Task::kRegression;
  }
  return trainers::Task::kBinary;
}

std::string_view label_kind_name(LabelKind kind) {
  for (const auto& choice : kLabelKinds) {
    if (choice.value == kind) return choice.name;
  }
  return "?";
}

// The metric named by `field` (default: the task's primary metric) and its better direction;
// nullopt when the name is not a metric of `kind` (reported).
std::optional<Choice<MetricDirection>> read_metric(ErrorSink& errors,
                                                   const std::optional<Field>& field,
                                                   LabelKind kind) {
  const std::span<const Choice<MetricDirection>> metrics = metrics_of(kind);
  const std::string name = field ? read_string(errors, field).value_or("")
                                 : trainers::primary_metric(task_of(kind)).name;
  if (name.empty()) return std::nullopt;  // reported by read_string
  const auto found = std::find_if(metrics.begin(), metrics.end(),
                                  [&name](const auto& metric) { return metric.name == name; });
  if (found != metrics.end()) return *found;
  std::vector<std::string_view> names;
  for (const auto& metric : metrics) names.push_back(metric.name);
  errors.at(field->mark, field->path,
            fmt::format("unknown metric '{}' for a {} label, expected one of: {}{}", name,
                        label_kind_name(kind), fmt::join(names, ", "), suggestion(name, names)));
  return std::nullopt;
}

// A finite number >= 0; nullopt when absent or not acceptable (reported).
std::optional<double> read_non_negative(ErrorSink& errors, const std::optional<Field>& field) {
  const std::optional<double> value = read_number(errors, field);
  if (value && *value < 0) {
    errors.at(field->mark, field->path, fmt::format("must be >= 0, got {}", *value));
    return std::nullopt;
  }
  return value;
}

void read_metric_and_direction(const MapReader& map, std::optional<LabelKind> label_kind,
                               PromotionOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> metric_field = map.find("metric");
  if (label_kind) {
    if (const auto metric = read_metric(errors, metric_field, *label_kind)) {
      out.metric = std::string(metric->name);
      out.direction = metric->value;
    }
  } else {
    assign(out.metric, read_string(errors, metric_field));  // not judged: the kind is unknown
  }
  assign(out.direction, read_choice(errors, map.find("direction"), kMetricDirections));
}

// min_value and max_value; min_value must not be greater than max_value.
void read_value_bounds(const MapReader& map, PromotionOptions& out) {
  out.min_value = read_number(map.errors(), map.find("min_value"));
  out.max_value = read_number(map.errors(), map.find("max_value"));
  if (out.min_value && out.max_value && *out.min_value > *out.max_value) {
    map.errors().at(map.find("min_value")->mark, map.path_of("min_value"),
                    fmt::format("min_value ({}) must not be greater than max_value ({})",
                                *out.min_value, *out.max_value));
  }
}

// holdout_samples and min_holdout_samples; the minimum must not exceed the holdout. Reported
// at min_holdout_samples, or at holdout_samples when the minimum is the default.
void read_holdout(const MapReader& map, PromotionOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> holdout_field = map.find("holdout_samples");
  const std::optional<Field> min_field = map.find("min_holdout_samples");
  const std::optional<std::int64_t> holdout = read_int(errors, holdout_field, kHoldoutSamplesRange);
  const std::optional<std::int64_t> min = read_int(errors, min_field, kHoldoutSamplesRange);
  assign(out.holdout_samples, holdout);
  assign(out.min_holdout_samples, min);
  const bool read_ok =
      holdout.has_value() == holdout_field.has_value() && min.has_value() == min_field.has_value();
  if (!read_ok || out.min_holdout_samples <= out.holdout_samples) return;
  if (min_field) {
    errors.at(min_field->mark, min_field->path,
              fmt::format("min_holdout_samples ({}) must not be greater than holdout_samples ({})",
                          out.min_holdout_samples, out.holdout_samples));
  } else {
    errors.at(holdout_field->mark, holdout_field->path,
              fmt::format("holdout_samples ({}) must not be less than min_holdout_samples ({}, "
                          "the default)",
                          out.holdout_samples, out.min_holdout_samples));
  }
}

std::vector<std::string> read_slices(const MapReader& map,
                                     const std::vector<FeatureSpec>& features) {
  ErrorSink& errors = map.errors();
  std::vector<std::string> slices;
  UniqueNames unique("slice");
  for (const Field& item : read_list(errors, map.find("slices")).value_or(std::vector<Field>())) {
    if (std::optional<std::string> name = read_string(errors, item)) {
      check_slice_feature(errors, *name, item, features, unique);
      slices.push_back(std::move(*name));
    }
  }
  return slices;
}

std::optional<CanaryOptions> read_canary(const MapReader& promotion) {
  const std::optional<Field> field = promotion.find("canary");
  if (!field) return std::nullopt;
  const MapReader map(promotion.errors(), *field, kCanaryKeys);
  CanaryOptions canary;
  assign(canary.samples, read_int(map.errors(), map.require("samples"), kCanarySamplesRange));
  return canary;
}

std::optional<GuardrailOptions> read_guardrail(const MapReader& promotion) {
  const std::optional<Field> field = promotion.find("guardrail");
  if (!field) return std::nullopt;
  const MapReader map(promotion.errors(), *field, kGuardrailKeys);
  ErrorSink& errors = map.errors();
  GuardrailOptions guardrail;
  assign(guardrail.samples, read_int(errors, map.require("samples"), kGuardrailSamplesRange));
  assign(guardrail.max_drop, read_non_negative(errors, map.find("max_drop")));
  assign(guardrail.window, read_int(errors, map.find("window_s"), kWindowSecondsRange));
  return guardrail;
}

}  // namespace

PromotionOptions read_promotion(const MapReader& pipeline, const std::vector<FeatureSpec>& features,
                                std::optional<LabelKind> label_kind) {
  const MapReader map = pipeline.map("promotion", kPromotionKeys);
  ErrorSink& errors = map.errors();
  PromotionOptions out;
  read_metric_and_direction(map, label_kind, out);
  read_value_bounds(map, out);
  assign(out.min_improvement, read_number(errors, map.find("min_improvement")));
  out.min_relative_improvement = read_number(errors, map.find("min_relative_improvement"));
  read_holdout(map, out);
  out.slices = read_slices(map, features);
  assign(out.max_slice_regression, read_non_negative(errors, map.find("max_slice_regression")));
  assign(out.min_slice_samples,
         read_int(errors, map.find("min_slice_samples"), kMinSliceSamplesRange));
  out.canary = read_canary(map);
  out.guardrail = read_guardrail(map);
  return out;
}

RegistryOptions read_registry_options(const MapReader& root,
                                      const std::filesystem::path& config_dir) {
  const MapReader map = root.map("registry", kRegistryKeys);
  ErrorSink& errors = map.errors();
  RegistryOptions out;
  assign(out.artifact_root, read_path(errors, map.find("artifact_root"), config_dir));
  out.triton_repository = read_path(errors, map.find("triton_repository"), config_dir);
  assign(out.triton_max_batch_size,
         read_int(errors, map.find("triton_max_batch_size"), kTritonMaxBatchSizeRange));
  assign(out.watch_interval, read_int(errors, map.find("watch_interval_s"), kWatchIntervalRange));
  return out;
}

}  // namespace ctd::config::internal

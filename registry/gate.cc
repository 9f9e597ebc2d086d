// The promotion gate and the guardrail (see gate.h for the rules).
//
// Every check is computed from the two evaluations alone and records what it compared, so a
// decision can be stored and shown as it was made. Numbers in details have four decimals.
//
// Comparisons forgive floating-point rounding: 0.85 - 0.80 is 0.04999999999999993 in binary,
// and an improvement printed as "0.0500" must not fail a bound of 0.05. A shortfall of at most
// kTolerance times the magnitude of the numbers involved (at least 1) counts as meeting the
// bound.
#include "registry/gate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace ctd::registry {
namespace {

using config::MetricDirection;
using config::PromotionOptions;
using nlohmann::json;

constexpr double kTolerance = 1e-9;
constexpr std::string_view kCheckSeparator = "; ";

// ---------------------------------------------------------------------------------------------
// Comparisons and formatting.

bool lower_is_better(const PromotionOptions& options) {
  return options.direction == MetricDirection::kLowerIsBetter;
}

// How much better `value` is than `reference`, in the metric's better direction.
double gain(double value, double reference, const PromotionOptions& options) {
  return lower_is_better(options) ? reference - value : value - reference;
}

// value >= bound, up to rounding at the scale of `magnitude`.
bool at_least(double value, double bound, double magnitude) {
  return value >= bound - kTolerance * std::max(1.0, std::fabs(magnitude));
}

bool at_most(double value, double bound, double magnitude) {
  return at_least(bound, value, magnitude);
}

std::string number(double value) { return fmt::format("{:.4f}", value); }

std::optional<double> metric_of(const std::map<std::string, double>& metrics,
                                const std::string& name) {
  const auto it = metrics.find(name);
  return it == metrics.end() ? std::nullopt : std::optional(it->second);
}

json value_or_null(const std::optional<double>& value) { return value ? json(*value) : json(); }

GateCheck make_check(std::string name, bool passed, std::string detail, json values) {
  return GateCheck{std::move(name), passed, std::move(detail), std::move(values)};
}

// ---------------------------------------------------------------------------------------------
// The gate's checks.

GateCheck check_metric(const std::string& metric, const EvalReport& candidate,
                       const std::optional<double>& value) {
  if (metric.empty()) {
    return make_check("metric", false, "no promotion metric is configured", json::object());
  }
  if (value) {
    return make_check("metric", true, fmt::format("{} {}", metric, number(*value)),
                      {{"candidate", *value}});
  }
  std::vector<std::string> reported;
  for (const auto& [name, unused] : candidate.overall) reported.push_back(name);
  const std::string listed =
      reported.empty() ? "none" : fmt::format("{}", fmt::join(reported, ", "));
  return make_check(
      "metric", false,
      fmt::format("{} missing from the candidate's evaluation (reported: {})", metric, listed),
      {{"candidate", nullptr}});
}

GateCheck check_rows(const PromotionOptions& options, const EvalReport& candidate) {
  const bool passed = candidate.rows >= options.min_holdout_samples;
  return make_check("rows", passed,
                    fmt::format("holdout rows {} {} min_holdout_samples {}", candidate.rows,
                                passed ? ">=" : "<", options.min_holdout_samples),
                    {{"rows", candidate.rows}, {"bound", options.min_holdout_samples}});
}

void check_value_bounds(const PromotionOptions& options, double value,
                        std::vector<GateCheck>& checks) {
  if (options.min_value) {
    const bool passed = at_least(value, *options.min_value, value);
    checks.push_back(make_check("min_value", passed,
                                fmt::format("{} {} {} min_value {}", options.metric, number(value),
                                            passed ? ">=" : "<", number(*options.min_value)),
                                {{"candidate", value}, {"bound", *options.min_value}}));
  }
  if (options.max_value) {
    const bool passed = at_most(value, *options.max_value, value);
    checks.push_back(make_check("max_value", passed,
                                fmt::format("{} {} {} max_value {}", options.metric, number(value),
                                            passed ? "<=" : ">", number(*options.max_value)),
                                {{"candidate", value}, {"bound", *options.max_value}}));
  }
}

// min_improvement and min_relative_improvement, with the champion's value known.
void check_improvement(const PromotionOptions& options, double candidate, double champion,
                       std::vector<GateCheck>& checks) {
  const double improvement = gain(candidate, champion, options);
  const double magnitude = std::max(std::fabs(candidate), std::fabs(champion));
  const bool passed = at_least(improvement, options.min_improvement, magnitude);
  checks.push_back(make_check(
      "min_improvement", passed,
      fmt::format("improvement {} over production {} {} min_improvement {}", number(improvement),
                  number(champion), passed ? ">=" : "<", number(options.min_improvement)),
      {{"candidate", candidate},
       {"champion", champion},
       {"improvement", improvement},
       {"bound", options.min_improvement}}));
  if (!options.min_relative_improvement) return;
  const double bound = *options.min_relative_improvement;
  if (champion == 0.0) {
    const bool not_worse = at_least(improvement, 0.0, magnitude);
    checks.push_back(
        make_check("min_relative_improvement", not_worse,
                   fmt::format("production {} is 0: improvement {} {} 0", options.metric,
                               number(improvement), not_worse ? ">=" : "<"),
                   {{"candidate", candidate},
                    {"champion", champion},
                    {"improvement", improvement},
                    {"relative_improvement", nullptr},
                    {"bound", bound}}));
    return;
  }
  const double relative = improvement / std::fabs(champion);
  const bool relative_passed = at_least(relative, bound, 1.0);
  checks.push_back(make_check(
      "min_relative_improvement", relative_passed,
      fmt::format("relative improvement {} over production {} {} min_relative_improvement {}",
                  number(relative), number(champion), relative_passed ? ">=" : "<", number(bound)),
      {{"candidate", candidate},
       {"champion", champion},
       {"improvement", improvement},
       {"relative_improvement", relative},
       {"bound", bound}}));
}

// One check per value of each configured slice feature that both evaluations judge on enough
// rows; other values, and values whose metric either evaluation lacks, are not judged.
void check_slices(const PromotionOptions& options, const EvalReport& candidate,
                  const EvalReport& champion, std::vector<GateCheck>& checks) {
  for (const std::string& feature : options.slices) {
    const auto candidate_feature = candidate.slices.find(feature);
    const auto champion_feature = champion.slices.find(feature);
    if (candidate_feature == candidate.slices.end() || champion_feature == champion.slices.end()) {
      continue;
    }
    for (const auto& [value, candidate_slice] : candidate_feature->second) {
      const auto champion_slice = champion_feature->second.find(value);
      if (champion_slice == champion_feature->second.end()) continue;
      if (candidate_slice.rows < options.min_slice_samples ||
          champion_slice->second.rows < options.min_slice_samples) {
        continue;
      }
      const std::optional<double> mine = metric_of(candidate_slice.metrics, options.metric);
      const std::optional<double> theirs =
          metric_of(champion_slice->second.metrics, options.metric);
      if (!mine || !theirs) continue;
      const double regression = gain(*theirs, *mine, options);
      const bool passed = at_most(regression, options.max_slice_regression,
                                  std::max(std::fabs(*mine), std::fabs(*theirs)));
      const std::string name = fmt::format("slice {}={}", feature, value);
      checks.push_back(make_check(
          name, passed,
          fmt::format("{}: {} {} vs production {} regresses {} {} max_slice_regression {}", name,
                      options.metric, number(*mine), number(*theirs), number(regression),
                      passed ? "<=" : ">", number(options.max_slice_regression)),
          {{"candidate", *mine},
           {"champion", *theirs},
           {"regression", regression},
           {"bound", options.max_slice_regression},
           {"candidate_rows", candidate_slice.rows},
           {"champion_rows", champion_slice->second.rows}}));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading an evaluation report.

[[noreturn]] void malformed(const std::string& where, const std::string& expected,
                            const json& got) {
  throw std::runtime_error(fmt::format("invalid evaluation report: {}: expected {}, got {}",
                                       where.empty() ? "(top level)" : where, expected,
                                       got.type_name()));
}

const json& member(const json& object, const std::string& where, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) {
    throw std::runtime_error(fmt::format("invalid evaluation report: {}: missing \"{}\"",
                                         where.empty() ? "(top level)" : where, key));
  }
  return *it;
}

std::string join_path(const std::string& where, const std::string& key) {
  return where.empty() ? key : fmt::format("{}.{}", where, key);
}

std::int64_t read_rows(const json& value, const std::string& where) {
  if (value.is_number_unsigned()) {
    const auto rows = value.get<std::uint64_t>();
    if (rows <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(rows);
    }
  } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return value.get<std::int64_t>();
  }
  malformed(where, "a non-negative integer", value);
}

// Metric name -> number. A null value stands for a metric that could not be computed
// (nlohmann::json writes NaN as null) and reads as absent.
std::map<std::string, double> read_metrics(const json& value, const std::string& where) {
  if (!value.is_object()) malformed(where, "an object", value);
  std::map<std::string, double> metrics;
  for (const auto& [name, number] : value.items()) {
    if (number.is_null()) continue;
    if (!number.is_number()) malformed(join_path(where, name), "a number", number);
    metrics.emplace(name, number.get<double>());
  }
  return metrics;
}

EvalReport::Slice read_slice(const json& value, const std::string& where) {
  if (!value.is_object()) malformed(where, "an object", value);
  EvalReport::Slice slice;
  slice.rows = read_rows(member(value, where, "rows"), join_path(where, "rows"));
  slice.metrics = read_metrics(member(value, where, "metrics"), join_path(where, "metrics"));
  return slice;
}

}  // namespace

EvalReport EvalReport::from_json(const nlohmann::json& j) {
  if (!j.is_object()) malformed("", "an object", j);
  EvalReport report;
  report.rows = read_rows(member(j, "", "rows"), "rows");
  report.overall = read_metrics(member(j, "", "overall"), "overall");
  const auto slices = j.find("slices");
  if (slices == j.end()) return report;  // evaluated without slices
  if (!slices->is_object()) malformed("slices", "an object", *slices);
  for (const auto& [feature, values] : slices->items()) {
    const std::string feature_path = join_path("slices", feature);
    if (!values.is_object()) malformed(feature_path, "an object", values);
    auto& out = report.slices[feature];
    for (const auto& [value, slice] : values.items()) {
      out.emplace(value, read_slice(slice, join_path(feature_path, value)));
    }
  }
  return report;
}

nlohmann::json EvalReport::to_json() const {
  json slices_json = json::object();
  for (const auto& [feature, values] : slices) {
    json& feature_json = slices_json[feature];
    feature_json = json::object();
    for (const auto& [value, slice] : values) {
      feature_json[value] = {{"rows", slice.rows}, {"metrics", slice.metrics}};
    }
  }
  return {{"rows", rows}, {"overall", overall}, {"slices", std::move(slices_json)}};
}

std::string GateDecision::reasons() const {
  std::string out;
  for (const GateCheck& check : checks) {
    if (check.passed) continue;
    if (!out.empty()) out += kCheckSeparator;
    out += check.detail;
  }
  return out;
}

nlohmann::json GateDecision::to_json() const {
  json checks_json = json::array();
  for (const GateCheck& check : checks) {
    checks_json.push_back({{"name", check.name},
                           {"passed", check.passed},
                           {"detail", check.detail},
                           {"values", check.values}});
  }
  return {{"passed", passed},
          {"metric", metric},
          {"candidate", value_or_null(candidate_value)},
          {"champion", value_or_null(champion_value)},
          {"checks", std::move(checks_json)}};
}

GateDecision decide(const config::PromotionOptions& options, const EvalReport& candidate,
                    const EvalReport* champion) {
  GateDecision decision;
  decision.metric = options.metric;
  if (!options.metric.empty()) {
    decision.candidate_value = metric_of(candidate.overall, options.metric);
    if (champion) decision.champion_value = metric_of(champion->overall, options.metric);
  }
  std::vector<GateCheck>& checks = decision.checks;
  checks.push_back(check_metric(options.metric, candidate, decision.candidate_value));
  checks.push_back(check_rows(options, candidate));
  // The value checks need the candidate's metric; without it the failed "metric" check says
  // why, and they are not judged.
  if (decision.candidate_value) check_value_bounds(options, *decision.candidate_value, checks);
  if (champion && !options.metric.empty()) {
    if (decision.candidate_value && decision.champion_value) {
      check_improvement(options, *decision.candidate_value, *decision.champion_value, checks);
    } else if (decision.candidate_value) {
      // Both were evaluated on the same samples, so this is not expected; the candidate is
      // not held back for production's missing number, but the decision says so.
      checks.push_back(make_check(
          "min_improvement", true,
          fmt::format("production's evaluation has no {}; improvement not judged", options.metric),
          {{"candidate", *decision.candidate_value}, {"champion", nullptr}}));
    }
    check_slices(options, candidate, *champion, checks);
  }
  decision.passed = std::all_of(checks.begin(), checks.end(),
                                [](const GateCheck& check) { return check.passed; });
  return decision;
}

GuardDecision judge_guardrail(const config::PromotionOptions& options,
                              const config::GuardrailOptions& guardrail, const EvalReport& promoted,
                              const EvalReport& previous) {
  const std::string& metric = options.metric;
  if (metric.empty()) {
    return {false, "no promotion metric is configured; guardrail not judged", json::object()};
  }
  const std::optional<double> now = metric_of(promoted.overall, metric);
  const std::optional<double> before = metric_of(previous.overall, metric);
  json values = {{"metric", metric},
                 {"promoted", value_or_null(now)},
                 {"previous", value_or_null(before)},
                 {"max_drop", guardrail.max_drop},
                 {"promoted_rows", promoted.rows},
                 {"previous_rows", previous.rows}};
  if (!now && before) {
    return {true,
            fmt::format("{} missing from the promoted version's evaluation (previous version {})",
                        metric, number(*before)),
            std::move(values)};
  }
  if (!now || !before) {
    const std::string_view missing_from =
        now ? "the previous version's evaluation" : "both evaluations";
    return {false, fmt::format("{} missing from {}; guardrail not judged", metric, missing_from),
            std::move(values)};
  }
  const double drop = gain(*before, *now, options);
  values["drop"] = drop;
  const bool within =
      at_most(drop, guardrail.max_drop, std::max(std::fabs(*now), std::fabs(*before)));
  return {
      !within,
      fmt::format("{} {} vs previous version {} drops {} {} max_drop {}", metric, number(*now),
                  number(*before), number(drop), within ? "<=" : ">", number(guardrail.max_drop)),
      std::move(values)};
}

}  // namespace ctd::registry

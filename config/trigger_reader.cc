// The reader of a pipeline's `triggers` section (see trigger_reader.h).
//
// Each trigger map's keys depend on its `type` (a decay detector's on its own `type`, a drift
// window's on its `type`), so the type is looked at first, silently, to choose the keys that
// MapReader accepts; it is then read, and reported, like any other key. Ranges are checked
// here, with the triggers' own limits, so every problem is reported at its key; as a last
// check the factory (triggers/factory.h) must accept a section that read cleanly. Rules
// between keys are judged only on values that were read cleanly, so one mistake is reported
// once.
#include "config/trigger_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/internal.h"
#include "triggers/cron.h"
#include "triggers/factory.h"

namespace ctd::config::internal {
namespace {

using triggers::CompositeSpec;
using triggers::DecayCriterion;
using triggers::DecayOptions;
using triggers::DecaySignal;
using triggers::DriftTriggerOptions;
using triggers::TriggerKind;
using triggers::TriggerSpec;
namespace drift = triggers::drift;

constexpr Range kRateLimitSecondsRange{0, 31'536'000};
// The daemon evaluates schedules on its once-a-minute tick (cron has minute resolution too), so
// a shorter interval could not be kept.
constexpr Range kEverySecondsRange{60, 31'536'000};
constexpr Range kMinSamplesRange{1, 1'000'000'000};
constexpr Range kWindowSamplesRange{1, 100'000'000};
constexpr Range kWindowPointsRange{1, 1'000'000};
constexpr Range kDecayHistoryRange{2, 10'000};
constexpr Range kDetectorCountRange{1, 1'000'000'000};
constexpr Range kAdwinClockRange{1, 1'000'000};
constexpr Range kAdwinMaxBucketsRange{2, 1'000};
constexpr Range kAdwinMinWindowLengthRange{1, 1'000'000};
constexpr Range kAdwinGracePeriodRange{0, 1'000'000'000};
constexpr Range kCompositeWindowSecondsRange{0, 31'536'000};
constexpr Range kCompositeNRange{1, 1'000};
constexpr Range kDriftRowsRange{1, 100'000'000};
constexpr Range kDriftPanesRange{1, 10'000};
constexpr Range kKsSampleRange{0, 10'000'000};
constexpr Range kDriftDurationSecondsRange{1, 31'536'000};
constexpr Range kDriftHistoryRange{1, 10'000};
constexpr Range kDriftMinSamplesRange{1, 1'000'000'000};
constexpr Range kBinsRange{1, 65'535};
constexpr Range kSampleSizeRange{1, 10'000'000};
// refit_after_samples: 0 = off.
constexpr Range kRefitAfterSamplesRange{0, 1'000'000'000};

constexpr std::string_view kTriggersKeys[] = {"cooldown_s", "min_interval_s", "failure_backoff_s",
                                              "failure_backoff_max_s", "rules"};
constexpr std::string_view kManualKeys[] = {"name", "type"};
constexpr std::string_view kScheduleKeys[] = {"name", "type", "cron", "every_s"};
constexpr std::string_view kNewDataKeys[] = {"name", "type", "min_samples",
                                             "min_fraction_of_training_set"};
constexpr std::string_view kDecayKeys[] = {"name",
                                           "type",
                                           "signal",
                                           "metric",
                                           "higher_is_better",
                                           "window_samples",
                                           "window_points",
                                           "criterion",
                                           "threshold",
                                           "drop",
                                           "drop_mode",
                                           "baseline_metric",
                                           "history",
                                           "min_history",
                                           "quantile",
                                           "sigmas",
                                           "margin",
                                           "detector",
                                           "refit_after_samples"};
constexpr std::string_view kDriftKeys[] = {"name",
                                           "type",
                                           "features",
                                           "source",
                                           "window",
                                           "numeric_metric",
                                           "numeric_threshold",
                                           "categorical_metric",
                                           "categorical_threshold",
                                           "policy",
                                           "quantile",
                                           "history",
                                           "min_history",
                                           "rule",
                                           "drift_share",
                                           "correction",
                                           "min_samples",
                                           "reference",
                                           "refit_after_samples"};
constexpr std::string_view kCompositeKeys[] = {"name", "type", "mode", "n", "window_s", "of"};
constexpr std::string_view kPageHinkleyKeys[] = {"type", "min_instances", "delta", "threshold",
                                                 "alpha"};
constexpr std::string_view kAdwinKeys[] = {
    "type", "delta", "clock", "max_buckets", "min_window_length", "grace_period"};
constexpr std::string_view kDdmKeys[] = {"type", "warm_start", "warning_threshold",
                                         "drift_threshold"};
constexpr std::string_view kTumblingWindowKeys[] = {"type", "rows", "ks_sample", "duration_s"};
constexpr std::string_view kSlidingWindowKeys[] = {"type", "rows", "panes"};
constexpr std::string_view kDriftReferenceKeys[] = {"bins", "coarse_bins", "sample_size"};
// The keys of a decay trigger that belong to one window criterion or another.
constexpr std::string_view kCriterionKeys[] = {"threshold",       "drop",    "drop_mode",
                                               "baseline_metric", "history", "min_history",
                                               "quantile",        "sigmas",  "margin"};

// ---------------------------------------------------------------------------------------------
// One pipeline's triggers.

struct TriggerContext {
  ErrorSink& errors;
  const std::vector<FeatureSpec>& features;
  const TopicsSpec& topics;
  triggers::FeatureLayout layout;  // the pipeline's features as batches carry them
  UniqueNames names{"trigger name"};
};

triggers::FeatureLayout layout_of(const std::vector<FeatureSpec>& features) {
  triggers::FeatureLayout layout;
  for (const FeatureSpec& feature : features) {
    (feature.type == FeatureType::kNumeric ? layout.numeric : layout.categorical)
        .push_back(feature.name);
  }
  return layout;
}

std::optional<TriggerSpec> read_trigger(TriggerContext& ctx, const Field& item, bool nested);

std::string read_trigger_name(TriggerContext& ctx, const MapReader& map) {
  const std::optional<Field> field = map.require("name");
  std::optional<std::string> name = read_string(ctx.errors, field);
  if (!name) return {};
  if (!is_valid_name(*name)) {
    ctx.errors.at(field->mark, field->path,
                  fmt::format("invalid trigger name '{}': must match [a-z0-9_-]{{1,{}}}", *name,
                              kMaxNameLength));
  }
  ctx.names.check(ctx.errors, *name, *field);
  return std::move(*name);
}

// ---- schedule, new_data ----

triggers::ScheduleOptions read_schedule(const MapReader& map, std::string name) {
  ErrorSink& errors = map.errors();
  triggers::ScheduleOptions out;
  out.name = std::move(name);
  require_one_of(map, "cron", "every_s", "a schedule trigger");
  const std::optional<Field> cron_field = map.find("cron");
  if (std::optional<std::string> cron = read_string(errors, cron_field)) {
    const triggers::Result<triggers::CronExpression> parsed =
        triggers::CronExpression::parse(*cron);
    if (!parsed) errors.at(cron_field->mark, cron_field->path, parsed.error().message);
    out.cron = std::move(*cron);
  }
  assign(out.interval, read_int(errors, map.find("every_s"), kEverySecondsRange));
  return out;
}

triggers::NewDataOptions read_new_data(const MapReader& map, std::string name) {
  ErrorSink& errors = map.errors();
  triggers::NewDataOptions out;
  out.name = std::move(name);
  if (!map.entry("min_samples") && !map.entry("min_fraction_of_training_set")) {
    errors.at(map.field().mark, map.field().path,
              "a new_data trigger needs 'min_samples' and/or 'min_fraction_of_training_set'");
  }
  assign(out.min_samples, read_int(errors, map.find("min_samples"), kMinSamplesRange));
  assign(out.min_fraction,
         read_number_in(errors, map.find("min_fraction_of_training_set"), kPositive));
  return out;
}

// ---- decay ----

bool criterion_uses(DecayCriterion criterion, std::string_view key) {
  switch (criterion) {
    case DecayCriterion::kStaticThreshold:
      return key == "threshold";
    case DecayCriterion::kBaselineDrop:
      return key == "drop" || key == "drop_mode" || key == "baseline_metric";
    case DecayCriterion::kQuantile:
      return key == "history" || key == "min_history" || key == "quantile";
    case DecayCriterion::kRollingAverage:
      return key == "history" || key == "min_history" || key == "sigmas" || key == "margin";
    default:
      return false;
  }
}

// "criterion quantile or rolling_average": the criteria that use `key`.
std::string criteria_using(std::string_view key) {
  std::vector<std::string_view> names;
  for (const auto& criterion : kDecayCriteria) {
    if (criterion_uses(criterion.value, key)) names.push_back(criterion.name);
  }
  return fmt::format("criterion {}", fmt::join(names, " or "));
}

// signal, metric, higher_is_better. The metric signal needs a metric name and its direction:
// a wrong default direction would fire on improvements.
void read_decay_signal(const MapReader& map, DecayOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> signal_field = map.find("signal");
  const std::optional<DecaySignal> signal = read_choice(errors, signal_field, kDecaySignals);
  if (!read_cleanly(signal_field, signal)) return;
  assign(out.signal, signal);
  if (out.signal == DecaySignal::kMetric) {
    assign(out.metric, read_string(errors, map.require("metric", " (the metric signal's name)")));
    assign(out.higher_is_better,
           read_bool(errors, map.require("higher_is_better",
                                         " (whether larger values of the metric are better)")));
    map.reject("window_samples", "only allowed when signal is prequential_error");
  } else {
    map.reject("metric", "only allowed when signal is metric");
    map.reject("higher_is_better", "only allowed when signal is metric");
    map.reject("window_points", "only allowed when signal is metric");
  }
}

// history and min_history; the minimum must not exceed the history. Reported at min_history,
// or at history when the minimum is the default.
template <typename Int>
void read_history_pair(const MapReader& map, Range range, Int& history_out, Int& min_out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> history_field = map.find("history");
  const std::optional<Field> min_field = map.find("min_history");
  const std::optional<std::int64_t> history = read_int(errors, history_field, range);
  const std::optional<std::int64_t> min = read_int(errors, min_field, range);
  assign(history_out, history);
  assign(min_out, min);
  if (!read_cleanly(history_field, history) || !read_cleanly(min_field, min) ||
      min_out <= history_out) {
    return;
  }
  const Field& where = min_field ? *min_field : *history_field;
  errors.at(where.mark, where.path,
            fmt::format("min_history ({}{}) must not be greater than history ({})", min_out,
                        min_field ? "" : ", the default", history_out));
}

void read_decay_history(const MapReader& map, DecayOptions& out) {
  read_history_pair(map, kDecayHistoryRange, out.history, out.min_history);
}

void read_window_criterion(const MapReader& map, DecayOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<DecayCriterion> criterion =
      read_choice(errors, map.find("criterion"), kDecayCriteria);
  if (!criterion) return;
  out.criterion = *criterion;
  for (const std::string_view key : kCriterionKeys) {
    if (!criterion_uses(out.criterion, key)) {
      map.reject(key, fmt::format("only allowed with {}", criteria_using(key)));
    }
  }
  if (out.signal == DecaySignal::kMetric) {
    assign(out.window_points, read_int(errors, map.find("window_points"), kWindowPointsRange));
  } else {
    assign(out.window_samples, read_int(errors, map.find("window_samples"), kWindowSamplesRange));
  }
  switch (out.criterion) {
    case DecayCriterion::kStaticThreshold:
      assign(out.threshold, read_number(errors, map.require("threshold")));
      break;
    case DecayCriterion::kBaselineDrop:
      assign(out.drop, read_number_in(errors, map.require("drop"), kPositive));
      assign(out.drop_mode, read_choice(errors, map.find("drop_mode"), kDropModes));
      assign(out.baseline_metric, read_string(errors, map.find("baseline_metric")));
      break;
    case DecayCriterion::kQuantile:
      read_decay_history(map, out);
      assign(out.quantile, read_number_in(errors, map.find("quantile"), kOpenUnit));
      break;
    default:  // kRollingAverage
      read_decay_history(map, out);
      assign(out.sigmas, read_number_in(errors, map.find("sigmas"), kNonNegative));
      assign(out.margin, read_number_in(errors, map.find("margin"), kNonNegative));
      break;
  }
}

void read_page_hinkley(const MapReader& map, triggers::PageHinkleyOptions& out) {
  ErrorSink& errors = map.errors();
  assign(out.min_instances, read_int(errors, map.find("min_instances"), kDetectorCountRange));
  assign(out.delta, read_number_in(errors, map.find("delta"), kNonNegative));
  assign(out.threshold, read_number_in(errors, map.find("threshold"), kPositive));
  assign(out.alpha, read_number_in(errors, map.find("alpha"), kUpperClosedUnit));
}

void read_adwin(const MapReader& map, triggers::AdwinOptions& out) {
  ErrorSink& errors = map.errors();
  assign(out.delta, read_number_in(errors, map.find("delta"), kOpenUnit));
  assign(out.clock, read_int(errors, map.find("clock"), kAdwinClockRange));
  assign(out.max_buckets, read_int(errors, map.find("max_buckets"), kAdwinMaxBucketsRange));
  assign(out.min_window_length,
         read_int(errors, map.find("min_window_length"), kAdwinMinWindowLengthRange));
  assign(out.grace_period, read_int(errors, map.find("grace_period"), kAdwinGracePeriodRange));
}

// warm_start, warning_threshold and drift_threshold, which must exceed the warning threshold.
void read_ddm(const MapReader& map, triggers::DdmOptions& out) {
  ErrorSink& errors = map.errors();
  assign(out.warm_start, read_int(errors, map.find("warm_start"), kDetectorCountRange));
  const std::optional<Field> warning_field = map.find("warning_threshold");
  const std::optional<Field> drift_field = map.find("drift_threshold");
  const std::optional<double> warning = read_number_in(errors, warning_field, kPositive);
  const std::optional<double> drift_level = read_number_in(errors, drift_field, kPositive);
  assign(out.warning_threshold, warning);
  assign(out.drift_threshold, drift_level);
  if (!read_cleanly(warning_field, warning) || !read_cleanly(drift_field, drift_level) ||
      out.drift_threshold > out.warning_threshold) {
    return;
  }
  const Field& where = drift_field ? *drift_field : *warning_field;
  errors.at(
      where.mark, where.path,
      fmt::format("drift_threshold ({}{}) must be greater than warning_threshold ({})",
                  out.drift_threshold, drift_field ? "" : ", the default", out.warning_threshold));
}

KeyList detector_keys(std::optional<DecayCriterion> type) {
  static const std::vector<std::string_view> all =
      union_of({kPageHinkleyKeys, kAdwinKeys, kDdmKeys});
  if (!type) return all;
  switch (*type) {
    case DecayCriterion::kPageHinkley:
      return kPageHinkleyKeys;
    case DecayCriterion::kAdwin:
      return kAdwinKeys;
    default:
      return kDdmKeys;
  }
}

void read_detector(const MapReader& decay, const Field& field, DecayOptions& out) {
  const MapReader map(decay.errors(), field, detector_keys(peek_type(field, kDetectorTypes)));
  ErrorSink& errors = map.errors();
  const std::optional<Field> type_field = map.require("type", " (page_hinkley, adwin or ddm)");
  const std::optional<DecayCriterion> type = read_choice(errors, type_field, kDetectorTypes);
  if (!type) return;
  out.criterion = *type;
  if (*type == DecayCriterion::kPageHinkley) {
    read_page_hinkley(map, out.page_hinkley);
  } else if (*type == DecayCriterion::kAdwin) {
    read_adwin(map, out.adwin);
  } else {
    read_ddm(map, out.ddm);
    if (out.signal != DecaySignal::kPrequentialError) {
      errors.at(type_field->mark, type_field->path,
                "ddm needs signal prequential_error (a stream of 0/1 errors)");
    }
  }
}

DecayOptions read_decay(const MapReader& map, std::string name) {
  DecayOptions out;
  out.name = std::move(name);
  read_decay_signal(map, out);
  require_one_of(map, "criterion", "detector", "a decay trigger");
  if (map.entry("criterion") != nullptr) {
    read_window_criterion(map, out);
  } else if (const std::optional<Field> detector = map.find("detector")) {
    const std::string_view reason =
        "only allowed with a window criterion (a detector sees every value)";
    for (const std::string_view key : kCriterionKeys) map.reject(key, reason);
    map.reject(out.signal == DecaySignal::kMetric ? "window_points" : "window_samples", reason);
    read_detector(map, *detector, out);
  }
  assign(out.refit_after_samples,
         read_int(map.errors(), map.find("refit_after_samples"), kRefitAfterSamplesRange));
  return out;
}

// ---- drift ----

// " (did you mean 'x'?)", or the pipeline's features.
std::string feature_hint(std::string_view name, const triggers::FeatureLayout& layout) {
  std::vector<std::string_view> names(layout.numeric.begin(), layout.numeric.end());
  names.insert(names.end(), layout.categorical.begin(), layout.categorical.end());
  std::string hint = suggestion(name, names);
  return hint.empty() ? fmt::format(" (features: {})", fmt::join(names, ", ")) : hint;
}

// The watched features: named features of the pipeline, once each; absent: all of them.
std::vector<std::string> read_drift_features(TriggerContext& ctx, const MapReader& map) {
  const std::optional<Field> field = map.find("features");
  std::vector<std::string> features;
  const std::optional<std::vector<Field>> items = read_list(ctx.errors, field);
  if (!items) return features;
  if (items->empty()) {
    ctx.errors.at(field->mark, field->path,
                  "must not be empty; leave 'features' out to watch every feature");
  }
  UniqueNames unique("feature");
  for (const Field& item : *items) {
    std::optional<std::string> name = read_string(ctx.errors, item);
    if (!name) continue;
    unique.check(ctx.errors, *name, item);
    const auto known = [&name](const std::vector<std::string>& names) {
      return std::find(names.begin(), names.end(), *name) != names.end();
    };
    if (!known(ctx.layout.numeric) && !known(ctx.layout.categorical)) {
      ctx.errors.at(item.mark, item.path,
                    fmt::format("unknown feature '{}'{}", *name, feature_hint(*name, ctx.layout)));
    }
    features.push_back(std::move(*name));
  }
  return features;
}

// Default: the inferences stream when the pipeline has one, else the labeled samples.
triggers::DriftSource read_drift_source(TriggerContext& ctx, const MapReader& map) {
  const std::optional<Field> field = map.find("source");
  const std::optional<triggers::DriftSource> source = read_choice(ctx.errors, field, kDriftSources);
  if (source == triggers::DriftSource::kInferences && !ctx.topics.inferences) {
    ctx.errors.at(field->mark, field->path,
                  "the pipeline has no inferences topic (topics.inferences); use source: labels");
  }
  if (source) return *source;
  return ctx.topics.inferences ? triggers::DriftSource::kInferences
                               : triggers::DriftSource::kLabels;
}

KeyList drift_window_keys(const Field& field) {
  static const std::vector<std::string_view> all =
      union_of({kTumblingWindowKeys, kSlidingWindowKeys});
  const std::optional<drift::WindowKind> kind = peek_type(field, kDriftWindowKinds);
  if (kind == drift::WindowKind::kSliding) return kSlidingWindowKeys;
  if (kind || !has_key(field, "type")) return kTumblingWindowKeys;
  return all;
}

// rows and panes; panes must divide rows.
void read_sliding_window(const MapReader& map, drift::WindowOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> rows_field = map.find("rows");
  const std::optional<Field> panes_field = map.find("panes");
  const std::optional<std::int64_t> rows = read_int(errors, rows_field, kDriftRowsRange);
  const std::optional<std::int64_t> panes = read_int(errors, panes_field, kDriftPanesRange);
  assign(out.size, rows);
  assign(out.panes, panes);
  if (!read_cleanly(rows_field, rows) || !read_cleanly(panes_field, panes) ||
      out.size % out.panes == 0) {
    return;
  }
  const Field& where = panes_field ? *panes_field : *rows_field;
  errors.at(where.mark, where.path,
            fmt::format("panes ({}) must divide rows ({})", out.panes, out.size));
}

drift::WindowOptions read_drift_window(const MapReader& drift_map) {
  drift::WindowOptions out;
  const std::optional<Field> field = drift_map.find("window");
  if (!field) return out;
  const MapReader map(drift_map.errors(), *field, drift_window_keys(*field));
  ErrorSink& errors = map.errors();
  const std::optional<Field> kind_field = map.find("type");
  const std::optional<drift::WindowKind> kind = read_choice(errors, kind_field, kDriftWindowKinds);
  if (!read_cleanly(kind_field, kind)) return out;
  assign(out.kind, kind);
  if (out.kind == drift::WindowKind::kSliding) {
    read_sliding_window(map, out);
    return out;
  }
  if (map.entry("rows") != nullptr && map.entry("duration_s") != nullptr) {
    require_one_of(map, "rows", "duration_s", "a tumbling window");
  }
  assign(out.size, read_int(errors, map.find("rows"), kDriftRowsRange));
  assign(out.ks_sample, read_int(errors, map.find("ks_sample"), kKsSampleRange));
  if (const auto duration = read_int(errors, map.find("duration_s"), kDriftDurationSecondsRange)) {
    out.duration = std::chrono::seconds(*duration);
  }
  return out;
}

// One side's deciding metric and threshold (`side` is "numeric" or "categorical"). The metric
// must apply to the side's features, the threshold is an alpha in (0, 1) for p-value tests and
// a distance >= 0 otherwise, and both keys need a watched feature of that type.
void read_drift_side(const MapReader& map, std::string_view side, std::size_t watched,
                     drift::DriftMetric& metric, std::optional<double>& threshold) {
  ErrorSink& errors = map.errors();
  const bool numeric = side == "numeric";
  const std::string metric_key = fmt::format("{}_metric", side);
  const std::string threshold_key = fmt::format("{}_threshold", side);
  const std::optional<Field> metric_field = map.find(metric_key);
  const std::optional<drift::DriftMetric> chosen = read_choice(errors, metric_field, kDriftMetrics);
  if (chosen &&
      !(numeric ? drift::applies_to_numeric(*chosen) : drift::applies_to_categorical(*chosen))) {
    errors.at(metric_field->mark, metric_field->path,
              fmt::format("{} does not apply to {} features ({} metrics: {})",
                          drift::to_string(*chosen), side, side,
                          numeric ? "psi, jensen_shannon, wasserstein, ks"
                                  : "psi, jensen_shannon, chi2, linf"));
    return;
  }
  assign(metric, chosen);
  const std::optional<Field> threshold_field = map.find(threshold_key);
  if (read_cleanly(metric_field, chosen)) {
    threshold = read_number_in(errors, threshold_field,
                               drift::is_p_value_test(metric) ? kOpenUnit : kNonNegative);
  }
  if (watched > 0) return;
  for (const std::string& key : {metric_key, threshold_key}) {
    map.reject(key, fmt::format("set, but the trigger watches no {} feature", side));
  }
}

// policy with quantile, history and min_history (dynamic_quantile only).
void read_drift_policy(const MapReader& map, drift::DecisionOptions& out) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> policy_field = map.find("policy");
  const std::optional<drift::ThresholdPolicy> policy =
      read_choice(errors, policy_field, kThresholdPolicies);
  if (!read_cleanly(policy_field, policy)) return;
  assign(out.policy, policy);
  if (out.policy != drift::ThresholdPolicy::kDynamicQuantile) {
    for (const std::string_view key : {"quantile", "history", "min_history"}) {
      map.reject(key, "only allowed with policy: dynamic_quantile");
    }
    return;
  }
  assign(out.quantile, read_number_in(errors, map.find("quantile"), kClosedUnit));
  read_history_pair(map, kDriftHistoryRange, out.history, out.min_history);
}

void read_drift_decision(const MapReader& map, const drift::FeatureColumns& watched,
                         drift::DecisionOptions& out) {
  ErrorSink& errors = map.errors();
  read_drift_side(map, "numeric", watched.numeric.size(), out.numeric_metric,
                  out.numeric_threshold);
  read_drift_side(map, "categorical", watched.categorical.size(), out.categorical_metric,
                  out.categorical_threshold);
  read_drift_policy(map, out);
  const std::optional<Field> rule_field = map.find("rule");
  const std::optional<drift::DatasetRule> rule = read_choice(errors, rule_field, kDatasetRules);
  assign(out.rule, rule);
  if (read_cleanly(rule_field, rule) && out.rule != drift::DatasetRule::kShare) {
    map.reject("drift_share", "only allowed with rule: share");
  } else {
    assign(out.drift_share, read_number_in(errors, map.find("drift_share"), kUpperClosedUnit));
  }
  assign(out.correction, read_choice(errors, map.find("correction"), kCorrections));
  assign(out.min_samples, read_int(errors, map.find("min_samples"), kDriftMinSamplesRange));
}

// bins, coarse_bins (must divide bins) and sample_size.
drift::SummaryOptions read_drift_reference(const MapReader& drift_map) {
  drift::SummaryOptions out;
  const MapReader map = drift_map.map("reference", kDriftReferenceKeys);
  ErrorSink& errors = map.errors();
  const std::optional<Field> bins_field = map.find("bins");
  const std::optional<Field> coarse_field = map.find("coarse_bins");
  const std::optional<std::int64_t> bins = read_int(errors, bins_field, kBinsRange);
  const std::optional<std::int64_t> coarse = read_int(errors, coarse_field, kBinsRange);
  assign(out.bins, bins);
  assign(out.coarse_bins, coarse);
  assign(out.sample_size, read_int(errors, map.find("sample_size"), kSampleSizeRange));
  if (!read_cleanly(bins_field, bins) || !read_cleanly(coarse_field, coarse) ||
      out.bins % out.coarse_bins == 0) {
    return out;
  }
  const Field& where = coarse_field ? *coarse_field : *bins_field;
  errors.at(where.mark, where.path,
            fmt::format("coarse_bins ({}) must divide bins ({})", out.coarse_bins, out.bins));
  return out;
}

DriftTriggerOptions read_drift(TriggerContext& ctx, const MapReader& map, std::string name) {
  DriftTriggerOptions out;
  out.name = std::move(name);
  out.layout = ctx.layout;
  out.features = read_drift_features(ctx, map);
  out.source = read_drift_source(ctx, map);
  out.window = read_drift_window(map);
  std::vector<std::string> unknown;
  const drift::FeatureColumns watched =
      drift::FeatureColumns::select(out.layout, out.features, &unknown);
  read_drift_decision(map, watched, out.decision);
  out.summary = read_drift_reference(map);
  assign(out.refit_after_samples,
         read_int(map.errors(), map.find("refit_after_samples"), kRefitAfterSamplesRange));
  return out;
}

// ---- composite ----

CompositeSpec read_composite(TriggerContext& ctx, const MapReader& map, std::string name) {
  ErrorSink& errors = ctx.errors;
  CompositeSpec out;
  out.options.name = std::move(name);
  const std::optional<Field> mode_field = map.find("mode");
  const std::optional<triggers::CompositeMode> mode =
      read_choice(errors, mode_field, kCompositeModes);
  assign(out.options.mode, mode);
  if (const auto window = read_int(errors, map.find("window_s"), kCompositeWindowSecondsRange)) {
    out.options.window = std::chrono::seconds(*window);
  }
  const std::optional<Field> of_field = map.require("of", " (the triggers it combines)");
  const std::optional<std::vector<Field>> items = read_list(errors, of_field);
  if (items && items->empty()) {
    errors.at(of_field->mark, of_field->path, "at least one trigger is required");
  }
  for (const Field& item : items.value_or(std::vector<Field>())) {
    if (std::optional<TriggerSpec> child = read_trigger(ctx, item, true)) {
      out.children.push_back(std::move(*child));
    }
  }
  if (!read_cleanly(mode_field, mode)) return out;
  if (out.options.mode != triggers::CompositeMode::kAtLeast) {
    map.reject("n", "only allowed when mode is at_least");
    return out;
  }
  const std::optional<Field> n_field = map.require("n", " (how many of the triggers must fire)");
  const std::optional<std::int64_t> n = read_int(errors, n_field, kCompositeNRange);
  assign(out.options.at_least, n);
  if (n && items && *n > static_cast<std::int64_t>(items->size())) {
    errors.at(n_field->mark, n_field->path,
              fmt::format("n ({}) must not exceed the number of triggers in 'of' ({})", *n,
                          items->size()));
  }
  return out;
}

// ---- any trigger ----

KeyList trigger_keys(std::optional<TriggerKind> kind) {
  static const std::vector<std::string_view> all =
      union_of({kManualKeys, kScheduleKeys, kNewDataKeys, kDecayKeys, kDriftKeys, kCompositeKeys});
  if (!kind) return all;
  switch (*kind) {
    case TriggerKind::kManual:
      return kManualKeys;
    case TriggerKind::kSchedule:
      return kScheduleKeys;
    case TriggerKind::kNewData:
      return kNewDataKeys;
    case TriggerKind::kDecay:
      return kDecayKeys;
    case TriggerKind::kDrift:
      return kDriftKeys;
    case TriggerKind::kComposite:
      return kCompositeKeys;
  }
  return all;
}

// nullopt when the type cannot be read (reported): the other keys cannot be judged.
std::optional<TriggerSpec> read_trigger(TriggerContext& ctx, const Field& item, bool nested) {
  const MapReader map(ctx.errors, item, trigger_keys(peek_type(item, kTriggerKinds)));
  std::string name = read_trigger_name(ctx, map);
  const std::optional<Field> type_field = map.require("type");
  const std::optional<TriggerKind> kind = read_choice(ctx.errors, type_field, kTriggerKinds);
  if (!kind) return std::nullopt;
  switch (*kind) {
    case TriggerKind::kManual:
      if (nested) {
        ctx.errors.at(type_field->mark, type_field->path,
                      "a manual trigger cannot be part of a composite: requests reach "
                      "top-level manual triggers only");
      }
      return TriggerSpec{triggers::ManualOptions{std::move(name)}};
    case TriggerKind::kSchedule:
      return TriggerSpec{read_schedule(map, std::move(name))};
    case TriggerKind::kNewData:
      return TriggerSpec{read_new_data(map, std::move(name))};
    case TriggerKind::kDecay:
      return TriggerSpec{read_decay(map, std::move(name))};
    case TriggerKind::kDrift:
      return TriggerSpec{read_drift(ctx, map, std::move(name))};
    case TriggerKind::kComposite:
      return TriggerSpec{read_composite(ctx, map, std::move(name))};
  }
  return std::nullopt;
}

// failure_backoff_s and its cap; the cap must not be below the first delay (the defaults are in
// order, so one of the two keys is present when it is).
void read_failure_backoff(const MapReader& map, triggers::RateLimits& limits) {
  ErrorSink& errors = map.errors();
  const std::optional<Field> initial_field = map.find("failure_backoff_s");
  const std::optional<Field> max_field = map.find("failure_backoff_max_s");
  const auto initial = read_int(errors, initial_field, kRateLimitSecondsRange);
  const auto max = read_int(errors, max_field, kRateLimitSecondsRange);
  if ((initial_field && !initial) || (max_field && !max)) return;
  assign(limits.failure_backoff, initial);
  assign(limits.failure_backoff_max, max);
  if (limits.failure_backoff <= limits.failure_backoff_max) return;
  const auto value = [](const std::optional<Field>& field, std::chrono::seconds s) {
    return fmt::format("{}{}", s.count(), field ? "" : ", the default");
  };
  const Field& at = initial_field ? *initial_field : *max_field;
  errors.at(
      at.mark, at.path,
      fmt::format("failure_backoff_s ({}) must not be greater than failure_backoff_max_s ({})",
                  value(initial_field, limits.failure_backoff),
                  value(max_field, limits.failure_backoff_max)));
}

}  // namespace

triggers::EngineSpec read_triggers(const MapReader& pipeline,
                                   const std::vector<FeatureSpec>& features,
                                   const TopicsSpec& topics) {
  triggers::EngineSpec out;
  const std::optional<Field> field = pipeline.find("triggers");
  if (!field) return out;
  ErrorSink& errors = pipeline.errors();
  const std::size_t errors_before = errors.count();
  const MapReader map(errors, *field, kTriggersKeys);
  assign(out.limits.cooldown, read_int(errors, map.find("cooldown_s"), kRateLimitSecondsRange));
  assign(out.limits.min_interval,
         read_int(errors, map.find("min_interval_s"), kRateLimitSecondsRange));
  read_failure_backoff(map, out.limits);
  const std::optional<Field> rules_field = map.require("rules", " (the pipeline's triggers)");
  const std::optional<std::vector<Field>> rules = read_list(errors, rules_field);
  if (rules && rules->empty()) {
    errors.at(rules_field->mark, rules_field->path,
              "at least one trigger is required; leave 'triggers' out for none");
  }
  TriggerContext ctx{errors, features, topics, layout_of(features)};
  for (const Field& item : rules.value_or(std::vector<Field>())) {
    if (std::optional<TriggerSpec> trigger = read_trigger(ctx, item, false)) {
      out.triggers.push_back(std::move(*trigger));
    }
  }
  // What read cleanly here must build; this guards the reader against the triggers' own rules.
  if (errors.count() == errors_before) {
    const auto built = triggers::build_triggers(out, triggers::ScheduleAnchors());
    if (!built) errors.at(field->mark, field->path, built.error().message);
  }
  return out;
}

}  // namespace ctd::config::internal

#include "triggers/decay_trigger.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "triggers/evidence.h"
#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

// Linear interpolation between order statistics (Hyndman & Fan type 7, numpy's default).
double quantile_of(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double rank = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(rank));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (rank - static_cast<double>(below)) * (values[above] - values[below]);
}

struct MeanAndDeviation {
  double mean = 0;
  double deviation = 0;  // sample standard deviation
};

MeanAndDeviation mean_and_deviation(const std::deque<double>& values) {
  MeanAndDeviation result;
  for (double v : values) result.mean += v;
  result.mean /= static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - result.mean) * (v - result.mean);
  result.deviation = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return result;
}

std::optional<Error> validate_criterion(const DecayOptions& o) {
  switch (o.criterion) {
    case DecayCriterion::kStaticThreshold:
      if (!std::isfinite(o.threshold)) return Error{"threshold must be a finite number"};
      return std::nullopt;
    case DecayCriterion::kBaselineDrop:
      if (!(o.drop > 0) || !std::isfinite(o.drop)) return Error{"drop must be > 0"};
      return std::nullopt;
    case DecayCriterion::kQuantile:
    case DecayCriterion::kRollingAverage:
      if (o.min_history < 2) return Error{"min_history must be >= 2"};
      if (o.history < o.min_history) return Error{"history must be >= min_history"};
      if (o.criterion == DecayCriterion::kQuantile && !(o.quantile > 0 && o.quantile < 1)) {
        return Error{"quantile must be in (0, 1)"};
      }
      if (!(o.sigmas >= 0) || !(o.margin >= 0)) return Error{"sigmas and margin must be >= 0"};
      return std::nullopt;
    case DecayCriterion::kPageHinkley:
      return validate(o.page_hinkley);
    case DecayCriterion::kAdwin:
      return validate(o.adwin);
    case DecayCriterion::kDdm:
      if (o.signal != DecaySignal::kPrequentialError) {
        return Error{"ddm needs the prequential 0/1 error signal"};
      }
      return validate(o.ddm);
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(DecaySignal signal) {
  return signal == DecaySignal::kMetric ? "metric" : "prequential_error";
}

std::string_view to_string(DecayCriterion criterion) {
  switch (criterion) {
    case DecayCriterion::kStaticThreshold:
      return "static_threshold";
    case DecayCriterion::kBaselineDrop:
      return "baseline_drop";
    case DecayCriterion::kQuantile:
      return "quantile";
    case DecayCriterion::kRollingAverage:
      return "rolling_average";
    case DecayCriterion::kPageHinkley:
      return "page_hinkley";
    case DecayCriterion::kAdwin:
      return "adwin";
    case DecayCriterion::kDdm:
      return "ddm";
  }
  return "unknown";
}

std::string_view to_string(DropMode mode) {
  return mode == DropMode::kRelative ? "relative" : "absolute";
}

Result<std::unique_ptr<DecayTrigger>> DecayTrigger::create(const DecayOptions& options) {
  if (options.name.empty()) return Error{"decay trigger: name is empty"};
  const std::string prefix = "decay trigger \"" + options.name + "\": ";
  if (options.signal == DecaySignal::kMetric && options.metric.empty()) {
    return Error{prefix + "the metric signal needs a metric name"};
  }
  if (options.signal == DecaySignal::kPrequentialError && options.higher_is_better) {
    return Error{prefix + "prequential errors are lower-is-better; higher_is_better must be false"};
  }
  if (options.window_samples < 1 || options.window_points < 1) {
    return Error{prefix + "window_samples and window_points must be >= 1"};
  }
  if (options.refit_after_samples < 0) return Error{prefix + "refit_after_samples must be >= 0"};
  if (std::optional<Error> error = validate_criterion(options)) {
    return Error{prefix + std::string(to_string(options.criterion)) + ": " + error->message};
  }
  return std::unique_ptr<DecayTrigger>(new DecayTrigger(options));
}

DecayTrigger::DecayTrigger(DecayOptions options)
    : options_(std::move(options)), refit_(options_.refit_after_samples) {
  restart_evidence();
}

bool DecayTrigger::uses_windows() const {
  switch (options_.criterion) {
    case DecayCriterion::kPageHinkley:
    case DecayCriterion::kAdwin:
    case DecayCriterion::kDdm:
      return false;
    default:
      return true;
  }
}

std::int64_t DecayTrigger::window_length() const {
  return options_.signal == DecaySignal::kMetric ? options_.window_points : options_.window_samples;
}

std::string DecayTrigger::statistic_name() const {
  const std::string base =
      options_.signal == DecaySignal::kMetric ? options_.metric : std::string("prequential_error");
  return (uses_windows() ? "window_mean_" : "") + base;
}

void DecayTrigger::restart_evidence() {
  window_ = Window{};
  page_hinkley_.reset();
  adwin_.reset();
  ddm_.reset();
  if (options_.criterion == DecayCriterion::kPageHinkley)
    page_hinkley_.emplace(options_.page_hinkley);
  if (options_.criterion == DecayCriterion::kAdwin) adwin_.emplace(options_.adwin);
  if (options_.criterion == DecayCriterion::kDdm) ddm_.emplace(options_.ddm);
  pending_.reset();
  pending_repeats_ = 0;
}

void DecayTrigger::on_model_promoted(const ModelContext& model) {
  model_known_ = true;
  model_version_ = model.version;
  refit_.promoted(model.version);  // the countdown itself survives the promotion
  baseline_.reset();
  baseline_source_.clear();
  if (!options_.baseline_metric.empty()) {
    auto found = model.baseline_metrics.find(options_.baseline_metric);
    if (found != model.baseline_metrics.end()) {
      baseline_ = found->second;
      baseline_source_ = "baseline_metrics." + options_.baseline_metric;
    }
  }
  history_.clear();
  last_window_value_.reset();
  restart_evidence();
}

void DecayTrigger::on_training_started(TimePoint at) {
  refit_.training_started(at);
  restart_evidence();
}

void DecayTrigger::on_labels(const LabeledBatch& batch) {
  refit_.labels(batch);
  if (options_.signal != DecaySignal::kPrequentialError || !model_known_) return;
  for (std::size_t i = 0; i < batch.errors.size(); ++i) {
    if (!std::isfinite(batch.errors[i])) continue;
    observe(batch.errors[i], 1.0,
            Position{batch.first_seq + static_cast<std::int64_t>(i), batch.at});
  }
}

void DecayTrigger::on_metric(const MetricPoint& point) {
  if (options_.signal != DecaySignal::kMetric || !model_known_) return;
  if (point.name != options_.metric) return;
  if (point.version >= 0 && point.version != model_version_) return;
  if (!std::isfinite(point.value) || point.count == 0) return;  // no observations behind it
  const double weight = point.count > 0 ? static_cast<double>(point.count) : 1.0;
  observe(point.value, weight, Position{-1, point.event_time});
}

void DecayTrigger::observe(double value, double weight, Position position) {
  ++values_seen_;
  if (!uses_windows()) {
    observe_by_detector(value, position);
    return;
  }
  if (window_.values == 0) window_.first = position;
  window_.last = position;
  ++window_.values;
  window_.weighted_sum += value * weight;
  window_.weight += weight;
  if (window_.values >= window_length()) close_window();
}

bool DecayTrigger::worse(double value, double threshold) const {
  return options_.higher_is_better ? value < threshold : value > threshold;
}

std::optional<DecayTrigger::WindowVerdict> DecayTrigger::judge_window(double value) {
  WindowVerdict verdict;
  switch (options_.criterion) {
    case DecayCriterion::kStaticThreshold:
      verdict.threshold = options_.threshold;
      break;
    case DecayCriterion::kBaselineDrop: {
      const double allowed = options_.drop_mode == DropMode::kAbsolute
                                 ? options_.drop
                                 : options_.drop * std::abs(*baseline_);
      verdict.threshold = options_.higher_is_better ? *baseline_ - allowed : *baseline_ + allowed;
      verdict.details = {
          {"baseline", *baseline_},
          {"baseline_source", baseline_source_},
          {"drop", options_.drop},
          {"drop_mode", to_string(options_.drop_mode)},
          {"degradation", options_.higher_is_better ? *baseline_ - value : value - *baseline_}};
      break;
    }
    case DecayCriterion::kQuantile: {
      const double q = options_.higher_is_better ? 1 - options_.quantile : options_.quantile;
      verdict.threshold = quantile_of({history_.begin(), history_.end()}, q);
      verdict.details = {{"quantile", q}, {"history_windows", history_.size()}};
      break;
    }
    case DecayCriterion::kRollingAverage: {
      const MeanAndDeviation past = mean_and_deviation(history_);
      const double band = options_.sigmas * past.deviation + options_.margin;
      verdict.threshold = options_.higher_is_better ? past.mean - band : past.mean + band;
      verdict.details = {{"rolling_mean", past.mean},
                         {"rolling_std", past.deviation},
                         {"sigmas", options_.sigmas},
                         {"margin", options_.margin},
                         {"history_windows", history_.size()}};
      break;
    }
    default:
      return std::nullopt;
  }
  if (!worse(value, verdict.threshold)) return std::nullopt;
  return verdict;
}

void DecayTrigger::close_window() {
  const Window window = window_;
  window_ = Window{};
  ++windows_closed_;
  const double value = window.weighted_sum / window.weight;
  last_window_value_ = value;
  const bool uses_history = options_.criterion == DecayCriterion::kQuantile ||
                            options_.criterion == DecayCriterion::kRollingAverage;
  if (options_.criterion == DecayCriterion::kBaselineDrop && !baseline_) {
    baseline_ = value;
    baseline_source_ = "first_window";
    return;
  }
  std::optional<WindowVerdict> verdict;
  if (!uses_history || static_cast<std::int64_t>(history_.size()) >= options_.min_history) {
    verdict = judge_window(value);
  }
  if (uses_history) {
    history_.push_back(value);
    if (static_cast<std::int64_t>(history_.size()) > options_.history) history_.pop_front();
  }
  if (!verdict) return;
  nlohmann::json evidence = {{"signal", to_string(options_.signal)},
                             {"criterion", to_string(options_.criterion)},
                             {"statistic", statistic_name()},
                             {"value", value},
                             {"threshold", verdict->threshold},
                             {"higher_is_better", options_.higher_is_better},
                             {"window", position_json(window.first, window.last)},
                             {"model_version", model_version_}};
  evidence["window"]["values"] = window.values;
  evidence.update(verdict->details);
  flag(statistic_name() + " = " + format_number(value) +
           (options_.higher_is_better ? " < " : " > ") + format_number(verdict->threshold) + " (" +
           std::string(to_string(options_.criterion)) + ")",
       std::move(evidence));
}

std::optional<DecayTrigger::DetectorVerdict> DecayTrigger::update_detector(double value) {
  if (page_hinkley_) {
    if (page_hinkley_->update(options_.higher_is_better ? -value : value) !=
        DetectorState::kDrift) {
      return std::nullopt;
    }
    return DetectorVerdict{page_hinkley_->statistic(), options_.page_hinkley.threshold,
                           "statistic " + format_number(page_hinkley_->statistic()) +
                               " > threshold " + format_number(options_.page_hinkley.threshold),
                           page_hinkley_->describe(), page_hinkley_->count()};
  }
  if (adwin_) {
    if (adwin_->update(value) != DetectorState::kDrift) return std::nullopt;
    const Adwin::Cut& cut = *adwin_->last_cut();
    if (cut.increase() == options_.higher_is_better) return std::nullopt;  // it got better
    return DetectorVerdict{
        std::abs(cut.recent_mean - cut.older_mean), cut.epsilon,
        "mean " + format_number(cut.older_mean) + " -> " + format_number(cut.recent_mean),
        adwin_->describe(), cut.recent_count};
  }
  if (ddm_) {
    if (!(value >= 0 && value <= 1)) {
      ++values_skipped_;
      return std::nullopt;
    }
    if (ddm_->update(value) != DetectorState::kDrift) return std::nullopt;
    const nlohmann::json state = ddm_->describe();
    return DetectorVerdict{ddm_->error_rate() + state["std"].get<double>(),
                           state["drift_level"].get<double>(),
                           "error rate " + format_number(ddm_->error_rate()), state, ddm_->count()};
  }
  return std::nullopt;
}

void DecayTrigger::observe_by_detector(double value, Position position) {
  std::optional<DetectorVerdict> verdict = update_detector(value);
  if (!verdict) return;
  Position first = position;
  if (position.seq >= 0) first.seq = position.seq - verdict->span + 1;
  nlohmann::json evidence = {{"signal", to_string(options_.signal)},
                             {"criterion", to_string(options_.criterion)},
                             {"statistic", statistic_name()},
                             {"value", verdict->value},
                             {"threshold", verdict->threshold},
                             {"detector", std::move(verdict->detector)},
                             {"higher_is_better", options_.higher_is_better},
                             {"window", position_json(first, position)},
                             {"model_version", model_version_}};
  evidence["window"]["values"] = verdict->span;
  flag(std::string(to_string(options_.criterion)) + " detected a change for the worse in " +
           statistic_name() + " (" + verdict->detail + ")",
       std::move(evidence));
}

nlohmann::json DecayTrigger::position_json(const Position& first, const Position& last) const {
  nlohmann::json bounds = {{"first_at", format_utc(first.at)}, {"last_at", format_utc(last.at)}};
  if (last.seq >= 0) {
    bounds["first_seq"] = first.seq;
    bounds["last_seq"] = last.seq;
  }
  return bounds;
}

void DecayTrigger::flag(std::string reason, nlohmann::json evidence) {
  if (pending_) {
    ++pending_repeats_;
    pending_->evidence["repeats"] = pending_repeats_;
    return;
  }
  Fire fire;
  fire.trigger = options_.name;
  fire.kind = "decay";
  fire.reason = std::move(reason);
  fire.evidence = std::move(evidence);
  pending_ = std::move(fire);
}

bool DecayTrigger::ready() const {
  if (refit_.pending()) return true;
  if (!model_known_) return false;
  switch (options_.criterion) {
    case DecayCriterion::kStaticThreshold:
      return true;
    case DecayCriterion::kBaselineDrop:
      return baseline_.has_value();
    case DecayCriterion::kQuantile:
    case DecayCriterion::kRollingAverage:
      return static_cast<std::int64_t>(history_.size()) >= options_.min_history;
    case DecayCriterion::kPageHinkley:
      return page_hinkley_->count() >= options_.page_hinkley.min_instances;
    case DecayCriterion::kAdwin:
      return adwin_->width() > options_.adwin.grace_period;
    case DecayCriterion::kDdm:
      return ddm_->count() > options_.ddm.warm_start;
  }
  return false;
}

std::optional<Fire> DecayTrigger::evaluate(TimePoint now) {
  if (!pending_) return refit_.take(options_.name, "decay", now);
  Fire fire = std::move(*pending_);
  pending_.reset();
  pending_repeats_ = 0;
  fire.at = now;
  if (refit_.pending()) {  // the new detection's training answers the refit too
    refit_.drop_pending();
    fire.evidence["replaces_refit"] = true;
  }
  refit_.fired(fire);
  return fire;
}

nlohmann::json DecayTrigger::describe() const {
  nlohmann::json state = {
      {"signal", to_string(options_.signal)},
      {"criterion", to_string(options_.criterion)},
      {"statistic", statistic_name()},
      {"model_version", model_known_ ? nlohmann::json(model_version_) : nlohmann::json()},
      {"values_seen", values_seen_},
      {"windows_closed", windows_closed_}};
  if (options_.signal == DecaySignal::kMetric) state["metric"] = options_.metric;
  if (uses_windows()) {
    state["open_window_values"] = window_.values;
    state["last_window_value"] =
        last_window_value_ ? nlohmann::json(*last_window_value_) : nlohmann::json();
    state["history_windows"] = history_.size();
  }
  if (baseline_) {
    state["baseline"] = *baseline_;
    state["baseline_source"] = baseline_source_;
  }
  if (page_hinkley_) state["detector"] = page_hinkley_->describe();
  if (adwin_) state["detector"] = adwin_->describe();
  if (ddm_) {
    state["detector"] = ddm_->describe();
    state["values_skipped"] = values_skipped_;
  }
  if (refit_.enabled()) state["refit"] = refit_.describe();
  return state;
}

}  // namespace ctd::triggers

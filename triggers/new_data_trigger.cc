#include "triggers/new_data_trigger.h"

#include <algorithm>
#include <cmath>

#include "triggers/evidence.h"
#include "triggers/time_format.h"

namespace ctd::triggers {

Result<std::unique_ptr<NewDataTrigger>> NewDataTrigger::create(const NewDataOptions& options) {
  const std::string prefix = "new_data trigger \"" + options.name + "\": ";
  if (options.name.empty()) return Error{"new_data trigger: name is empty"};
  if (options.min_samples < 0) return Error{prefix + "min_samples must be >= 0"};
  if (!(options.min_fraction >= 0) || !std::isfinite(options.min_fraction)) {
    return Error{prefix + "min_fraction must be a finite number >= 0"};
  }
  if (options.min_samples == 0 && options.min_fraction == 0) {
    return Error{prefix + "set min_samples and/or min_fraction"};
  }
  return std::unique_ptr<NewDataTrigger>(new NewDataTrigger(options));
}

void NewDataTrigger::on_labels(const LabeledBatch& batch) {
  const auto count = static_cast<std::int64_t>(batch.labels.size());
  if (count == 0) return;
  if (!first_seq_) first_seq_ = batch.first_seq;
  last_seq_ = batch.first_seq + count - 1;
  samples_ += count;
  samples_since_training_ += count;
}

void NewDataTrigger::on_model_promoted(const ModelContext& model) {
  model_training_rows_ = model.training_rows;
  model_version_ = model.version;
}

void NewDataTrigger::on_training_started(TimePoint at) {
  samples_ = 0;
  samples_since_training_ = 0;
  first_seq_.reset();
  last_seq_ = -1;
  counting_since_ = at;
}

bool NewDataTrigger::ready() const {
  return options_.min_samples > 0 || model_training_rows_.has_value();
}

std::optional<std::int64_t> NewDataTrigger::fraction_threshold() const {
  if (options_.min_fraction <= 0 || !model_training_rows_) return std::nullopt;
  const double needed =
      std::ceil(options_.min_fraction * static_cast<double>(*model_training_rows_));
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(needed));
}

std::optional<Fire> NewDataTrigger::evaluate(TimePoint now) {
  if (samples_ == 0) return std::nullopt;
  const std::optional<std::int64_t> by_fraction = fraction_threshold();
  const bool count_met = options_.min_samples > 0 && samples_ >= options_.min_samples;
  const bool fraction_met = by_fraction && samples_ >= *by_fraction;
  if (!count_met && !fraction_met) return std::nullopt;
  Fire fire;
  fire.trigger = options_.name;
  fire.kind = "new_data";
  fire.at = now;
  fire.reason = std::to_string(samples_) + " new labeled samples since the last " +
                (samples_ == samples_since_training_ ? "training" : "new-data fire");
  if (count_met) {
    fire.reason += " (>= min_samples " + std::to_string(options_.min_samples) + ")";
  } else {
    fire.reason += " (>= " + format_number(options_.min_fraction) + " x " +
                   std::to_string(*model_training_rows_) + " training rows of model v" +
                   std::to_string(model_version_) + ")";
  }
  nlohmann::json window = {{"first_seq", *first_seq_}, {"last_seq", last_seq_}};
  window["since"] =
      counting_since_ ? nlohmann::json(format_utc(*counting_since_)) : nlohmann::json();
  fire.evidence = {
      {"statistic", "new_labeled_samples"},
      {"value", samples_},
      {"threshold", count_met ? options_.min_samples : *by_fraction},
      {"window", std::move(window)},
      {"min_samples", options_.min_samples},
      {"min_fraction", options_.min_fraction},
      {"model_training_rows",
       model_training_rows_ ? nlohmann::json(*model_training_rows_) : nlohmann::json()},
      {"fraction_threshold", by_fraction ? nlohmann::json(*by_fraction) : nlohmann::json()},
      {"met_by", count_met ? "min_samples" : "min_fraction"},
      {"samples_since_training", samples_since_training_}};
  samples_ = 0;
  first_seq_.reset();
  counting_since_ = now;
  return fire;
}

nlohmann::json NewDataTrigger::describe() const {
  const std::optional<std::int64_t> by_fraction = fraction_threshold();
  return {{"new_samples", samples_},
          {"samples_since_training", samples_since_training_},
          {"min_samples", options_.min_samples},
          {"min_fraction", options_.min_fraction},
          {"fraction_threshold", by_fraction ? nlohmann::json(*by_fraction) : nlohmann::json()}};
}

}  // namespace ctd::triggers

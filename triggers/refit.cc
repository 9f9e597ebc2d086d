#include "triggers/refit.h"

#include <algorithm>

#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

std::int64_t labeled_samples(const LabeledBatch& batch) {
  if (!batch.labels.empty()) return static_cast<std::int64_t>(batch.labels.size());
  return static_cast<std::int64_t>(std::max(batch.errors.size(), batch.features.rows));
}

}  // namespace

void Refit::fired(const Fire& fire) {
  if (!enabled()) return;
  Source source{fire.at, fire.reason, std::nullopt};
  const auto version = fire.evidence.find("model_version");
  if (version != fire.evidence.end() && version->is_number_integer()) {
    source.model_version = version->get<std::int64_t>();
  }
  fired_ = std::move(source);
}

void Refit::promoted(std::int64_t version) {
  if (fired_ && fired_->model_version && *fired_->model_version < version) fired_.reset();
}

void Refit::training_started(TimePoint at) {
  if (!fired_) return;
  armed_ = std::move(*fired_);
  fired_.reset();
  training_started_at_ = at;
  remaining_ = after_samples_;
}

void Refit::labels(const LabeledBatch& batch) {
  if (!remaining_) return;
  const std::int64_t count = labeled_samples(batch);
  if (count < *remaining_) {
    *remaining_ -= count;
    return;
  }
  const std::int64_t reached_at = batch.first_seq + *remaining_ - 1;
  remaining_.reset();
  nlohmann::json refit_of = {{"detected_at", format_utc(armed_->detected_at)},
                             {"reason", armed_->reason},
                             {"training_started_at", format_utc(training_started_at_)}};
  if (armed_->model_version) refit_of["model_version"] = *armed_->model_version;
  Fire fire;
  fire.reason = "refit: " + std::to_string(after_samples_) +
                " labeled samples since the training started at " +
                format_utc(training_started_at_) + " for the change detected at " +
                format_utc(armed_->detected_at);
  fire.evidence = {{"refit", true},
                   {"after_samples", after_samples_},
                   {"reached_at_seq", reached_at},
                   {"refit_of", std::move(refit_of)}};
  fire.at = batch.at;
  pending_ = std::move(fire);
  armed_.reset();
}

std::optional<Fire> Refit::take(const std::string& trigger, std::string_view kind, TimePoint now) {
  if (!pending_) return std::nullopt;
  Fire fire = std::move(*pending_);
  pending_.reset();
  fire.trigger = trigger;
  fire.kind = std::string(kind);
  fire.at = now;
  ++fires_;
  return fire;
}

void Refit::drop_pending() { pending_.reset(); }

nlohmann::json Refit::describe() const {
  nlohmann::json state = {{"after_samples", after_samples_},
                          {"armed", armed()},
                          {"pending", pending()},
                          {"fires", fires_},
                          {"detection_awaiting_training", fired_.has_value()}};
  if (remaining_) {
    state["remaining_samples"] = *remaining_;
    state["training_started_at"] = format_utc(training_started_at_);
    state["detected_at"] = format_utc(armed_->detected_at);
  }
  return state;
}

}  // namespace ctd::triggers

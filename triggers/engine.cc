#include "triggers/engine.h"

#include <algorithm>
#include <set>

#include "triggers/evidence.h"
#include "triggers/manual_trigger.h"
#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

nlohmann::json optional_time(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_utc(*t)) : nlohmann::json();
}

}  // namespace

std::string_view to_string(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kNone:
      return "none";
    case DecisionKind::kStartTraining:
      return "start_training";
    case DecisionKind::kDeferred:
      return "deferred";
  }
  return "unknown";
}

std::string_view to_string(DeferReason reason) {
  switch (reason) {
    case DeferReason::kInFlight:
      return "training_in_flight";
    case DeferReason::kCooldown:
      return "cooldown";
    case DeferReason::kFailureBackoff:
      return "failure_backoff";
    case DeferReason::kMinInterval:
      return "min_interval";
  }
  return "unknown";
}

std::string_view to_string(TrainingOutcome outcome) {
  switch (outcome) {
    case TrainingOutcome::kSucceeded:
      return "succeeded";
    case TrainingOutcome::kFailed:
      return "failed";
    case TrainingOutcome::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

nlohmann::json Decision::to_json() const {
  nlohmann::json fires_json = nlohmann::json::array();
  for (const Fire& fire : fires) fires_json.push_back(fire_to_json(fire));
  nlohmann::json json = {{"decision", to_string(kind)},
                         {"at", format_utc(at)},
                         {"fires", std::move(fires_json)},
                         {"omitted_fires", omitted_fires},
                         {"follow_up", follow_up}};
  if (deferred_by) json["deferred_by"] = to_string(*deferred_by);
  if (not_before) json["not_before"] = format_utc(*not_before);
  if (!superseded.empty()) {
    nlohmann::json dropped = nlohmann::json::array();
    for (const Fire& fire : superseded) dropped.push_back(fire_to_json(fire));
    json["superseded_fires"] = std::move(dropped);
  }
  return json;
}

Result<std::unique_ptr<Engine>> Engine::create(std::string pipeline, const Clock& clock,
                                               RateLimits limits,
                                               std::vector<std::unique_ptr<Trigger>> triggers,
                                               EngineHistory history) {
  const std::string prefix = "pipeline \"" + pipeline + "\": ";
  if (limits.cooldown < std::chrono::seconds::zero() ||
      limits.min_interval < std::chrono::seconds::zero()) {
    return Error{prefix + "cooldown and min_interval must be >= 0"};
  }
  if (limits.failure_backoff < std::chrono::seconds::zero() ||
      limits.failure_backoff_max < limits.failure_backoff) {
    return Error{prefix +
                 "failure_backoff must be >= 0 and failure_backoff_max >= failure_backoff"};
  }
  std::set<std::string> names;
  for (const auto& trigger : triggers) {
    if (!trigger) return Error{prefix + "a trigger is missing"};
    if (!names.insert(trigger->name()).second) {
      return Error{prefix + "two triggers are named \"" + trigger->name() + "\""};
    }
  }
  return std::unique_ptr<Engine>(
      new Engine(std::move(pipeline), clock, limits, std::move(triggers), history));
}

Engine::Engine(std::string pipeline, const Clock& clock, RateLimits limits,
               std::vector<std::unique_ptr<Trigger>> triggers, EngineHistory history)
    : pipeline_(std::move(pipeline)),
      clock_(clock),
      limits_(limits),
      triggers_(std::move(triggers)),
      in_flight_(history.training_in_flight),
      last_started_(history.last_training_started),
      last_finished_(history.last_training_finished),
      consecutive_failures_(std::max(0, history.consecutive_failures)) {}

template <typename Event>
Decision Engine::route(const Event& event, void (Trigger::*handler)(const Event&)) {
  for (auto& trigger : triggers_) ((*trigger).*handler)(event);
  const TimePoint now = clock_.now();
  return decide(now, evaluate_triggers(now));
}

Decision Engine::on_labels(const LabeledBatch& batch) { return route(batch, &Trigger::on_labels); }

Decision Engine::on_inferences(const InferenceBatch& batch) {
  return route(batch, &Trigger::on_inferences);
}

Decision Engine::on_metric(const MetricPoint& point) { return route(point, &Trigger::on_metric); }

Decision Engine::on_model_promoted(const ModelContext& model) {
  std::vector<Fire> superseded = promote(model);
  Decision decision = tick();
  decision.superseded = std::move(superseded);
  return decision;
}

std::vector<Fire> Engine::promote(const ModelContext& model) {
  for (auto& trigger : triggers_) trigger->on_model_promoted(model);
  std::vector<Fire> superseded;
  std::vector<Fire> kept;
  for (Fire& fire : held_) {
    const auto version = fire.evidence.find("model_version");
    const bool stale = version != fire.evidence.end() && version->is_number_integer() &&
                       version->get<std::int64_t>() < model.version;
    (stale ? superseded : kept).push_back(std::move(fire));
  }
  held_ = std::move(kept);
  return superseded;
}

Decision Engine::tick() {
  const TimePoint now = clock_.now();
  return decide(now, evaluate_triggers(now));
}

Result<Decision> Engine::request_manual(std::string_view trigger, std::string reason,
                                        std::string requested_by) {
  ManualTrigger* manual = nullptr;
  for (auto& candidate : triggers_) {
    if (candidate->name() == trigger) manual = dynamic_cast<ManualTrigger*>(candidate.get());
  }
  if (manual == nullptr) {
    return Error{"pipeline \"" + pipeline_ + "\" has no manual trigger named \"" +
                 std::string(trigger) + "\""};
  }
  const TimePoint now = clock_.now();
  if (std::optional<Error> error =
          manual->request(std::move(reason), std::move(requested_by), now)) {
    return *error;
  }
  return decide(now, evaluate_triggers(now));
}

Decision Engine::training_finished(TrainingOutcome outcome, const ModelContext* promoted) {
  const TimePoint now = clock_.now();
  in_flight_ = false;
  last_finished_ = now;
  last_outcome_ = outcome;
  if (outcome == TrainingOutcome::kSucceeded) consecutive_failures_ = 0;
  if (outcome == TrainingOutcome::kFailed) ++consecutive_failures_;
  std::vector<Fire> superseded;
  if (promoted != nullptr) superseded = promote(*promoted);
  Decision decision = decide(now, evaluate_triggers(now));
  decision.superseded = std::move(superseded);
  return decision;
}

std::vector<Fire> Engine::evaluate_triggers(TimePoint now) {
  std::vector<Fire> fires;
  for (auto& trigger : triggers_) {
    if (!trigger->ready()) continue;
    std::optional<Fire> fire = trigger->evaluate(now);
    if (listener_) listener_(*trigger, fire ? &*fire : nullptr);
    if (fire) fires.push_back(std::move(*fire));
  }
  return fires;
}

std::chrono::seconds Engine::failure_backoff() const {
  if (consecutive_failures_ == 0) return std::chrono::seconds::zero();
  // Doubles per failure up to the cap; the shift is bounded so it cannot overflow.
  const int doublings = std::min(consecutive_failures_ - 1, 40);
  const auto max = limits_.failure_backoff_max.count();
  auto delay = limits_.failure_backoff.count();
  for (int i = 0; i < doublings && delay < max; ++i) delay *= 2;
  return std::chrono::seconds(std::min(delay, max));
}

std::optional<std::pair<DeferReason, TimePoint>> Engine::limit_at(TimePoint now) const {
  const std::chrono::seconds backoff = failure_backoff();
  if (last_finished_ && now < *last_finished_ + backoff) {
    return std::make_pair(DeferReason::kFailureBackoff, *last_finished_ + backoff);
  }
  if (last_finished_ && now < *last_finished_ + limits_.cooldown) {
    return std::make_pair(DeferReason::kCooldown, *last_finished_ + limits_.cooldown);
  }
  if (last_started_ && now < *last_started_ + limits_.min_interval) {
    return std::make_pair(DeferReason::kMinInterval, *last_started_ + limits_.min_interval);
  }
  return std::nullopt;
}

Decision Engine::resume_held(std::vector<Fire> fires) {
  return decide(clock_.now(), std::move(fires));
}

Decision Engine::decide(TimePoint now, std::vector<Fire> new_fires) {
  Decision decision;
  decision.at = now;
  const bool releases_held = !held_.empty();
  for (const Fire& fire : new_fires) {
    if (held_.size() < kMaxHeldFires) {
      held_.push_back(fire);
    } else {
      ++omitted_;
    }
  }
  if (held_.empty()) return decision;
  const bool manual = std::any_of(held_.begin(), held_.end(),
                                  [](const Fire& fire) { return fire.kind == "manual"; });
  std::optional<std::pair<DeferReason, TimePoint>> limit;
  if (in_flight_) {
    limit = std::make_pair(DeferReason::kInFlight, TimePoint{});
  } else if (!manual) {
    limit = limit_at(now);
  }
  if (!limit) return start(now, releases_held);
  if (new_fires.empty()) return decision;  // nothing new to report; still held
  decision.kind = DecisionKind::kDeferred;
  decision.deferred_by = limit->first;
  if (limit->first != DeferReason::kInFlight) decision.not_before = limit->second;
  decision.fires = std::move(new_fires);
  return decision;
}

Decision Engine::start(TimePoint now, bool releases_held) {
  Decision decision;
  decision.at = now;
  decision.kind = DecisionKind::kStartTraining;
  decision.follow_up = releases_held;
  decision.fires = std::move(held_);
  decision.omitted_fires = omitted_;
  held_.clear();
  omitted_ = 0;
  in_flight_ = true;
  last_started_ = now;
  ++trainings_started_;
  for (auto& trigger : triggers_) trigger->on_training_started(now);
  return decision;
}

nlohmann::json Engine::describe() const {
  nlohmann::json triggers = nlohmann::json::array();
  nlohmann::json warming_up = nlohmann::json::array();
  for (const auto& trigger : triggers_) {
    const bool ready = trigger->ready();
    if (!ready) warming_up.push_back(trigger->name());
    triggers.push_back({{"name", trigger->name()},
                        {"kind", trigger->kind()},
                        {"ready", ready},
                        {"state", trigger->describe()}});
  }
  nlohmann::json held = nlohmann::json::array();
  for (const Fire& fire : held_) held.push_back(fire_to_json(fire));
  nlohmann::json json = {{"pipeline", pipeline_},
                         {"training_in_flight", in_flight_},
                         {"trainings_started", trainings_started_},
                         {"last_training_started", optional_time(last_started_)},
                         {"last_training_finished", optional_time(last_finished_)},
                         {"last_outcome", last_outcome_ ? nlohmann::json(to_string(*last_outcome_))
                                                        : nlohmann::json()},
                         {"cooldown_seconds", limits_.cooldown.count()},
                         {"min_interval_seconds", limits_.min_interval.count()},
                         {"consecutive_failures", consecutive_failures_},
                         {"failure_backoff_seconds", failure_backoff().count()},
                         {"held_fires", std::move(held)},
                         {"omitted_fires", omitted_},
                         {"warming_up", std::move(warming_up)},
                         {"triggers", std::move(triggers)}};
  if (!in_flight_) {
    if (std::optional<std::pair<DeferReason, TimePoint>> limit = limit_at(clock_.now())) {
      json["blocked_by"] = to_string(limit->first);
      json["not_before"] = format_utc(limit->second);
    }
  }
  return json;
}

}  // namespace ctd::triggers

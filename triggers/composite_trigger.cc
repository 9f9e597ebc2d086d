#include "triggers/composite_trigger.h"

#include <set>

#include "triggers/evidence.h"
#include "triggers/time_format.h"

namespace ctd::triggers {

std::string_view to_string(CompositeMode mode) {
  switch (mode) {
    case CompositeMode::kAny:
      return "any";
    case CompositeMode::kAll:
      return "all";
    case CompositeMode::kAtLeast:
      return "at_least";
  }
  return "unknown";
}

Result<std::unique_ptr<CompositeTrigger>> CompositeTrigger::create(
    const CompositeOptions& options, std::vector<std::unique_ptr<Trigger>> children) {
  if (options.name.empty()) return Error{"composite trigger: name is empty"};
  const std::string prefix = "composite trigger \"" + options.name + "\": ";
  if (children.empty()) return Error{prefix + "needs at least one child trigger"};
  std::set<std::string> names;
  for (const auto& child : children) {
    if (!child) return Error{prefix + "a child trigger is missing"};
    if (!names.insert(child->name()).second) {
      return Error{prefix + "two children are named \"" + child->name() + "\""};
    }
  }
  if (options.mode == CompositeMode::kAtLeast &&
      (options.at_least < 1 || options.at_least > static_cast<std::int64_t>(children.size()))) {
    return Error{prefix + "at_least must be between 1 and the number of children (" +
                 std::to_string(children.size()) + ")"};
  }
  if (options.window && *options.window < std::chrono::seconds::zero()) {
    return Error{prefix + "window must be >= 0"};
  }
  return std::unique_ptr<CompositeTrigger>(new CompositeTrigger(options, std::move(children)));
}

std::size_t CompositeTrigger::required() const {
  switch (options_.mode) {
    case CompositeMode::kAny:
      return 1;
    case CompositeMode::kAll:
      return children_.size();
    case CompositeMode::kAtLeast:
      return static_cast<std::size_t>(options_.at_least);
  }
  return children_.size();
}

void CompositeTrigger::on_labels(const LabeledBatch& batch) {
  for (auto& child : children_) child->on_labels(batch);
}

void CompositeTrigger::on_inferences(const InferenceBatch& batch) {
  for (auto& child : children_) child->on_inferences(batch);
}

void CompositeTrigger::on_metric(const MetricPoint& point) {
  for (auto& child : children_) child->on_metric(point);
}

void CompositeTrigger::on_model_promoted(const ModelContext& model) {
  for (auto& child : children_) child->on_model_promoted(model);
}

void CompositeTrigger::on_training_started(TimePoint at) {
  for (auto& child : children_) child->on_training_started(at);
  remembered_.clear();
}

bool CompositeTrigger::ready() const {
  std::size_t ready_children = 0;
  for (const auto& child : children_) ready_children += child->ready() ? 1 : 0;
  return ready_children >= required();
}

void CompositeTrigger::forget_expired(TimePoint now) {
  if (!options_.window) return;
  for (auto it = remembered_.begin(); it != remembered_.end();) {
    it = now - it->second.at > *options_.window ? remembered_.erase(it) : std::next(it);
  }
}

std::optional<Fire> CompositeTrigger::evaluate(TimePoint now) {
  for (auto& child : children_) {
    if (!child->ready()) continue;
    if (std::optional<Fire> fire = child->evaluate(now)) remembered_[child->name()] = *fire;
  }
  forget_expired(now);
  if (remembered_.size() < required()) return std::nullopt;
  return combine(now);
}

nlohmann::json CompositeTrigger::window_json() const {
  return options_.window ? nlohmann::json(options_.window->count()) : nlohmann::json();
}

Fire CompositeTrigger::combine(TimePoint now) {
  Fire fire;
  fire.trigger = options_.name;
  fire.kind = "composite";
  fire.at = now;
  std::string names;
  nlohmann::json children = nlohmann::json::array();
  for (const auto& [child_name, child_fire] : remembered_) {
    names += (names.empty() ? "" : ", ") + child_name;
    fire.reason += "; " + child_name + ": " + child_fire.reason;
    children.push_back(fire_to_json(child_fire));
  }
  std::string rule = options_.mode == CompositeMode::kAtLeast
                         ? "at least " + std::to_string(required()) + " of"
                         : std::string(to_string(options_.mode)) + " of";
  const std::string within = options_.window
                                 ? "within " + std::to_string(options_.window->count()) + " s"
                                 : "since the last training";
  fire.reason = rule + " " + std::to_string(children_.size()) + " children fired (" + names + ") " +
                within + fire.reason;
  fire.evidence = {{"mode", to_string(options_.mode)},   {"required", required()},
                   {"children_total", children_.size()}, {"window_seconds", window_json()},
                   {"fired", remembered_.size()},        {"children", std::move(children)}};
  remembered_.clear();
  return fire;
}

nlohmann::json CompositeTrigger::describe() const {
  nlohmann::json children = nlohmann::json::array();
  for (const auto& child : children_) {
    auto remembered = remembered_.find(child->name());
    children.push_back({{"name", child->name()},
                        {"kind", child->kind()},
                        {"ready", child->ready()},
                        {"fired_at", remembered == remembered_.end()
                                         ? nlohmann::json()
                                         : nlohmann::json(format_utc(remembered->second.at))},
                        {"state", child->describe()}});
  }
  return {{"mode", to_string(options_.mode)},
          {"required", required()},
          {"window_seconds", window_json()},
          {"children", std::move(children)}};
}

}  // namespace ctd::triggers

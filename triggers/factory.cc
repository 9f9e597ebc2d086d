#include "triggers/factory.h"

#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace ctd::triggers {
namespace {

// Result<unique_ptr<Derived>> as Result<unique_ptr<Trigger>>.
template <typename Derived>
Result<std::unique_ptr<Trigger>> as_trigger(Result<std::unique_ptr<Derived>> created) {
  if (!created) return created.error();
  return std::unique_ptr<Trigger>(std::move(created).value());
}

Result<std::unique_ptr<Trigger>> build_drift(const DriftTriggerOptions& options) {
  auto created = DriftTrigger::create(options);
  if (auto* problem = std::get_if<std::string>(&created)) return Error{std::move(*problem)};
  return std::unique_ptr<Trigger>(std::move(std::get<std::unique_ptr<DriftTrigger>>(created)));
}

Result<std::unique_ptr<Trigger>> build_composite(const CompositeSpec& spec,
                                                 const ScheduleAnchors& anchors) {
  std::vector<std::unique_ptr<Trigger>> children;
  for (const TriggerSpec& child : spec.children) {
    Result<std::unique_ptr<Trigger>> built = build_trigger(child, anchors);
    if (!built) return built.error();
    children.push_back(std::move(built).value());
  }
  return as_trigger(CompositeTrigger::create(spec.options, std::move(children)));
}

// Names must be unique across the whole tree, not only among siblings: fires, evidence and the
// schedule anchors refer to triggers by name. A manual trigger inside a composite could never
// be requested (Engine::request_manual reaches top-level ones only).
std::optional<Error> check_tree(const std::vector<TriggerSpec>& triggers, bool nested,
                                std::set<std::string>& names) {
  for (const TriggerSpec& trigger : triggers) {
    if (!names.insert(trigger.name()).second) {
      return Error{"two triggers are named \"" + trigger.name() + "\""};
    }
    if (nested && trigger.kind() == TriggerKind::kManual) {
      return Error{"manual trigger \"" + trigger.name() +
                   "\": a manual trigger cannot be part of a composite"};
    }
    if (const auto* composite = std::get_if<CompositeSpec>(&trigger.options)) {
      if (auto error = check_tree(composite->children, true, names)) return error;
    }
  }
  return std::nullopt;
}

}  // namespace

TimePoint ScheduleAnchors::anchor_of(const std::string& trigger) const {
  const auto found = last_fired.find(trigger);
  return found == last_fired.end() ? pipeline_start : found->second;
}

Result<std::unique_ptr<Trigger>> build_trigger(const TriggerSpec& spec,
                                               const ScheduleAnchors& anchors) {
  return std::visit(
      [&anchors](const auto& options) -> Result<std::unique_ptr<Trigger>> {
        using Options = std::decay_t<decltype(options)>;
        if constexpr (std::is_same_v<Options, ManualOptions>) {
          return as_trigger(ManualTrigger::create(options));
        } else if constexpr (std::is_same_v<Options, ScheduleOptions>) {
          return as_trigger(ScheduleTrigger::create(options, anchors.anchor_of(options.name)));
        } else if constexpr (std::is_same_v<Options, NewDataOptions>) {
          return as_trigger(NewDataTrigger::create(options));
        } else if constexpr (std::is_same_v<Options, DecayOptions>) {
          return as_trigger(DecayTrigger::create(options));
        } else if constexpr (std::is_same_v<Options, DriftTriggerOptions>) {
          return build_drift(options);
        } else {
          static_assert(std::is_same_v<Options, CompositeSpec>);
          return build_composite(options, anchors);
        }
      },
      spec.options);
}

Result<BuiltTriggers> build_triggers(const EngineSpec& spec, const ScheduleAnchors& anchors) {
  std::set<std::string> names;
  if (std::optional<Error> error = check_tree(spec.triggers, false, names)) return *error;
  BuiltTriggers built;
  built.limits = spec.limits;
  for (const TriggerSpec& trigger : spec.triggers) {
    Result<std::unique_ptr<Trigger>> one = build_trigger(trigger, anchors);
    if (!one) return one.error();
    built.triggers.push_back(std::move(one).value());
  }
  return built;
}

}  // namespace ctd::triggers

#include "triggers/engine_spec.h"

#include <type_traits>
#include <variant>

namespace ctd::triggers {

std::string_view to_string(TriggerKind kind) {
  switch (kind) {
    case TriggerKind::kManual:
      return "manual";
    case TriggerKind::kSchedule:
      return "schedule";
    case TriggerKind::kNewData:
      return "new_data";
    case TriggerKind::kDecay:
      return "decay";
    case TriggerKind::kDrift:
      return "drift";
    case TriggerKind::kComposite:
      return "composite";
  }
  return "unknown";
}

const std::string& TriggerSpec::name() const {
  return std::visit(
      [](const auto& options) -> const std::string& {
        if constexpr (std::is_same_v<std::decay_t<decltype(options)>, CompositeSpec>) {
          return options.options.name;
        } else {
          return options.name;
        }
      },
      options);
}

}  // namespace ctd::triggers

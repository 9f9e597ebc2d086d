// EngineSpec: a typed, immutable description of one pipeline's trigger engine — its rate limits
// and its configured triggers, each with its kind's own options (ManualOptions, ScheduleOptions,
// ..., the same structs the triggers' create() factories take). Plain data: config/ reads it
// from a pipeline's `triggers` section (config::PipelineOptions::triggers), and
// build_triggers() (factory.h) turns it into the triggers and limits an Engine is created with.
//
// A composite's children are defined inside it (CompositeSpec::children), so the description is
// a tree; the engine sees only the top-level triggers.
//
// Thread-safety: a value type; immutable once built, so safe to share.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "triggers/composite_trigger.h"
#include "triggers/decay_trigger.h"
#include "triggers/drift_trigger.h"
#include "triggers/engine.h"
#include "triggers/manual_trigger.h"
#include "triggers/new_data_trigger.h"
#include "triggers/schedule_trigger.h"

namespace ctd::triggers {

enum class TriggerKind { kManual, kSchedule, kNewData, kDecay, kDrift, kComposite };

// The kind's name as in Trigger::kind() and in configuration: "manual", "schedule", ...
std::string_view to_string(TriggerKind kind);

struct TriggerSpec;

// A composite trigger and the triggers it combines.
struct CompositeSpec {
  CompositeOptions options;
  std::vector<TriggerSpec> children;  // defined here only; at least one
};

// One configured trigger. Its name is the `name` of its options.
struct TriggerSpec {
  // The alternatives are in TriggerKind's order.
  using Options = std::variant<ManualOptions, ScheduleOptions, NewDataOptions, DecayOptions,
                               DriftTriggerOptions, CompositeSpec>;
  Options options;

  TriggerKind kind() const { return static_cast<TriggerKind>(options.index()); }
  const std::string& name() const;
};

// One pipeline's engine: no triggers (the default) means it never decides to train by itself.
struct EngineSpec {
  RateLimits limits;
  std::vector<TriggerSpec> triggers;
};

}  // namespace ctd::triggers

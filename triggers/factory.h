// build_triggers: turns a pipeline's EngineSpec (engine_spec.h) into the triggers and rate
// limits an Engine is created with, by each trigger kind's own create() factory. Pure: no I/O,
// no clock; time enters only through the schedule anchors.
//
//   ManualClock clock(...);
//   Result<BuiltTriggers> built = build_triggers(options.pipelines[0].triggers, anchors);
//   if (!built) return built.error();
//   auto engine = Engine::create(name, clock, built.value().limits,
//                                std::move(built.value().triggers), history);
//
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "triggers/engine.h"
#include "triggers/engine_spec.h"
#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

// Where each schedule trigger's slots start (ScheduleTrigger::create's anchor): when it last
// fired, as the daemon persisted it, or else the pipeline's start. Nested schedules are looked
// up by their own names too.
struct ScheduleAnchors {
  TimePoint pipeline_start{};
  std::map<std::string, TimePoint, std::less<>> last_fired;  // trigger name -> last fire

  TimePoint anchor_of(const std::string& trigger) const;
};

struct BuiltTriggers {
  std::vector<std::unique_ptr<Trigger>> triggers;  // top-level, in specification order
  RateLimits limits;
};

// The triggers of `spec`, or the first trigger's error, which names the trigger, the option
// and the bad value (as the kinds' create() word it).
Result<BuiltTriggers> build_triggers(const EngineSpec& spec, const ScheduleAnchors& anchors);

// One trigger (a composite with its children).
Result<std::unique_ptr<Trigger>> build_trigger(const TriggerSpec& spec,
                                               const ScheduleAnchors& anchors);

}  // namespace ctd::triggers

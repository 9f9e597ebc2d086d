// ScheduleTrigger: retrain on a wall-clock schedule, either a cron expression (UTC) or a fixed
// interval. One per configured schedule of a pipeline; owned by the pipeline's Engine.
//
// Slots: a cron schedule's slots are its matching minutes; an interval schedule's slots are
// anchor + k * interval, where the anchor is the time given to create() (the last fire the
// daemon persisted, or the pipeline's start when it never fired).
//
// Downtime: evaluate(now) with several slots in the past fires ONCE, reports how many slots
// were missed, and schedules the first slot strictly after `now`; it never replays the backlog.
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "triggers/cron.h"
#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

struct ScheduleOptions {
  std::string name;
  std::string cron;                  // a 5-field cron expression, or empty
  std::chrono::seconds interval{0};  // a fixed interval, or zero; exactly one of the two is set
};

class ScheduleTrigger final : public Trigger {
 public:
  // `anchor`: when this trigger last fired, or when the pipeline started if it never did.
  static Result<std::unique_ptr<ScheduleTrigger>> create(const ScheduleOptions& options,
                                                         TimePoint anchor);

  const std::string& name() const override { return options_.name; }
  std::string_view kind() const override { return "schedule"; }
  std::optional<Fire> evaluate(TimePoint now) override;
  nlohmann::json describe() const override;

  // The next slot at which the trigger fires.
  TimePoint next_due() const { return next_due_; }

 private:
  ScheduleTrigger(ScheduleOptions options, std::optional<CronExpression> cron, TimePoint anchor);
  // The first slot strictly after `t`.
  TimePoint slot_after(TimePoint t) const;
  // Slots in [next_due_, now] (capped at kMaxCountedSlots) and the latest of them.
  struct DueSlots {
    std::int64_t count = 0;
    bool capped = false;
    TimePoint latest{};
  };
  DueSlots due_slots(TimePoint now) const;
  std::string schedule_text() const;

  ScheduleOptions options_;
  std::optional<CronExpression> cron_;
  TimePoint anchor_;
  TimePoint next_due_;
  std::optional<TimePoint> last_fire_;
};

}  // namespace ctd::triggers

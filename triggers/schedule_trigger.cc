#include "triggers/schedule_trigger.h"

#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

// Counting missed cron slots after a long outage stops here (a minutely cron down for a week
// has ~10k); the evidence then says the count is a lower bound.
constexpr std::int64_t kMaxCountedSlots = 100000;

}  // namespace

Result<std::unique_ptr<ScheduleTrigger>> ScheduleTrigger::create(const ScheduleOptions& options,
                                                                 TimePoint anchor) {
  const std::string prefix = "schedule trigger \"" + options.name + "\": ";
  if (options.name.empty()) return Error{"schedule trigger: name is empty"};
  const bool has_cron = !options.cron.empty();
  const bool has_interval = options.interval != std::chrono::seconds::zero();
  if (has_cron == has_interval) {
    return Error{prefix + "set exactly one of cron and interval"};
  }
  if (has_interval && options.interval < std::chrono::seconds::zero()) {
    return Error{prefix + "interval must be positive, got " +
                 std::to_string(options.interval.count()) + " s"};
  }
  std::optional<CronExpression> cron;
  if (has_cron) {
    Result<CronExpression> parsed = CronExpression::parse(options.cron);
    if (!parsed) return Error{prefix + parsed.error().message};
    cron = std::move(parsed).value();
  }
  return std::unique_ptr<ScheduleTrigger>(new ScheduleTrigger(options, std::move(cron), anchor));
}

ScheduleTrigger::ScheduleTrigger(ScheduleOptions options, std::optional<CronExpression> cron,
                                 TimePoint anchor)
    : options_(std::move(options)), cron_(std::move(cron)), anchor_(anchor) {
  next_due_ = slot_after(anchor_);
}

TimePoint ScheduleTrigger::slot_after(TimePoint t) const {
  if (cron_) {
    // An accepted expression always has a next slot; the fallback only guards a bug.
    return cron_->next_after(t).value_or(TimePoint::max());
  }
  if (t < anchor_) return anchor_ + options_.interval;
  const auto periods = (t - anchor_) / options_.interval;  // whole periods elapsed
  return anchor_ + (periods + 1) * options_.interval;
}

ScheduleTrigger::DueSlots ScheduleTrigger::due_slots(TimePoint now) const {
  DueSlots due;
  if (!cron_) {
    const auto latest_periods = (now - anchor_) / options_.interval;
    due.latest = anchor_ + latest_periods * options_.interval;
    due.count = static_cast<std::int64_t>((due.latest - next_due_) / options_.interval) + 1;
    return due;
  }
  for (TimePoint slot = next_due_; slot <= now; slot = slot_after(slot)) {
    due.latest = slot;
    if (++due.count >= kMaxCountedSlots) {
      due.capped = true;
      break;
    }
  }
  return due;
}

std::string ScheduleTrigger::schedule_text() const {
  if (cron_) return "cron \"" + cron_->text() + "\"";
  return "every " + std::to_string(options_.interval.count()) + " s";
}

std::optional<Fire> ScheduleTrigger::evaluate(TimePoint now) {
  if (now < next_due_) return std::nullopt;
  const DueSlots due = due_slots(now);
  const std::int64_t missed = due.count - 1;
  Fire fire;
  fire.trigger = options_.name;
  fire.kind = "schedule";
  fire.at = now;
  fire.reason = schedule_text() + ": slot " + format_utc(due.latest) + " is due";
  if (missed > 0) {
    fire.reason += " (" + std::to_string(missed) + (due.capped ? "+" : "") +
                   " earlier slots missed, fired once)";
  }
  fire.evidence = {
      {"statistic", "due_slots"},
      {"value", due.count},
      {"window", {{"first_at", format_utc(next_due_)}, {"last_at", format_utc(due.latest)}}},
      {"schedule",
       cron_ ? nlohmann::json(cron_->text()) : nlohmann::json(options_.interval.count())},
      {"schedule_type", cron_ ? "cron" : "interval"},
      {"slot", format_utc(due.latest)},
      {"first_due_slot", format_utc(next_due_)},
      {"missed_slots", missed},
      {"missed_slots_capped", due.capped}};
  last_fire_ = now;
  next_due_ = slot_after(now);
  fire.evidence["next_due"] = format_utc(next_due_);
  return fire;
}

nlohmann::json ScheduleTrigger::describe() const {
  nlohmann::json state = {{"schedule", schedule_text()}, {"next_due", format_utc(next_due_)}};
  state["last_fire"] = last_fire_ ? nlohmann::json(format_utc(*last_fire_)) : nlohmann::json();
  return state;
}

}  // namespace ctd::triggers

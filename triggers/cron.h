// A standard 5-field cron expression ("minute hour day-of-month month day-of-week"), evaluated
// in UTC. Used by ScheduleTrigger; parsed once when a pipeline's configuration is loaded.
//
// Syntax: `*`, numbers, ranges `a-b`, lists `a,b,c`, steps `*/n`, `a-b/n` and `a/n` (from a to
// the field's maximum), month names JAN..DEC and weekday names SUN..SAT (case-insensitive),
// 0 and 7 both mean Sunday. The shorthands @yearly (@annually), @monthly, @weekly, @daily
// (@midnight) and @hourly are accepted.
//
// Day matching follows Vixie cron: when both day-of-month and day-of-week are restricted (their
// field does not start with `*`), a day matches if EITHER matches; otherwise both must match.
// So "0 0 13 * FRI" fires on every 13th and on every Friday, and "0 0 */2 * MON" fires on
// Mondays that are odd days of the month.
//
// Expressions that can never fire (e.g. "0 0 30 2 *", "0 0 31 4,6 *") are rejected at parse
// time; "0 0 29 2 *" is valid and fires in leap years only.
//
// Thread-safety: immutable after parse(); safe to share.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "triggers/result.h"
#include "triggers/trigger.h"

namespace ctd::triggers {

class CronExpression {
 public:
  // Parses `text`; the error message names the field and the offending token.
  static Result<CronExpression> parse(std::string_view text);

  // The first minute boundary strictly after `after` that matches, in UTC. Always set for an
  // expression that parse() accepted (every accepted expression fires within 8 years); nullopt
  // only guards against a bug.
  std::optional<TimePoint> next_after(TimePoint after) const;

  // Whether the minute containing `t` matches.
  bool matches(TimePoint t) const;

  const std::string& text() const { return text_; }

 private:
  CronExpression() = default;
  bool day_matches(unsigned day_of_month, unsigned month, unsigned weekday) const;
  // Whether some day in some accepted month can match (rejects "30 2").
  bool can_ever_fire() const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bits 1..31
  std::bitset<13> months_;         // bits 1..12
  std::bitset<7> weekdays_;        // bit 0 = Sunday
  bool day_of_month_restricted_ = false;
  bool weekday_restricted_ = false;
};

}  // namespace ctd::triggers

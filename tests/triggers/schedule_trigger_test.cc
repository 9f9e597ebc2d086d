#include "triggers/schedule_trigger.h"

#include <gtest/gtest.h>

#include "tests/triggers/test_time.h"
#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::utc;

std::unique_ptr<ScheduleTrigger> make(ScheduleOptions options, TimePoint anchor) {
  auto created = ScheduleTrigger::create(options, anchor);
  EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
  return std::move(created).value();
}

TEST(ScheduleTrigger, CronFiresAtItsSlotOnce) {
  auto trigger = make({.name = "nightly", .cron = "0 2 * * *"}, utc(2026, 11, 22));
  EXPECT_EQ(format_utc(trigger->next_due()), "2026-11-22T02:00:00Z");
  EXPECT_FALSE(trigger->evaluate(utc(2026, 11, 22, 1, 59, 59)));
  std::optional<Fire> fire = trigger->evaluate(utc(2026, 11, 22, 2, 0, 5));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->trigger, "nightly");
  EXPECT_EQ(fire->kind, "schedule");
  EXPECT_EQ(fire->evidence["slot"], "2026-11-22T02:00:00Z");
  EXPECT_EQ(fire->evidence["missed_slots"], 0);
  EXPECT_EQ(fire->evidence["next_due"], "2026-11-23T02:00:00Z");
  EXPECT_EQ(fire->at, utc(2026, 11, 22, 2, 0, 5));
  // The same slot does not fire twice.
  EXPECT_FALSE(trigger->evaluate(utc(2026, 11, 22, 2, 0, 6)));
  EXPECT_FALSE(trigger->evaluate(utc(2026, 11, 23, 1, 59)));
  EXPECT_TRUE(trigger->evaluate(utc(2026, 11, 23, 2, 0)));
}

TEST(ScheduleTrigger, CronAfterDowntimeFiresOnceAndReportsMissedSlots) {
  auto trigger = make({.name = "nightly", .cron = "0 2 * * *"}, utc(2026, 11, 22));
  // Down from before the 22nd's slot until the 25th, 03:00: slots 22, 23, 24, 25 passed.
  std::optional<Fire> fire = trigger->evaluate(utc(2026, 11, 25, 3, 0));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["missed_slots"], 3);
  EXPECT_EQ(fire->evidence["value"], 4);
  EXPECT_EQ(fire->evidence["window"]["first_at"], "2026-11-22T02:00:00Z");
  EXPECT_EQ(fire->evidence["window"]["last_at"], "2026-11-25T02:00:00Z");
  EXPECT_EQ(fire->evidence["first_due_slot"], "2026-11-22T02:00:00Z");
  EXPECT_EQ(fire->evidence["slot"], "2026-11-25T02:00:00Z");
  EXPECT_EQ(fire->evidence["next_due"], "2026-11-26T02:00:00Z");
  EXPECT_NE(fire->reason.find("3 earlier slots missed, fired once"), std::string::npos)
      << fire->reason;
  EXPECT_FALSE(trigger->evaluate(utc(2026, 11, 25, 3, 0)));
  EXPECT_FALSE(trigger->evaluate(utc(2026, 11, 26, 1, 0)));
}

TEST(ScheduleTrigger, MinutelyCronAfterLongOutageCapsTheCount) {
  auto trigger = make({.name = "often", .cron = "* * * * *"}, utc(2026, 1, 1));
  std::optional<Fire> fire = trigger->evaluate(utc(2026, 11, 1));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["missed_slots_capped"], true);
  EXPECT_EQ(fire->evidence["next_due"], "2026-11-01T00:01:00Z");
}

TEST(ScheduleTrigger, IntervalSlotsStayOnTheAnchorGrid) {
  const TimePoint anchor = utc(2026, 11, 22, 0, 0, 0);
  auto trigger = make({.name = "six-hourly", .cron = "", .interval = hours(6)}, anchor);
  EXPECT_FALSE(trigger->evaluate(anchor + hours(6) - seconds(1)));
  std::optional<Fire> fire = trigger->evaluate(anchor + hours(6) + seconds(10));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["schedule_type"], "interval");
  EXPECT_EQ(fire->evidence["slot"], "2026-11-22T06:00:00Z");
  EXPECT_EQ(fire->evidence["next_due"], "2026-11-22T12:00:00Z");
  EXPECT_FALSE(trigger->evaluate(anchor + hours(7)));
  // Down from 07:00 until the next day 06:30: slots 12:00, 18:00, 00:00, 06:00 passed.
  fire = trigger->evaluate(anchor + hours(30) + std::chrono::minutes(30));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["missed_slots"], 3);
  EXPECT_EQ(fire->evidence["slot"], "2026-11-23T06:00:00Z");
  EXPECT_EQ(fire->evidence["next_due"], "2026-11-23T12:00:00Z");
  EXPECT_EQ(trigger->describe()["next_due"], "2026-11-23T12:00:00Z");
}

TEST(ScheduleTrigger, InvalidOptionsAreRejectedWithTheReason) {
  const TimePoint anchor = utc(2026, 11, 22);
  auto both =
      ScheduleTrigger::create({.name = "s", .cron = "* * * * *", .interval = hours(1)}, anchor);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().message, "schedule trigger \"s\": set exactly one of cron and interval");
  EXPECT_FALSE(
      ScheduleTrigger::create({.name = "s", .cron = "", .interval = seconds(0)}, anchor).ok());
  EXPECT_FALSE(
      ScheduleTrigger::create({.name = "", .cron = "", .interval = hours(1)}, anchor).ok());
  auto negative =
      ScheduleTrigger::create({.name = "s", .cron = "", .interval = seconds(-5)}, anchor);
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("interval must be positive"), std::string::npos);
  auto bad_cron = ScheduleTrigger::create({.name = "s", .cron = "0 25 * * *"}, anchor);
  ASSERT_FALSE(bad_cron.ok());
  EXPECT_EQ(bad_cron.error().message,
            "schedule trigger \"s\": cron \"0 25 * * *\": hour field \"25\": value 25 is out "
            "of range 0-23");
}

}  // namespace
}  // namespace ctd::triggers

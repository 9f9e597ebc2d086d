#include "triggers/cron.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "tests/triggers/test_time.h"
#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

using testing::utc;

CronExpression parse_ok(const std::string& text) {
  Result<CronExpression> parsed = CronExpression::parse(text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return std::move(parsed).value();
}

std::string next(const std::string& text, TimePoint after) {
  std::optional<TimePoint> t = parse_ok(text).next_after(after);
  return t ? format_utc(*t) : "never";
}

TEST(Cron, StepsFireOnTheirMinutesStrictlyAfter) {
  EXPECT_EQ(next("*/15 * * * *", utc(2026, 11, 22, 10, 7)), "2026-11-22T10:15:00Z");
  EXPECT_EQ(next("*/15 * * * *", utc(2026, 11, 22, 10, 15)), "2026-11-22T10:30:00Z");
  EXPECT_EQ(next("*/15 * * * *", utc(2026, 11, 22, 10, 14, 59)), "2026-11-22T10:15:00Z");
  EXPECT_EQ(next("*/15 * * * *", utc(2026, 11, 22, 23, 50)), "2026-11-23T00:00:00Z");
  EXPECT_EQ(next("0-30/10 * * * *", utc(2026, 11, 22, 10, 20)), "2026-11-22T10:30:00Z");
  EXPECT_EQ(next("0-30/10 * * * *", utc(2026, 11, 22, 10, 30)), "2026-11-22T11:00:00Z");
  // `a/n` runs from a to the field's maximum.
  EXPECT_EQ(next("5/20 * * * *", utc(2026, 11, 22, 10, 26)), "2026-11-22T10:45:00Z");
  EXPECT_EQ(next("5/20 * * * *", utc(2026, 11, 22, 10, 45)), "2026-11-22T11:05:00Z");
}

TEST(Cron, ListsRangesAndNames) {
  EXPECT_EQ(next("0 9,17 * * *", utc(2026, 11, 22, 9, 0)), "2026-11-22T17:00:00Z");
  // 2026-11-22 is a Sunday: weekdays 9:00 resume on Monday the 23rd.
  EXPECT_EQ(next("0 9 * * MON-FRI", utc(2026, 11, 21, 10, 0)), "2026-11-23T09:00:00Z");
  EXPECT_EQ(next("0 9 * * mon-fri", utc(2026, 11, 21, 10, 0)), "2026-11-23T09:00:00Z");
  EXPECT_EQ(next("30 6 1 JAN,jul *", utc(2026, 11, 22)), "2027-01-01T06:30:00Z");
  EXPECT_EQ(next("30 6 1 jan,JUL *", utc(2027, 1, 1, 6, 30)), "2027-07-01T06:30:00Z");
  EXPECT_EQ(next("0 0 1 JAN-DEC/3 *", utc(2027, 1, 1)), "2027-04-01T00:00:00Z");
  EXPECT_EQ(next("0 0 1 JAN-DEC/3 *", utc(2027, 4, 1)), "2027-07-01T00:00:00Z");
  // Monday-Friday every other day: Mon, Wed, Fri. 2026-11-25 is a Wednesday.
  EXPECT_EQ(next("0 0 * * MON-FRI/2", utc(2026, 11, 23)), "2026-11-25T00:00:00Z");
  EXPECT_EQ(next("0 0 * * MON-FRI/2", utc(2026, 11, 27)), "2026-11-30T00:00:00Z");
}

TEST(Cron, SundayIsZeroOrSeven) {
  const TimePoint monday = utc(2026, 11, 23);
  EXPECT_EQ(next("0 0 * * 0", monday), "2026-11-29T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 7", monday), "2026-11-29T00:00:00Z");
  EXPECT_EQ(next("0 0 * * SUN", monday), "2026-11-29T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 5-7", monday), "2026-11-27T00:00:00Z");
}

TEST(Cron, MonthAndYearEdges) {
  EXPECT_EQ(next("0 0 1 * *", utc(2026, 1, 31, 12)), "2026-02-01T00:00:00Z");
  // The next 31st after January's is in March: February and April have none.
  EXPECT_EQ(next("0 0 31 * *", utc(2026, 1, 31)), "2026-03-31T00:00:00Z");
  EXPECT_EQ(next("0 0 31 * *", utc(2026, 3, 31)), "2026-05-31T00:00:00Z");
  EXPECT_EQ(next("59 23 31 12 *", utc(2026, 12, 31, 23, 59)), "2027-12-31T23:59:00Z");
  EXPECT_EQ(next("* * * * *", utc(2026, 12, 31, 23, 59, 30)), "2027-01-01T00:00:00Z");
  EXPECT_EQ(next("0 0 28-31 2 *", utc(2027, 2, 28)), "2028-02-28T00:00:00Z");
}

TEST(Cron, LeapDayFiresOnlyInLeapYears) {
  EXPECT_EQ(next("0 12 29 2 *", utc(2025, 3, 1)), "2028-02-29T12:00:00Z");
  EXPECT_EQ(next("0 12 29 2 *", utc(2028, 2, 29, 12)), "2032-02-29T12:00:00Z");
  // 2100 is not a leap year (divisible by 100, not by 400); 2000 was.
  EXPECT_EQ(next("0 12 29 2 *", utc(2096, 3, 1)), "2104-02-29T12:00:00Z");
  EXPECT_EQ(next("0 12 29 2 *", utc(1999, 1, 1)), "2000-02-29T12:00:00Z");
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // Vixie rule: the 13th OR any Friday. In Nov/Dec 2026: Fridays 6, 13, 20, 27, Dec 4, 11;
  // Dec 13 is a Sunday and fires for being the 13th.
  const std::string expression = "0 0 13 * FRI";
  std::vector<std::string> fired;
  TimePoint t = utc(2026, 11, 1);
  CronExpression cron = parse_ok(expression);
  for (int i = 0; i < 7; ++i) {
    t = cron.next_after(t).value();
    fired.push_back(format_utc(t).substr(0, 10));
  }
  EXPECT_EQ(fired, (std::vector<std::string>{"2026-11-06", "2026-11-13", "2026-11-20", "2026-11-27",
                                             "2026-12-04", "2026-12-11", "2026-12-13"}));
}

TEST(Cron, DayOfMonthAndDayOfWeekWhenOneStartsWithStar) {
  // "*/2" starts with '*', so both must hold: Mondays that are odd days of the month.
  CronExpression cron = parse_ok("0 0 */2 * MON");
  TimePoint t = cron.next_after(utc(2026, 11, 1)).value();
  EXPECT_EQ(format_utc(t), "2026-11-09T00:00:00Z");
  t = cron.next_after(t).value();
  EXPECT_EQ(format_utc(t), "2026-11-23T00:00:00Z");
  t = cron.next_after(t).value();
  EXPECT_EQ(format_utc(t), "2026-12-07T00:00:00Z");
}

TEST(Cron, Shorthands) {
  EXPECT_EQ(next("@daily", utc(2026, 11, 22, 6)), "2026-11-23T00:00:00Z");
  EXPECT_EQ(next("@hourly", utc(2026, 11, 22, 6, 1)), "2026-11-22T07:00:00Z");
  EXPECT_EQ(next("@weekly", utc(2026, 11, 22, 6)), "2026-11-29T00:00:00Z");
  EXPECT_EQ(next("@monthly", utc(2026, 11, 22)), "2026-12-01T00:00:00Z");
  EXPECT_EQ(next("@YEARLY", utc(2026, 11, 22)), "2027-01-01T00:00:00Z");
}

// next_after agrees with a minute-by-minute scan using matches() over 400 days.
TEST(Cron, NextAfterAgreesWithMinuteScan) {
  for (const char* text : {"*/7 3-5 * * *", "15 10 13 * FRI", "0 0 */3 2-3 MON,WED",
                           "0 22 29-31 * *", "10 0 1,15 * 6"}) {
    CronExpression cron = parse_ok(text);
    TimePoint t = utc(2027, 12, 20, 11, 11);
    const TimePoint end = t + std::chrono::days(400);
    int checked = 0;
    while (t < end) {
      const TimePoint expected_next = [&] {
        TimePoint scan = std::chrono::floor<std::chrono::minutes>(t) + std::chrono::minutes(1);
        while (!cron.matches(scan)) scan += std::chrono::minutes(1);
        return scan;
      }();
      const TimePoint got = cron.next_after(t).value();
      ASSERT_EQ(format_utc(got), format_utc(expected_next)) << text << " after " << format_utc(t);
      t = got;
      ++checked;
    }
    EXPECT_GT(checked, 3) << text;
  }
}

// Seeded random expressions: next_after agrees with the minute scan (bounded to 3 years; an
// expression whose next slot lies beyond must not report one inside).
TEST(Cron, RandomExpressionsAgreeWithMinuteScan) {
  std::mt19937 rng(2026);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
  auto field = [&](int low, int high) -> std::string {
    const int a = pick(low, high);
    const int b = pick(a, high);
    switch (pick(0, 5)) {
      case 0:
        return "*";
      case 1:
        return std::to_string(a);
      case 2:
        return std::to_string(a) + "-" + std::to_string(b);
      case 3:
        return "*/" + std::to_string(pick(1, high - low + 1));
      case 4:
        return std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(pick(1, 5));
      default:
        return std::to_string(a) + "," + std::to_string(b);
    }
  };
  int compared = 0;
  for (int i = 0; i < 60; ++i) {
    const std::string text = field(0, 59) + " " + field(0, 23) + " " + field(1, 31) + " " +
                             field(1, 12) + " " + field(0, 7);
    Result<CronExpression> parsed = CronExpression::parse(text);
    if (!parsed.ok()) {
      EXPECT_NE(parsed.error().message.find("never fires"), std::string::npos) << text;
      continue;
    }
    const CronExpression& cron = parsed.value();
    TimePoint t = utc(2027, 1, 1) + std::chrono::minutes(pick(0, 525'600));
    for (int step = 0; step < 3; ++step) {
      const TimePoint limit = t + std::chrono::days(3 * 366);
      TimePoint scan = std::chrono::floor<std::chrono::minutes>(t) + std::chrono::minutes(1);
      while (scan < limit && !cron.matches(scan)) scan += std::chrono::minutes(1);
      const TimePoint got = cron.next_after(t).value();
      if (scan >= limit) {
        EXPECT_GE(got, limit) << text;
        break;
      }
      ASSERT_EQ(format_utc(got), format_utc(scan)) << text << " after " << format_utc(t);
      t = got;
      ++compared;
    }
  }
  EXPECT_GT(compared, 100);
}

TimePoint parse_utc(const std::string& text) {
  int year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::sscanf(text.c_str(), "%d-%u-%uT%u:%u:%uZ", &year, &month, &day, &hour, &minute, &second);
  return utc(year, month, day, hour, minute, second);
}

// Next fire times computed by an independent Python oracle (datetime calendar):
// tests/triggers/fixtures/cron_oracle.py wrote cron_next_fire.json.
TEST(Cron, AgreesWithThePythonOracle) {
  std::ifstream file(std::string(CTD_SOURCE_DIR) + "/tests/triggers/fixtures/cron_next_fire.json");
  ASSERT_TRUE(file) << "missing fixture";
  const nlohmann::json fixture = nlohmann::json::parse(file);
  ASSERT_GE(fixture["cases"].size(), 50u);
  for (const nlohmann::json& c : fixture["cases"]) {
    const std::string expression = c["expression"];
    Result<CronExpression> parsed = CronExpression::parse(expression);
    ASSERT_TRUE(parsed.ok()) << expression << ": " << parsed.error().message;
    TimePoint t = parse_utc(c["after"]);
    for (const nlohmann::json& expected : c["next"]) {
      t = parsed.value().next_after(t).value();
      ASSERT_EQ(format_utc(t), expected.get<std::string>()) << expression;
    }
  }
}

TEST(Cron, MatchesIgnoresSeconds) {
  CronExpression cron = parse_ok("30 6 * * *");
  EXPECT_TRUE(cron.matches(utc(2026, 11, 22, 6, 30, 59)));
  EXPECT_FALSE(cron.matches(utc(2026, 11, 22, 6, 31)));
}

struct InvalidCase {
  const char* text;
  const char* expected_fragment;
};

TEST(Cron, InvalidExpressionsSayWhatAndWhere) {
  const InvalidCase cases[] = {
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"* * * * * *", "got 6"},
      {"", "got 0"},
      {"60 * * * *", "minute field \"60\": value 60 is out of range 0-59"},
      {"* 24 * * *", "hour field \"24\": value 24 is out of range 0-23"},
      {"0 0 0 * *", "day-of-month field \"0\": value 0 is out of range 1-31"},
      {"0 0 * 13 *", "month field \"13\": value 13 is out of range 1-12"},
      {"0 0 * * 8", "day-of-week field \"8\": value 8 is out of range 0-7"},
      {"*/0 * * * *", "minute field \"*/0\": step \"0\" must be a number from 1 to 60"},
      {"*/61 * * * *", "step \"61\" must be a number from 1 to 60"},
      {"*/x * * * *", "step \"x\""},
      {"*/2/3 * * * *", "more than one '/'"},
      {"1, * * * *", "minute field \"1,\": empty list item"},
      {",5 * * * *", "empty list item"},
      {"1- * * * *", "\"\" is not a number"},
      {"5-1 * * * *", "range \"5-1\" is reversed"},
      {"1-2-3 * * * *", "\"1-2-3\" is not a range"},
      {"0 0 * FOO *", "month field \"FOO\": \"FOO\" is not a number or a name"},
      {"0 0 * * MONDAY", "\"MONDAY\" is not a number or a name"},
      {"-1 * * * *", "\"\" is not a number"},
      {"+5 * * * *", "\"+5\" is not a number"},
      {"@fortnightly", "unknown shorthand \"@fortnightly\""},
      {"0 0 30 2 *", "never fires: no month in \"2\" has a day in \"30\""},
      {"0 0 31 4,6,9,11 *", "never fires"},
      {"0 0 30-31 FEB *", "never fires"},
  };
  for (const InvalidCase& c : cases) {
    Result<CronExpression> parsed = CronExpression::parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_NE(parsed.error().message.find(c.expected_fragment), std::string::npos)
        << c.text << " -> " << parsed.error().message;
    EXPECT_EQ(parsed.error().message.rfind("cron \"" + std::string(c.text) + "\": ", 0), 0u)
        << parsed.error().message;
  }
}

TEST(Cron, FebruaryThirtiethWithARestrictedWeekdayIsValid) {
  // OR rule: fires every Monday even though Feb 30 never exists.
  EXPECT_EQ(next("0 0 30 2 MON", utc(2026, 11, 22)), "2027-02-01T00:00:00Z");
}

}  // namespace
}  // namespace ctd::triggers

// Test helpers: UTC time points from civil dates, so expectations read like calendars.
#pragma once

#include <chrono>

#include "triggers/trigger.h"

namespace ctd::triggers::testing {

inline TimePoint utc(int year, unsigned month, unsigned day, unsigned hour = 0, unsigned minute = 0,
                     unsigned second = 0) {
  using namespace std::chrono;
  const sys_days date{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}};
  return TimePoint{date} + hours(hour) + minutes(minute) + seconds(second);
}

}  // namespace ctd::triggers::testing

#include "triggers/time_format.h"

#include <chrono>
#include <cstdio>

namespace ctd::triggers {

std::string format_utc(TimePoint t) {
  using namespace std::chrono;
  const sys_days day = floor<days>(t);
  const year_month_day date{day};
  const auto since_midnight = floor<milliseconds>(t - day);
  const hh_mm_ss<milliseconds> clock_time{since_midnight};
  char text[40];
  const long millis = static_cast<long>(clock_time.subseconds().count());
  if (millis == 0) {
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", int{date.year()},
                  unsigned{date.month()}, unsigned{date.day()},
                  static_cast<long>(clock_time.hours().count()),
                  static_cast<long>(clock_time.minutes().count()),
                  static_cast<long>(clock_time.seconds().count()));
  } else {
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", int{date.year()},
                  unsigned{date.month()}, unsigned{date.day()},
                  static_cast<long>(clock_time.hours().count()),
                  static_cast<long>(clock_time.minutes().count()),
                  static_cast<long>(clock_time.seconds().count()), millis);
  }
  return text;
}

}  // namespace ctd::triggers

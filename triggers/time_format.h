// UTC timestamps for evidence and describe() output: RFC 3339 strings with a "Z" suffix,
// computed with the C++20 civil calendar (no localtime, no time zone database).
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "triggers/trigger.h"

namespace ctd::triggers {

// "2026-11-22T06:30:00Z"; sub-second parts are written as milliseconds when non-zero
// ("2026-11-22T06:30:00.250Z").
std::string format_utc(TimePoint t);

}  // namespace ctd::triggers

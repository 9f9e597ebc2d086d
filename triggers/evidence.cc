#include "triggers/evidence.h"

#include <cstdio>

#include "triggers/time_format.h"

namespace ctd::triggers {

nlohmann::json fire_to_json(const Fire& fire) {
  return {{"trigger", fire.trigger},
          {"kind", fire.kind},
          {"reason", fire.reason},
          {"at", format_utc(fire.at)},
          {"evidence", fire.evidence}};
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

}  // namespace ctd::triggers

#include "triggers/evidence.h"

#include "triggers/time_format.h"

namespace ctd::triggers {

nlohmann::json fire_to_json(const Fire& fire) {
  return {{"trigger", fire.trigger},
          {"kind", fire.kind},
          {"reason", fire.reason},
          {"at", format_utc(fire.at)},
          {"evidence", fire.evidence}};
}

}  // namespace ctd::triggers

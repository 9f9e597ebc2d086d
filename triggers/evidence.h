// JSON forms of what the engine reports (fires and their evidence), shared by the composite
// trigger and the engine's decisions, so the API and the trigger-event table see one shape.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "triggers/trigger.h"

namespace ctd::triggers {

// {"trigger", "kind", "reason", "at" (RFC 3339 UTC), "evidence"}.
nlohmann::json fire_to_json(const Fire& fire);

// A number for a reason line: up to 6 significant digits ("0.3", "0.0456", "1.5e-05").
std::string format_number(double value);

}  // namespace ctd::triggers

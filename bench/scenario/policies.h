// The scenario benchmark's streams and retraining policies, as data: each stream a seeded
// generator spec with its drift starts, each policy an EngineSpec of the real triggers
// (schedule, new_data, decay, drift, composite) with its rate limits. Options are chosen once,
// up front, from the triggers' documentation (triggers/README.md, docs/drift.md), and printed
// with the results.
//
// Thread-safety: pure functions returning values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/scenario/runner.h"
#include "generators/drift_stream.h"

namespace ctd::bench {

struct ScenarioStream {
  std::string name;
  std::string description;
  generators::StreamSpec spec;
  std::int64_t samples = 0;
  std::vector<std::int64_t> drift_starts;  // first affected sample of each drift
  std::vector<std::string> drift_names;    // e.g. "abrupt 8->7"
  bool stable = false;                     // no drift: count false fires, no retraining
};

struct ScenarioSizes {
  std::int64_t drift_samples = 100'000;  // per drifting stream
  std::int64_t stable_samples = 1'000'000;
  std::uint64_t seed_offset = 0;  // added to every stream's seed (11, 12, 13 by default)
};

std::vector<ScenarioStream> scenario_streams(const ScenarioSizes& sizes);

// Every policy for a stream with this layout (the drift trigger watches all its features).
std::vector<PolicySpec> scenario_policies(const triggers::FeatureLayout& layout);

}  // namespace ctd::bench

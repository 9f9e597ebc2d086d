// Private to config/: the reader of each pipeline's `triggers` section — its rate limits and
// its triggers (manual, schedule, new_data, decay, drift, composite), into the
// triggers::EngineSpec that triggers::build_triggers (triggers/factory.h) builds an engine's
// triggers from. It reports into the MapReader's ErrorSink like every other section reader (see
// config/reader.h). Not part of the module's API; include config/loader.h instead.
//
// Thread-safety: pure functions over one parse's readers.
#pragma once

#include <vector>

#include "config/options.h"
#include "config/reader.h"
#include "triggers/engine_spec.h"

namespace ctd::config::internal {

// The key "triggers" of a pipeline map; no triggers and no rate limits when it is absent.
// `features` and `topics` are the pipeline's, read already: a drift trigger watches named
// features (numeric metrics only on numeric ones, categorical metrics only on categorical ones)
// and its source defaults to the inferences stream when the pipeline has one. Cron expressions
// are checked by the triggers' own parser (triggers/cron.h), whose message is reported at the
// `cron` key.
triggers::EngineSpec read_triggers(const MapReader& pipeline,
                                   const std::vector<FeatureSpec>& features,
                                   const TopicsSpec& topics);

}  // namespace ctd::config::internal

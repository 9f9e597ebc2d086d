// One policy's walk over one stream, the core of the scenario benchmark. The stream is read in
// batches; each batch is scored prequentially by the model in production (ctd_scoring's
// PrequentialScorer, LibTorch behind its pimpl), then given to the policy's trigger Engine with
// its per-sample errors, as the daemon's pipeline manager does. A start decision trains a new
// model with the real ctd-train on the newest `train_window` samples (Trainer), swaps it in and
// reports training_finished with the new model's ModelContext (validation metrics as the
// baseline, the training rows as the drift reference). Time is a ManualClock at one sample a
// second: sample i arrives at start + i s, so rate limits and schedules are in samples and the
// walk is deterministic whatever the machine's speed. Training takes no stream time: the new
// model scores the very next batch.
//
// With `retrain` off (the stable stream) the engine's decisions are counted and answered by
// training_finished without a new model, so the initial model stays in production; so is a
// start at the stream's very end, where a new model would have nothing left to score.
//
// Optionally each batch's accuracy is also sent as a MetricPoint ("accuracy", count = rows,
// the production version), as a serving system publishing online accuracy would, for decay
// triggers on a metric signal.
//
// Thread-safety: none; one walk per thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/scenario/metrics.h"
#include "bench/scenario/stream_data.h"
#include "bench/scenario/trainer.h"
#include "triggers/engine_spec.h"

namespace ctd::bench {

struct PolicySpec {
  std::string name;
  std::string description;      // one line for the report
  triggers::EngineSpec engine;  // no triggers: never retrains
  bool periodic = false;        // a fixed schedule (for "best periodic")
  bool triggered = false;       // decided by decay or drift (judged by the targets)
};

struct WalkOptions {
  std::int64_t train_window = 5000;  // rows of every training run, the newest ones
  std::int64_t batch = 500;          // samples per batch
  bool retrain = true;
  bool accuracy_metric = true;  // also send each batch's accuracy as a MetricPoint
};

struct WalkResult {
  Prequential prequential;
  std::vector<std::int64_t> training_starts;  // stream position (next sample) of each start
  std::int64_t fires = 0;                     // trigger fires the starts answered
  std::vector<std::string> reasons;           // the first fires' reasons, for the report
  double seconds = 0;                         // wall time of the walk, training included
};

// Throws std::runtime_error when the policy's triggers do not build or a training fails.
WalkResult walk(const StreamData& data, const PolicySpec& policy, Trainer& trainer,
                const WalkOptions& options);

}  // namespace ctd::bench

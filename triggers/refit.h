// Refit: the follow-up fire of a change-detecting trigger (decay, drift), shared by both.
//
// A training that starts right after a detection trains on a window that still holds mostly
// old-concept data; its model then becomes the detectors' new reference, so they rarely fire
// again. With `after_samples` > 0, a trigger whose fire a training answers (it fired since the
// previous training start, and the engine took that fire) arms a countdown at that training's
// start; after `after_samples` new labeled samples it fires once more (a "refit" fire), so
// that training sees only data from after the change when `after_samples` is the training
// window. A refit fire arms no further refit (no chains); a newer detection answered by a
// later training re-arms the countdown from that training's start.
//
// A refit fire's evidence has `"refit": true`, `after_samples`, and `refit_of` (the detection's
// time, reason and, where the detection judged one, the model version as `model_version`) but
// no top-level `model_version`: it is meant for whatever model is in production when it fires,
// so the engine's superseded rule (engine.h) never drops it.
//
// Thread-safety: none (see trigger.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "triggers/trigger.h"

namespace ctd::triggers {

class Refit {
 public:
  explicit Refit(std::int64_t after_samples) : after_samples_(after_samples) {}

  bool enabled() const { return after_samples_ > 0; }
  std::int64_t after_samples() const { return after_samples_; }

  // The owner's detection `fire` was handed to the engine (not a refit fire).
  void fired(const Fire& fire);
  // A promotion of `version`: a taken fire still held by the engine that judged an older model
  // is dropped there (superseded), so no training answers it; mirror that.
  void promoted(std::int64_t version);
  // A training start: arms the countdown when the owner fired since the previous start.
  void training_started(TimePoint at);
  // New labeled samples: count them down.
  void labels(const LabeledBatch& batch);

  bool armed() const { return remaining_.has_value(); }
  bool pending() const { return pending_.has_value(); }
  // The pending refit fire, once, named after the owner.
  std::optional<Fire> take(const std::string& trigger, std::string_view kind, TimePoint now);
  // A new detection replaces a pending refit (its training answers both).
  void drop_pending();
  std::int64_t fires() const { return fires_; }

  nlohmann::json describe() const;

 private:
  struct Source {
    TimePoint detected_at{};
    std::string reason;
    std::optional<std::int64_t> model_version;  // the model the detection judged, if any
  };

  std::int64_t after_samples_;
  std::optional<Source> fired_;  // a detection taken since the last training start
  std::optional<Source> armed_;  // the detection the countdown follows
  TimePoint training_started_at_{};
  std::optional<std::int64_t> remaining_;
  std::optional<Fire> pending_;
  std::int64_t fires_ = 0;
};

}  // namespace ctd::triggers

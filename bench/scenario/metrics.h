// The scenario benchmark's figures, computed from one policy's walk over a stream: mean
// prequential accuracy, and per drift the accuracy before it, the worst window after it, how
// many samples it took to come back within a tolerance of the level before, the settled
// accuracy before the next drift, and the detection delay (samples from the drift's start to
// the policy's first training start after it). Pure functions on plain data, so that
// tests/bench/scenario_metrics_test.cc checks them on hand-made inputs.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ctd::bench {

struct MetricOptions {
  std::int64_t window = 1000;       // tumbling accuracy windows, aligned to each drift's start
  std::int64_t pre_window = 5000;   // samples before a drift's start for its "before" level
  std::int64_t post_window = 5000;  // last samples before the next drift (or the end): settled
  double tolerance = 0.01;          // recovered: a window within this of the "before" level
};

// The prequential record of one walk: correct[i] is 1 when the model in production scored
// sample first + i right. Samples before `first` (the initial training window) are not scored.
struct Prequential {
  std::int64_t first = 0;
  std::vector<std::uint8_t> correct;

  std::int64_t end() const { return first + static_cast<std::int64_t>(correct.size()); }
  // Accuracy over samples [from, to) clipped to the scored range; nullopt when empty.
  std::optional<double> accuracy(std::int64_t from, std::int64_t to) const;
};

struct DriftOutcome {
  std::int64_t start = 0;        // the drift's first affected sample
  std::optional<double> before;  // accuracy on [start - pre_window, start)
  std::optional<double> worst;   // lowest window accuracy in [start, segment end)
  std::int64_t worst_at = -1;    // first sample of that window
  // Samples from `start` to the end of the first window, at or after the worst one, whose
  // accuracy is >= before - tolerance; 0 when no window fell below that level; nullopt when
  // none came back before the segment ended.
  std::optional<std::int64_t> recovered_after;
  bool dropped = false;           // some window fell below before - tolerance
  std::optional<double> settled;  // accuracy over the segment's last post_window samples
  std::optional<std::int64_t> detection_delay;  // first start in [start, segment end) - start
};

// Per drift: `starts` ascending; segment i ends at starts[i + 1] or at prequential.end().
// `training_starts`: the sample positions (stream index of the next sample to be scored) at
// which the policy started a training, ascending.
std::vector<DriftOutcome> drift_outcomes(const Prequential& prequential,
                                         std::span<const std::int64_t> starts,
                                         std::span<const std::int64_t> training_starts,
                                         const MetricOptions& options);

// The first training start in [from, to), as a delay from `from`.
std::optional<std::int64_t> detection_delay(std::span<const std::int64_t> training_starts,
                                            std::int64_t from, std::int64_t to);

// Accuracy of consecutive windows of `window` samples from `from` up to `to` (a last partial
// window shorter than window / 2 is left out).
std::vector<double> window_accuracies(const Prequential& prequential, std::int64_t from,
                                      std::int64_t to, std::int64_t window);

}  // namespace ctd::bench

#include "bench/scenario/metrics.h"

#include <algorithm>

namespace ctd::bench {

std::optional<double> Prequential::accuracy(std::int64_t from, std::int64_t to) const {
  from = std::max(from, first);
  to = std::min(to, end());
  if (to <= from) return std::nullopt;
  std::int64_t right = 0;
  for (std::int64_t i = from; i < to; ++i) right += correct[static_cast<std::size_t>(i - first)];
  return static_cast<double>(right) / static_cast<double>(to - from);
}

std::vector<double> window_accuracies(const Prequential& prequential, std::int64_t from,
                                      std::int64_t to, std::int64_t window) {
  std::vector<double> out;
  to = std::min(to, prequential.end());
  for (std::int64_t at = from; at < to; at += window) {
    const std::int64_t stop = std::min(at + window, to);
    if (stop - at < window / 2 && !out.empty()) break;
    if (const auto a = prequential.accuracy(at, stop)) out.push_back(*a);
  }
  return out;
}

std::optional<std::int64_t> detection_delay(std::span<const std::int64_t> training_starts,
                                            std::int64_t from, std::int64_t to) {
  const auto it = std::lower_bound(training_starts.begin(), training_starts.end(), from);
  if (it == training_starts.end() || *it >= to) return std::nullopt;
  return *it - from;
}

namespace {

// Fills worst/worst_at/dropped/recovered_after of `out` from the windows of [start, end).
void judge_recovery(const Prequential& prequential, std::int64_t end, const MetricOptions& options,
                    DriftOutcome& out) {
  const std::vector<double> windows =
      window_accuracies(prequential, out.start, end, options.window);
  if (windows.empty()) return;
  const auto worst = std::min_element(windows.begin(), windows.end());
  out.worst = *worst;
  const std::size_t worst_index = static_cast<std::size_t>(worst - windows.begin());
  out.worst_at = out.start + static_cast<std::int64_t>(worst_index) * options.window;
  if (!out.before) return;
  const double level = *out.before - options.tolerance;
  out.dropped = *worst < level;
  if (!out.dropped) {
    out.recovered_after = 0;
    return;
  }
  for (std::size_t i = worst_index + 1; i < windows.size(); ++i) {
    if (windows[i] >= level) {
      out.recovered_after =
          std::min(static_cast<std::int64_t>(i + 1) * options.window, end - out.start);
      return;
    }
  }
}

}  // namespace

std::vector<DriftOutcome> drift_outcomes(const Prequential& prequential,
                                         std::span<const std::int64_t> starts,
                                         std::span<const std::int64_t> training_starts,
                                         const MetricOptions& options) {
  std::vector<DriftOutcome> outcomes;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    DriftOutcome out;
    out.start = starts[i];
    const std::int64_t end = i + 1 < starts.size() ? starts[i + 1] : prequential.end();
    out.before = prequential.accuracy(out.start - options.pre_window, out.start);
    out.settled = prequential.accuracy(std::max(out.start, end - options.post_window), end);
    out.detection_delay = detection_delay(training_starts, out.start, end);
    judge_recovery(prequential, end, options, out);
    outcomes.push_back(out);
  }
  return outcomes;
}

}  // namespace ctd::bench

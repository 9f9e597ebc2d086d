// The current distribution of a drift trigger: counts of the most recent rows, as a tumbling
// window (consecutive, disjoint windows of `size` rows) or a sliding one (the last `size`
// rows, advanced by a pane of size / panes rows). A sliding window keeps one FeatureCounts per
// pane, so memory is panes x features x bins whatever the stream's length, and a check merges
// the panes in O(panes x features x bins). A tumbling window may also keep a bounded uniform
// row sample for an exact KS test.
//
// Thread-safety: none; one owner.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "triggers/drift_sample.h"
#include "triggers/drift_summary.h"
#include "triggers/trigger.h"

namespace ctd::triggers::drift {

enum class WindowKind { kTumbling, kSliding };

struct WindowOptions {
  WindowKind kind = WindowKind::kTumbling;
  std::size_t size = 10000;  // rows per window
  std::size_t panes = 10;    // sliding only: the window advances by size / panes rows
  // Tumbling only: keep a uniform sample of up to this many rows of the window for an exact
  // KS test (0: KS from the bins). Memory: ks_sample x numeric features doubles.
  std::size_t ks_sample = 0;
  // Tumbling only: when positive, windows are periods of this length aligned to the epoch
  // (by the batches' times) instead of `size` rows; a window closes at the first batch of a
  // later period, or at a clock tick past its end, and holds any number of rows in its
  // bounded counts.
  std::chrono::milliseconds duration{0};
};

// Returns an empty string when valid, else what is wrong.
std::string validate(const WindowOptions& options);

// Which rows a window holds: their stream numbers (labels: sample sequence numbers;
// inferences: the trigger's running count) and the commit times of their batches.
struct WindowBounds {
  std::int64_t first_row = -1;
  std::int64_t last_row = -1;
  std::uint64_t rows = 0;
  TimePoint first_at{};
  TimePoint last_at{};
  std::optional<TimePoint> period_end;  // time-based windows: the end of the period
};

nlohmann::json to_json(const WindowBounds& bounds);

class CurrentWindow {
 public:
  // `reference` must outlive the window. REQUIRES: validate(options) is empty.
  CurrentWindow(const WindowOptions& options, const ReferenceSummary& reference);

  // Adds rows from `begin` of `batch`, whose row 0 has stream number `first_row`, until the
  // batch ends or the window is complete; returns the first row not added.
  std::size_t add(const FeatureBatchView& batch, std::size_t begin, std::int64_t first_row,
                  TimePoint at);
  // The window holds `size` rows (or its period has ended) and waits for a check; add() adds
  // nothing until advance().
  bool complete() const;
  // Time-based windows: closes a non-empty window whose period ended before `now`; returns
  // complete().
  bool close_if_ended(TimePoint now);
  FeatureCounts counts() const;  // all panes merged
  WindowBounds bounds() const;
  // The window's sample for the exact KS test, per numeric feature (ascending); empty
  // without WindowOptions::ks_sample.
  std::vector<std::vector<double>> ks_samples() const;
  // After a check: a tumbling window starts empty, a sliding one drops its oldest pane.
  void advance();
  std::uint64_t rows() const;

 private:
  struct Pane {
    FeatureCounts counts;
    WindowBounds bounds;
  };
  std::size_t pane_rows() const;
  std::size_t pane_count() const;

  WindowOptions options_;
  const ReferenceSummary* reference_;
  std::deque<Pane> panes_;
  std::optional<NumericRowSample> sample_;
  std::optional<TimePoint> period_end_;  // time-based: end of the current window's period
  bool closed_ = false;                  // time-based: the period ended
  bool time_based() const { return options_.duration.count() > 0; }
};

}  // namespace ctd::triggers::drift

#include "triggers/drift_window.h"

#include <algorithm>
#include <chrono>

namespace ctd::triggers::drift {
namespace {

std::int64_t epoch_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string validate(const WindowOptions& options) {
  if (options.size < 1) return "window size must be at least 1 row";
  if (options.kind == WindowKind::kSliding &&
      (options.panes < 1 || options.size % options.panes != 0)) {
    return "sliding window: panes (" + std::to_string(options.panes) + ") must divide size (" +
           std::to_string(options.size) + ")";
  }
  if (options.kind == WindowKind::kSliding && options.ks_sample > 0) {
    return "an exact KS sample needs a tumbling window";
  }
  if (options.duration.count() < 0 ||
      (options.duration.count() > 0 && options.kind == WindowKind::kSliding)) {
    return "a window duration needs a tumbling window and must be positive";
  }
  return {};
}

nlohmann::json to_json(const WindowBounds& bounds) {
  nlohmann::json out = {{"first_row", bounds.first_row},
                        {"last_row", bounds.last_row},
                        {"rows", bounds.rows},
                        {"first_at_ms", epoch_ms(bounds.first_at)},
                        {"last_at_ms", epoch_ms(bounds.last_at)}};
  if (bounds.period_end) out["period_end_ms"] = epoch_ms(*bounds.period_end);
  return out;
}

CurrentWindow::CurrentWindow(const WindowOptions& options, const ReferenceSummary& reference)
    : options_(options), reference_(&reference) {
  if (options.ks_sample > 0) {
    sample_.emplace(options.ks_sample, reference.columns().numeric, reference.options().seed + 1);
  }
}

std::size_t CurrentWindow::pane_rows() const {
  return options_.kind == WindowKind::kTumbling ? options_.size : options_.size / options_.panes;
}

std::size_t CurrentWindow::pane_count() const {
  return options_.kind == WindowKind::kTumbling ? 1 : options_.panes;
}

bool CurrentWindow::complete() const {
  if (time_based()) return closed_;
  return panes_.size() == pane_count() && panes_.back().bounds.rows == pane_rows();
}

bool CurrentWindow::close_if_ended(TimePoint now) {
  if (time_based() && period_end_ && now >= *period_end_ && rows() > 0) closed_ = true;
  return complete();
}

std::size_t CurrentWindow::add(const FeatureBatchView& batch, std::size_t begin,
                               std::int64_t first_row, TimePoint at) {
  if (complete() || begin >= batch.rows) return begin;
  if (time_based()) {
    if (period_end_ && at >= *period_end_) {
      closed_ = rows() > 0;
      if (closed_) return begin;
    }
    if (panes_.empty()) {
      // The period holding `at`: [k d, (k + 1) d) since the epoch.
      const auto since_epoch =
          std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch());
      period_end_ = TimePoint{} + (since_epoch / options_.duration + 1) * options_.duration;
    }
  }
  if (panes_.empty() || (!time_based() && panes_.back().bounds.rows == pane_rows())) {
    panes_.push_back(Pane{FeatureCounts(*reference_), WindowBounds{}});
  }
  Pane& pane = panes_.back();
  const std::size_t take = time_based()
                               ? batch.rows - begin
                               : std::min(batch.rows - begin, pane_rows() - pane.bounds.rows);
  pane.counts.add(batch, begin, begin + take, *reference_);
  if (sample_) sample_->add(batch, begin, begin + take);
  if (pane.bounds.rows == 0) {
    pane.bounds.first_row = first_row + static_cast<std::int64_t>(begin);
    pane.bounds.first_at = at;
  }
  pane.bounds.rows += take;
  pane.bounds.last_row = first_row + static_cast<std::int64_t>(begin + take) - 1;
  pane.bounds.last_at = at;
  return begin + take;
}

FeatureCounts CurrentWindow::counts() const {
  FeatureCounts merged(*reference_);
  for (const Pane& pane : panes_) merged.merge(pane.counts);
  return merged;
}

WindowBounds CurrentWindow::bounds() const {
  WindowBounds bounds;
  if (panes_.empty()) return bounds;
  bounds.first_row = panes_.front().bounds.first_row;
  bounds.first_at = panes_.front().bounds.first_at;
  bounds.last_row = panes_.back().bounds.last_row;
  bounds.last_at = panes_.back().bounds.last_at;
  for (const Pane& pane : panes_) bounds.rows += pane.bounds.rows;
  if (time_based()) bounds.period_end = period_end_;
  return bounds;
}

std::uint64_t CurrentWindow::rows() const { return bounds().rows; }

std::vector<std::vector<double>> CurrentWindow::ks_samples() const {
  return sample_ ? sample_->sorted_columns() : std::vector<std::vector<double>>{};
}

void CurrentWindow::advance() {
  if (options_.kind == WindowKind::kTumbling) {
    panes_.clear();
    if (sample_) sample_->clear();
    period_end_.reset();
    closed_ = false;
  } else if (!panes_.empty()) {
    panes_.pop_front();
  }
}

}  // namespace ctd::triggers::drift

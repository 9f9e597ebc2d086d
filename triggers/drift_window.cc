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
  return {};
}

nlohmann::json to_json(const WindowBounds& bounds) {
  return {{"first_row", bounds.first_row},
          {"last_row", bounds.last_row},
          {"rows", bounds.rows},
          {"first_at_ms", epoch_ms(bounds.first_at)},
          {"last_at_ms", epoch_ms(bounds.last_at)}};
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
  return panes_.size() == pane_count() && panes_.back().bounds.rows == pane_rows();
}

std::size_t CurrentWindow::add(const FeatureBatchView& batch, std::size_t begin,
                               std::int64_t first_row, TimePoint at) {
  if (complete() || begin >= batch.rows) return begin;
  if (panes_.empty() || panes_.back().bounds.rows == pane_rows()) {
    panes_.push_back(Pane{FeatureCounts(*reference_), WindowBounds{}});
  }
  Pane& pane = panes_.back();
  const std::size_t take = std::min(batch.rows - begin, pane_rows() - pane.bounds.rows);
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
  } else if (!panes_.empty()) {
    panes_.pop_front();
  }
}

}  // namespace ctd::triggers::drift

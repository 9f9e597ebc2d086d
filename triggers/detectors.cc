#include "triggers/detectors.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ctd::triggers {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Sum of squared deviations of two merged groups (Chan et al.'s parallel variance).
double merged_m2(double m2_a, double total_a, double count_a, double m2_b, double total_b,
                 double count_b) {
  const double mean_difference = total_a / count_a - total_b / count_b;
  return m2_a + m2_b + count_a * count_b / (count_a + count_b) * mean_difference * mean_difference;
}

}  // namespace

std::string_view to_string(DetectorState state) {
  switch (state) {
    case DetectorState::kStable:
      return "stable";
    case DetectorState::kWarning:
      return "warning";
    case DetectorState::kDrift:
      return "drift";
  }
  return "unknown";
}

// ---- Page-Hinkley ----

std::optional<Error> validate(const PageHinkleyOptions& options) {
  if (options.min_instances < 1) return Error{"page_hinkley.min_instances must be >= 1"};
  if (!(options.delta >= 0)) return Error{"page_hinkley.delta must be >= 0"};
  if (!(options.threshold > 0)) return Error{"page_hinkley.threshold must be > 0"};
  if (!(options.alpha > 0 && options.alpha <= 1)) {
    return Error{"page_hinkley.alpha must be in (0, 1]"};
  }
  return std::nullopt;
}

PageHinkley::PageHinkley(PageHinkleyOptions options) : options_(options) {}

void PageHinkley::reset() {
  count_ = 0;
  mean_ = 0;
  sum_ = 0;
  min_sum_ = 0;
  drifted_ = false;
}

DetectorState PageHinkley::update(double value) {
  if (drifted_) reset();
  ++count_;
  mean_ += (value - mean_) / static_cast<double>(count_);
  sum_ = options_.alpha * sum_ + (value - mean_ - options_.delta);
  min_sum_ = count_ == 1 ? sum_ : std::min(min_sum_, sum_);
  if (count_ < options_.min_instances) return DetectorState::kStable;
  if (sum_ - min_sum_ > options_.threshold) {
    drifted_ = true;
    return DetectorState::kDrift;
  }
  return DetectorState::kStable;
}

nlohmann::json PageHinkley::describe() const {
  return {{"detector", "page_hinkley"},
          {"count", count_},
          {"mean", mean_},
          {"cumulative_sum", sum_},
          {"minimum_sum", min_sum_},
          {"statistic", statistic()},
          {"threshold", options_.threshold},
          {"delta", options_.delta},
          {"alpha", options_.alpha},
          {"min_instances", options_.min_instances}};
}

// ---- ADWIN ----

std::optional<Error> validate(const AdwinOptions& options) {
  if (!(options.delta > 0 && options.delta < 1)) return Error{"adwin.delta must be in (0, 1)"};
  if (options.clock < 1) return Error{"adwin.clock must be >= 1"};
  if (options.max_buckets < 2) return Error{"adwin.max_buckets must be >= 2"};
  if (options.min_window_length < 1) return Error{"adwin.min_window_length must be >= 1"};
  if (options.grace_period < 0) return Error{"adwin.grace_period must be >= 0"};
  return std::nullopt;
}

Adwin::Adwin(AdwinOptions options) : options_(options) {}

void Adwin::reset() {
  rows_.clear();
  width_ = 0;
  total_ = 0;
  m2_ = 0;
  ticks_ = 0;
  last_cut_.reset();
}

double Adwin::variance() const { return width_ == 0 ? 0.0 : m2_ / static_cast<double>(width_); }

std::size_t Adwin::bucket_count() const {
  std::size_t count = 0;
  for (const Row& row : rows_) count += row.size();
  return count;
}

DetectorState Adwin::update(double value) {
  insert(value);
  ++ticks_;
  if (ticks_ % options_.clock != 0 || width_ <= options_.grace_period) {
    return DetectorState::kStable;
  }
  if (!find_and_cut()) return DetectorState::kStable;
  ++detections_;
  return DetectorState::kDrift;
}

void Adwin::insert(double value) {
  if (rows_.empty()) rows_.emplace_back();
  if (width_ > 0) {
    const double deviation = value - mean();
    m2_ += deviation * deviation * static_cast<double>(width_) / static_cast<double>(width_ + 1);
  }
  ++width_;
  total_ += value;
  rows_[0].push_front(Bucket{value, 0});
  compress();
}

// Each row keeps at most max_buckets buckets: the two oldest of a full row merge into one
// bucket of the next row.
void Adwin::compress() {
  for (std::size_t level = 0; level < rows_.size(); ++level) {
    Row& row = rows_[level];
    if (static_cast<std::int64_t>(row.size()) <= options_.max_buckets) return;
    const double size = std::ldexp(1.0, static_cast<int>(level));
    Bucket oldest = row.back();
    row.pop_back();
    Bucket second = row.back();
    row.pop_back();
    Bucket merged{oldest.total + second.total,
                  merged_m2(oldest.m2, oldest.total, size, second.m2, second.total, size)};
    if (level + 1 == rows_.size()) rows_.emplace_back();
    rows_[level + 1].push_front(merged);
  }
}

void Adwin::drop_oldest_bucket() {
  while (!rows_.empty() && rows_.back().empty()) rows_.pop_back();
  if (rows_.empty()) return;
  const std::size_t level = rows_.size() - 1;
  const Bucket bucket = rows_[level].back();
  rows_[level].pop_back();
  const double size = std::ldexp(1.0, static_cast<int>(level));
  const double remaining = static_cast<double>(width_) - size;
  if (remaining <= 0) {
    width_ = 0;
    total_ = 0;
    m2_ = 0;
  } else {
    const double remaining_total = total_ - bucket.total;
    const double difference = bucket.total / size - remaining_total / remaining;
    m2_ -= bucket.m2 + size * remaining / (size + remaining) * difference * difference;
    m2_ = std::max(m2_, 0.0);
    width_ -= static_cast<std::int64_t>(size);
    total_ = remaining_total;
  }
  while (!rows_.empty() && rows_.back().empty()) rows_.pop_back();
}

// Tests every split at a bucket boundary, oldest first; on a cut drops the oldest bucket and
// tests again. Returns whether anything was cut.
bool Adwin::find_and_cut() {
  bool cut_any = false;
  bool cut = true;
  while (cut && width_ > options_.grace_period) {
    cut = false;
    const double n = static_cast<double>(width_);
    const double log_term = std::log(2 * std::log(n) / options_.delta);
    const double variance_now = variance();
    double older_count = 0;
    double older_total = 0;
    for (std::size_t level = rows_.size(); level-- > 0 && !cut;) {
      const double size = std::ldexp(1.0, static_cast<int>(level));
      const Row& row = rows_[level];
      for (auto bucket = row.rbegin(); bucket != row.rend(); ++bucket) {
        older_count += size;
        older_total += bucket->total;
        const double recent_count = n - older_count;
        const double min_length = static_cast<double>(options_.min_window_length);
        if (recent_count < min_length) break;
        if (older_count < min_length) continue;
        const double older_mean = older_total / older_count;
        const double recent_mean = (total_ - older_total) / recent_count;
        const double m = 1 / (older_count - min_length + 1) + 1 / (recent_count - min_length + 1);
        const double epsilon =
            std::sqrt(2 * m * variance_now * log_term) + 2.0 / 3.0 * log_term * m;
        if (std::abs(older_mean - recent_mean) > epsilon) {
          if (!cut_any) {
            last_cut_ =
                Cut{static_cast<std::int64_t>(older_count), static_cast<std::int64_t>(recent_count),
                    older_mean, recent_mean, epsilon};
          }
          cut = true;
          break;
        }
      }
    }
    if (cut) {
      drop_oldest_bucket();
      cut_any = true;
    }
  }
  return cut_any;
}

nlohmann::json Adwin::describe() const {
  nlohmann::json state = {
      {"detector", "adwin"},     {"width", width_},           {"mean", mean()},
      {"variance", variance()},  {"buckets", bucket_count()}, {"detections", detections_},
      {"delta", options_.delta}, {"clock", options_.clock}};
  if (last_cut_) {
    state["last_cut"] = {{"older_count", last_cut_->older_count},
                         {"recent_count", last_cut_->recent_count},
                         {"older_mean", last_cut_->older_mean},
                         {"recent_mean", last_cut_->recent_mean},
                         {"epsilon", last_cut_->epsilon}};
  }
  return state;
}

// ---- DDM ----

std::optional<Error> validate(const DdmOptions& options) {
  if (options.warm_start < 1) return Error{"ddm.warm_start must be >= 1"};
  if (!(options.warning_threshold > 0)) return Error{"ddm.warning_threshold must be > 0"};
  if (!(options.drift_threshold > options.warning_threshold)) {
    return Error{"ddm.drift_threshold must be > ddm.warning_threshold"};
  }
  return std::nullopt;
}

Ddm::Ddm(DdmOptions options) : options_(options) { reset(); }

void Ddm::reset() {
  count_ = 0;
  p_ = 0;
  s_ = 0;
  p_min_ = kInfinity;
  s_min_ = kInfinity;
  ps_min_ = kInfinity;
  last_state_ = DetectorState::kStable;
}

DetectorState Ddm::update(double error) {
  if (last_state_ == DetectorState::kDrift) reset();
  ++count_;
  const double n = static_cast<double>(count_);
  p_ += (error - p_) / n;
  s_ = std::sqrt(p_ * (1 - p_) / n);
  last_state_ = DetectorState::kStable;
  if (count_ <= options_.warm_start) return last_state_;
  if (p_ + s_ <= ps_min_) {
    p_min_ = p_;
    s_min_ = s_;
    ps_min_ = p_ + s_;
  }
  if (p_ + s_ > p_min_ + options_.drift_threshold * s_min_) {
    last_state_ = DetectorState::kDrift;
  } else if (p_ + s_ > p_min_ + options_.warning_threshold * s_min_) {
    last_state_ = DetectorState::kWarning;
  }
  return last_state_;
}

nlohmann::json Ddm::describe() const {
  const bool has_minimum = ps_min_ != kInfinity;
  return {
      {"detector", "ddm"},
      {"count", count_},
      {"error_rate", p_},
      {"std", s_},
      {"p_min", has_minimum ? nlohmann::json(p_min_) : nlohmann::json()},
      {"s_min", has_minimum ? nlohmann::json(s_min_) : nlohmann::json()},
      {"warning_level", has_minimum ? nlohmann::json(p_min_ + options_.warning_threshold * s_min_)
                                    : nlohmann::json()},
      {"drift_level",
       has_minimum ? nlohmann::json(p_min_ + options_.drift_threshold * s_min_) : nlohmann::json()},
      {"state", to_string(last_state_)}};
}

}  // namespace ctd::triggers

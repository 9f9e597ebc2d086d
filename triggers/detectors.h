// Sequential change detectors over a stream of numbers (a model's prequential errors, or a
// metric), used by DecayTrigger. Each takes one value per update() and says whether the stream
// is stable, in a warning zone or has changed; each exposes its statistics for evidence.
//
//   PageHinkley  Page (1954), as in River/MOA: detects an INCREASE of the mean (feed errors, or
//                a metric negated when higher is better). Scale-dependent: `threshold` is in the
//                units of the stream.
//   Adwin        Bifet & Gavalda (2007), ADWIN2 with an exponential histogram: detects a change
//                of the mean in either direction; last_cut() says which way it went.
//   Ddm          Gama et al. (2004): a 0/1 error stream whose error rate rises.
//
// Defaults are River's/MOA's. All use bounded memory (Adwin: O(max_buckets * log(width))).
// After a drift, PageHinkley and Ddm start over on their next update (their statistics stay
// readable until then); Adwin keeps the part of its window after the cut.
//
// Thread-safety: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "triggers/result.h"

namespace ctd::triggers {

enum class DetectorState { kStable, kWarning, kDrift };
std::string_view to_string(DetectorState state);

struct PageHinkleyOptions {
  std::int64_t min_instances = 30;  // no decision before this many values
  double delta = 0.005;             // tolerated increase of the mean
  double threshold = 50;            // lambda: alarm when the cumulative sum rises this far
  double alpha = 1 - 1e-4;          // fading factor of the cumulative sum
};
std::optional<Error> validate(const PageHinkleyOptions& options);

// Page-Hinkley test for an increase: m_t = alpha * m_{t-1} + (x_t - mean_t - delta),
// M_t = min(M_{t-1}, m_t); drift when m_t - M_t > threshold (and t >= min_instances).
class PageHinkley {
 public:
  explicit PageHinkley(PageHinkleyOptions options = {});
  DetectorState update(double value);
  void reset();

  std::int64_t count() const { return count_; }
  double mean() const { return mean_; }
  double statistic() const { return count_ == 0 ? 0.0 : sum_ - min_sum_; }
  const PageHinkleyOptions& options() const { return options_; }
  nlohmann::json describe() const;

 private:
  PageHinkleyOptions options_;
  std::int64_t count_ = 0;
  double mean_ = 0;
  double sum_ = 0;
  double min_sum_ = 0;
  bool drifted_ = false;
};

struct AdwinOptions {
  double delta = 0.002;                // confidence of the cut test
  std::int64_t clock = 32;             // test for a cut every `clock` values
  std::int64_t max_buckets = 5;        // M: buckets per row of the exponential histogram
  std::int64_t min_window_length = 5;  // each side of a cut holds at least this many values
  std::int64_t grace_period = 10;      // no test before the window holds this many values
};
std::optional<Error> validate(const AdwinOptions& options);

// ADWIN2: keeps a window whose two sub-windows never differ significantly in mean; drops the
// oldest buckets while some split (n0 old, n1 recent values) has
//   |mean0 - mean1| > sqrt(2 m var ln(2 ln(n) / delta)) + 2/3 m ln(2 ln(n) / delta),
//   m = 1 / (n0 - min_window_length + 1) + 1 / (n1 - min_window_length + 1),
// var the window's variance (as in MOA).
class Adwin {
 public:
  // The split that caused the most recent cut.
  struct Cut {
    std::int64_t older_count = 0;
    std::int64_t recent_count = 0;
    double older_mean = 0;
    double recent_mean = 0;
    double epsilon = 0;
    bool increase() const { return recent_mean > older_mean; }
  };

  explicit Adwin(AdwinOptions options = {});
  // kDrift when this update shrank the window.
  DetectorState update(double value);
  void reset();

  std::int64_t width() const { return width_; }
  double mean() const { return width_ == 0 ? 0.0 : total_ / static_cast<double>(width_); }
  double variance() const;
  std::size_t bucket_count() const;
  const std::optional<Cut>& last_cut() const { return last_cut_; }
  const AdwinOptions& options() const { return options_; }
  nlohmann::json describe() const;

 private:
  struct Bucket {
    double total = 0;
    double m2 = 0;  // sum of squared deviations from the bucket's mean
  };
  // rows_[i] holds buckets of 2^i values, newest at the front.
  using Row = std::deque<Bucket>;

  void insert(double value);
  void compress();
  void drop_oldest_bucket();
  bool find_and_cut();

  AdwinOptions options_;
  std::vector<Row> rows_;
  std::int64_t width_ = 0;
  double total_ = 0;
  double m2_ = 0;
  std::int64_t ticks_ = 0;
  std::int64_t detections_ = 0;
  std::optional<Cut> last_cut_;
};

struct DdmOptions {
  std::int64_t warm_start = 30;    // no decision before more than this many values
  double warning_threshold = 2.0;  // warning when p + s > p_min + 2 s_min
  double drift_threshold = 3.0;    // drift when p + s > p_min + 3 s_min
};
std::optional<Error> validate(const DdmOptions& options);

// Drift Detection Method on a 0/1 error stream: p the error rate so far, s = sqrt(p(1-p)/n);
// (p_min, s_min) recorded where p + s was lowest.
//
// Known property of the published method: if the first values after warm-up are all zero,
// p_min = s_min = 0 and the next error is a drift. Suited to error rates well above 1/warm_start.
class Ddm {
 public:
  explicit Ddm(DdmOptions options = {});
  // REQUIRES: error in [0, 1] (0/1 for classification).
  DetectorState update(double error);
  void reset();

  std::int64_t count() const { return count_; }
  double error_rate() const { return p_; }
  const DdmOptions& options() const { return options_; }
  nlohmann::json describe() const;

 private:
  DdmOptions options_;
  std::int64_t count_ = 0;
  double p_ = 0;
  double s_ = 0;
  double p_min_ = 0;
  double s_min_ = 0;
  double ps_min_ = 0;
  DetectorState last_state_ = DetectorState::kStable;
};

}  // namespace ctd::triggers

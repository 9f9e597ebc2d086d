// Bounded-memory summaries of feature distributions for drift detection.
//
// A ReferenceSummary is built once per production model from its training snapshot: per
// numeric feature, bin edges at reference quantiles plus per-bin counts and sums, the mean
// and standard deviation; per categorical feature, the exact count of every category. A
// FeatureCounts holds the same per-bin / per-category counts for any other set of rows (a
// window, a pane of one), updated in O(1) per value, so a drift check costs
// O(features x bins) whatever the number of rows, and memory does not grow with the stream.
// Missing values (NaN or infinite numerics, absent categoricals) and categories the
// reference never saw are counted, never dropped silently.
//
// Thread-safety: none; each object has one owner. A built ReferenceSummary is immutable and
// may be read from several threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "triggers/trigger.h"

namespace ctd::triggers::drift {

struct SummaryOptions {
  // Fine bins per numeric feature (edges at the reference's i/bins quantiles; equal edges are
  // merged), used by KS and Wasserstein.
  std::size_t bins = 100;
  // Bins for PSI and Jensen-Shannon: every (bins / coarse_bins)-th fine edge, i.e. the
  // reference's i/coarse_bins quantiles. Must divide `bins`.
  std::size_t coarse_bins = 10;
  // Reference rows sampled uniformly (reservoir) to place the edges; all rows when fewer.
  std::size_t sample_size = 50000;
  // Keep the sorted sample per numeric feature (for an exact KS test on it).
  bool keep_sample = false;
  std::uint64_t seed = 42;
};

// Returns an empty string when valid, else what is wrong.
std::string validate(const SummaryOptions& options);

// How the values of one numeric feature fall into bins: bin i holds (edge[i-1], edge[i]],
// bin 0 everything up to edge[0] and the last bin everything above the last edge.
class NumericBinning {
 public:
  // From an ascending sample of present values; REQUIRES options valid.
  static NumericBinning from_sorted_sample(std::span<const double> sorted,
                                           const SummaryOptions& options);

  std::size_t bin_count() const { return edges_.size() + 1; }
  std::size_t coarse_bin_count() const { return coarse_bin_count_; }
  const std::vector<double>& edges() const { return edges_; }
  std::size_t coarse_bin_of(std::size_t fine_bin) const { return coarse_of_fine_[fine_bin]; }
  // The lookup of bin_of as plain values, for loops that keep it in registers.
  struct Lookup {
    const std::uint16_t* grid;
    const double* bounds;
    double low, scale, last;

    // The fine bin of a finite value: the number of edges below it. Inline and nearly
    // branch-free: it runs once per value of every window. REQUIRES: std::isfinite(value).
    std::size_t bin_of(double value) const {
      const double cell = std::clamp((value - low) * scale, 0.0, last);
      std::size_t bin = grid[static_cast<std::size_t>(cell)];
      // The grid only gives a start; these steps make the answer exact.
      while (value <= bounds[bin]) --bin;
      while (value > bounds[bin + 1]) ++bin;
      return bin;
    }
  };
  Lookup lookup() const {
    return {grid_.data(), bounds_.data(), grid_low_, grid_scale_, grid_last_};
  }
  std::size_t bin_of(double value) const { return lookup().bin_of(value); }

 private:
  void build_lookup();

  std::vector<double> edges_;   // ascending, distinct
  std::vector<double> bounds_;  // -inf, edges..., +inf: bin b is (bounds_[b], bounds_[b + 1]]
  std::vector<std::uint32_t> coarse_of_fine_;
  std::size_t coarse_bin_count_ = 1;
  // An equal-width grid over [edges.front(), edges.back()] giving each cell's first candidate
  // bin, so that bin_of is a multiplication and a step or two instead of a binary search.
  double grid_low_ = 0;
  double grid_scale_ = 0;
  double grid_last_ = 0;  // index of the last cell
  std::vector<std::uint16_t> grid_ = {0};
};

// Counts of one numeric feature over a set of rows, in the bins of a NumericBinning.
struct NumericCounts {
  std::vector<double> counts;  // per fine bin (integers, exact below 2^53)
  std::vector<double> sums;    // per fine bin, sum of its values (for bin means)
  std::uint64_t present = 0;
  std::uint64_t missing = 0;  // NaN or infinite
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  explicit NumericCounts(std::size_t bins = 0) : counts(bins, 0.0), sums(bins, 0.0) {}
  void add(double value, const NumericBinning& binning) {
    if (!std::isfinite(value)) {
      ++missing;
      return;
    }
    const std::size_t bin = binning.bin_of(value);
    counts[bin] += 1;
    sums[bin] += value;
    ++present;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  // Adds `values` (the loop of add(), with everything it touches in locals).
  void add_all(std::span<const double> values, const NumericBinning& binning);
  void merge(const NumericCounts& other);
};

// Categories a reference saw, numbered in first-seen order.
class CategoryIndex {
 public:
  static constexpr std::uint32_t kUnseen = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t find(const std::string& category) const;
  std::uint32_t insert(const std::string& category);
  std::size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::unordered_map<std::string, std::uint32_t> index_;
  std::vector<std::string> names_;
};

// Counts of one categorical feature: one cell per reference category plus a last cell for
// every category the reference never saw.
struct CategoricalCounts {
  static constexpr std::size_t kMaxUnseenExamples = 10;
  std::vector<double> counts;
  std::uint64_t present = 0;
  std::uint64_t missing = 0;
  std::uint64_t unseen = 0;
  std::map<std::string, std::uint64_t> unseen_examples;  // first kMaxUnseenExamples names

  explicit CategoricalCounts(std::size_t categories = 0) : counts(categories + 1, 0.0) {}
  void add(const std::string* category, const CategoryIndex& index);
  void merge(const CategoricalCounts& other);
};

// Which columns of a FeatureBatchView are summarised, with their names.
struct FeatureColumns {
  std::vector<std::string> numeric_names;
  std::vector<std::size_t> numeric;  // column indices in the view
  std::vector<std::string> categorical_names;
  std::vector<std::size_t> categorical;

  // The columns of `layout` named in `selected` (all when empty); unknown names are listed in
  // `unknown`.
  static FeatureColumns select(const FeatureLayout& layout,
                               const std::vector<std::string>& selected,
                               std::vector<std::string>* unknown);
  std::size_t size() const { return numeric.size() + categorical.size(); }
};

class ReferenceSummary;

// Counts of every summarised feature over a set of rows.
struct FeatureCounts {
  std::vector<NumericCounts> numeric;
  std::vector<CategoricalCounts> categorical;
  std::uint64_t rows = 0;

  FeatureCounts() = default;
  explicit FeatureCounts(const ReferenceSummary& reference);  // empty, shaped for it
  // Adds rows [begin, end) of `batch`.
  void add(const FeatureBatchView& batch, std::size_t begin, std::size_t end,
           const ReferenceSummary& reference);
  // The categorical part of add() alone (rows is not changed).
  void add_categorical(const FeatureBatchView& batch, std::size_t begin, std::size_t end,
                       const ReferenceSummary& reference);
  void merge(const FeatureCounts& other);
};

struct NumericReference {
  NumericBinning binning;
  double mean = 0;
  double std = 0;                  // population standard deviation (ddof = 0)
  std::vector<double> sample;      // ascending; empty unless SummaryOptions::keep_sample
  std::uint64_t sampled_from = 0;  // present values the sample was drawn from
};

// The reference distribution of a model version. Immutable once built.
class ReferenceSummary {
 public:
  const FeatureColumns& columns() const { return columns_; }
  const std::vector<NumericReference>& numeric() const { return numeric_; }
  const std::vector<CategoryIndex>& categories() const { return categories_; }
  const FeatureCounts& counts() const { return counts_; }
  const SummaryOptions& options() const { return options_; }

 private:
  friend class ReferenceBuilder;
  FeatureColumns columns_;
  SummaryOptions options_;
  std::vector<NumericReference> numeric_;
  std::vector<CategoryIndex> categories_;
  FeatureCounts counts_;
};

// Builds a ReferenceSummary in two passes over the same rows, fed in batches of any size:
// pass 1 (sample) draws the uniform row sample that places the edges and learns the
// categories; pass 2 (count) counts every row into the bins. Memory: sample_size rows of the
// numeric features, plus the summary.
class ReferenceBuilder {
 public:
  // REQUIRES: validate(options) is empty.
  ReferenceBuilder(FeatureColumns columns, SummaryOptions options);

  void sample(const FeatureBatchView& batch);
  void count(const FeatureBatchView& batch);  // the first call ends the sampling pass
  ReferenceSummary finish();

 private:
  void place_edges();
  // Sorts `sample` and appends the feature's binning (features in order).
  void add_numeric_reference(std::size_t feature, std::vector<double>& sample);

  ReferenceSummary summary_;
  std::vector<double> reservoir_;  // row-major, sample_size x numeric features
  std::uint64_t rows_sampled_ = 0;
  std::mt19937_64 random_;
  bool counting_ = false;
  // Per numeric feature, sums of (value - shift) and its square for the mean and std; the
  // shift (the sample's mean) keeps the difference of squares accurate.
  std::vector<double> shift_;
  std::vector<double> shifted_sum_;
  std::vector<double> shifted_squares_;
};

// Both passes over one in-memory view (e.g. ModelContext::reference).
ReferenceSummary build_reference(const FeatureBatchView& view, FeatureColumns columns,
                                 const SummaryOptions& options);

}  // namespace ctd::triggers::drift

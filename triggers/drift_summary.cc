#include "triggers/drift_summary.h"

#include <algorithm>

#include "triggers/drift_stats.h"

namespace ctd::triggers::drift {
namespace {

// Lookup grid cells per fine bin: with 16, a value's cell rarely holds an edge, so the steps
// after the lookup rarely branch.
constexpr std::size_t kGridCellsPerBin = 16;
constexpr std::size_t kMaxBins = 65535;  // bin numbers fit the grid's 16-bit cells
// FeatureCounts::add walks the batch in blocks of rows and, within a block, in groups of
// features (two cache lines of a row); sizes measured best on the 2-core dev machine.
constexpr std::size_t kGroupFeatures = 16;
constexpr std::size_t kBlockRows = 4096;

// Calls visit(feature, values) with the values of rows [begin, end) of every column in
// `columns`, in blocks of rows and groups of features that share cache lines of each row: a
// group's values are gathered column by column into a buffer that fits the cache, so that
// the visitor reads contiguous values while its own state stays in the fastest cache.
// (Reading a column straight from the row-major batch touches one page per row, and going
// row by row cycles every feature's state through the cache.)
template <typename Visit>
void visit_numeric_columns(const FeatureBatchView& batch, std::size_t begin, std::size_t end,
                           const std::vector<std::size_t>& columns, Visit&& visit) {
  if (begin >= end || columns.empty()) return;
  const std::size_t width = batch.numeric_width;
  std::vector<double> group_columns(kGroupFeatures * std::min(kBlockRows, end - begin));
  for (std::size_t block = begin; block < end; block += kBlockRows) {
    const std::size_t block_rows = std::min(end, block + kBlockRows) - block;
    for (std::size_t group = 0; group < columns.size(); group += kGroupFeatures) {
      const std::size_t group_size = std::min(columns.size() - group, kGroupFeatures);
      for (std::size_t r = 0; r < block_rows; ++r) {
        const double* row = batch.numeric.data() + (block + r) * width;
        for (std::size_t k = 0; k < group_size; ++k) {
          group_columns[k * block_rows + r] = row[columns[group + k]];
        }
      }
      for (std::size_t k = 0; k < group_size; ++k) {
        visit(group + k,
              std::span<const double>(group_columns).subspan(k * block_rows, block_rows));
      }
    }
  }
}

}  // namespace

std::string validate(const SummaryOptions& options) {
  if (options.bins < 1 || options.bins > kMaxBins) return "bins must be in [1, 65535]";
  if (options.coarse_bins < 1 || options.bins % options.coarse_bins != 0) {
    return "coarse bins (" + std::to_string(options.coarse_bins) + ") must divide bins (" +
           std::to_string(options.bins) + ")";
  }
  if (options.sample_size < 1) return "sample size must be at least 1";
  return {};
}

NumericBinning NumericBinning::from_sorted_sample(std::span<const double> sorted,
                                                  const SummaryOptions& options) {
  NumericBinning binning;
  if (sorted.empty()) {
    binning.coarse_of_fine_ = {0};
    binning.build_lookup();
    return binning;
  }
  const std::size_t step = options.bins / options.coarse_bins;
  std::vector<double> coarse_edges;
  for (std::size_t k = 1; k < options.bins; ++k) {
    const double edge =
        quantile_linear(sorted, static_cast<double>(k) / static_cast<double>(options.bins));
    if (binning.edges_.empty() || edge > binning.edges_.back()) binning.edges_.push_back(edge);
    if (k % step == 0 && (coarse_edges.empty() || edge > coarse_edges.back())) {
      coarse_edges.push_back(edge);
    }
  }
  binning.coarse_bin_count_ = coarse_edges.size() + 1;
  // A fine bin lies inside the coarse bin of its upper edge (coarse edges are fine edges).
  for (double upper : binning.edges_) {
    const auto below = std::lower_bound(coarse_edges.begin(), coarse_edges.end(), upper);
    binning.coarse_of_fine_.push_back(static_cast<std::uint32_t>(below - coarse_edges.begin()));
  }
  binning.coarse_of_fine_.push_back(static_cast<std::uint32_t>(coarse_edges.size()));
  binning.build_lookup();
  return binning;
}

void NumericBinning::build_lookup() {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  bounds_.assign(1, -kInfinity);
  bounds_.insert(bounds_.end(), edges_.begin(), edges_.end());
  bounds_.push_back(kInfinity);
  if (edges_.size() < 2) return;  // one cell starting at bin 0: the steps do the rest
  const std::size_t cells = kGridCellsPerBin * edges_.size();
  grid_low_ = edges_.front();
  grid_scale_ = static_cast<double>(cells) / (edges_.back() - edges_.front());
  grid_last_ = static_cast<double>(cells - 1);
  grid_.resize(cells);
  std::size_t below = 0;
  for (std::size_t cell = 0; cell < cells; ++cell) {
    const double cell_low = grid_low_ + static_cast<double>(cell) / grid_scale_;
    while (below < edges_.size() && edges_[below] < cell_low) ++below;
    grid_[cell] = static_cast<std::uint16_t>(below);
  }
}

void NumericCounts::add_all(std::span<const double> values, const NumericBinning& binning) {
  const NumericBinning::Lookup lookup = binning.lookup();
  double* bin_counts = counts.data();
  double* bin_sums = sums.data();
  double low = min, high = max;
  std::uint64_t missed = 0;
  for (const double value : values) {
    if (!std::isfinite(value)) {
      ++missed;
      continue;
    }
    const std::size_t bin = lookup.bin_of(value);
    bin_counts[bin] += 1;
    bin_sums[bin] += value;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  min = low;
  max = high;
  missing += missed;
  present += values.size() - missed;
}

void NumericCounts::merge(const NumericCounts& other) {
  for (std::size_t i = 0; i < counts.size(); ++i) {
    counts[i] += other.counts[i];
    sums[i] += other.sums[i];
  }
  present += other.present;
  missing += other.missing;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
}

std::uint32_t CategoryIndex::find(const std::string& category) const {
  const auto it = index_.find(category);
  return it == index_.end() ? kUnseen : it->second;
}

std::uint32_t CategoryIndex::insert(const std::string& category) {
  const auto [it, inserted] = index_.emplace(category, static_cast<std::uint32_t>(names_.size()));
  if (inserted) names_.push_back(category);
  return it->second;
}

void CategoricalCounts::add(const std::string* category, const CategoryIndex& index) {
  if (category == nullptr) {
    ++missing;
    return;
  }
  ++present;
  const std::uint32_t cell = index.find(*category);
  if (cell != CategoryIndex::kUnseen) {
    counts[cell] += 1;
    return;
  }
  counts.back() += 1;
  ++unseen;
  auto it = unseen_examples.find(*category);
  if (it != unseen_examples.end()) {
    ++it->second;
  } else if (unseen_examples.size() < kMaxUnseenExamples) {
    unseen_examples.emplace(*category, 1);
  }
}

void CategoricalCounts::merge(const CategoricalCounts& other) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  present += other.present;
  missing += other.missing;
  unseen += other.unseen;
  for (const auto& [name, count] : other.unseen_examples) {
    auto it = unseen_examples.find(name);
    if (it != unseen_examples.end()) {
      it->second += count;
    } else if (unseen_examples.size() < kMaxUnseenExamples) {
      unseen_examples.emplace(name, count);
    }
  }
}

FeatureColumns FeatureColumns::select(const FeatureLayout& layout,
                                      const std::vector<std::string>& selected,
                                      std::vector<std::string>* unknown) {
  FeatureColumns columns;
  const auto wanted = [&](const std::string& name) {
    return selected.empty() || std::find(selected.begin(), selected.end(), name) != selected.end();
  };
  for (std::size_t i = 0; i < layout.numeric.size(); ++i) {
    if (!wanted(layout.numeric[i])) continue;
    columns.numeric_names.push_back(layout.numeric[i]);
    columns.numeric.push_back(i);
  }
  for (std::size_t i = 0; i < layout.categorical.size(); ++i) {
    if (!wanted(layout.categorical[i])) continue;
    columns.categorical_names.push_back(layout.categorical[i]);
    columns.categorical.push_back(i);
  }
  for (const std::string& name : selected) {
    const bool known =
        std::find(layout.numeric.begin(), layout.numeric.end(), name) != layout.numeric.end() ||
        std::find(layout.categorical.begin(), layout.categorical.end(), name) !=
            layout.categorical.end();
    if (!known && unknown != nullptr) unknown->push_back(name);
  }
  return columns;
}

FeatureCounts::FeatureCounts(const ReferenceSummary& reference) {
  for (const NumericReference& feature : reference.numeric()) {
    numeric.emplace_back(feature.binning.bin_count());
  }
  for (const CategoryIndex& index : reference.categories()) categorical.emplace_back(index.size());
}

void FeatureCounts::add(const FeatureBatchView& batch, std::size_t begin, std::size_t end,
                        const ReferenceSummary& reference) {
  const std::vector<NumericReference>& features = reference.numeric();
  visit_numeric_columns(batch, begin, end, reference.columns().numeric,
                        [&](std::size_t f, std::span<const double> values) {
                          numeric[f].add_all(values, features[f].binning);
                        });
  add_categorical(batch, begin, end, reference);
  rows += end - begin;
}

void FeatureCounts::add_categorical(const FeatureBatchView& batch, std::size_t begin,
                                    std::size_t end, const ReferenceSummary& reference) {
  const FeatureColumns& columns = reference.columns();
  for (std::size_t f = 0; f < categorical.size(); ++f) {
    for (std::size_t row = begin; row < end; ++row) {
      categorical[f].add(batch.categorical_at(row, columns.categorical[f]),
                         reference.categories()[f]);
    }
  }
}

void FeatureCounts::merge(const FeatureCounts& other) {
  for (std::size_t f = 0; f < numeric.size(); ++f) numeric[f].merge(other.numeric[f]);
  for (std::size_t f = 0; f < categorical.size(); ++f) categorical[f].merge(other.categorical[f]);
  rows += other.rows;
}

ReferenceBuilder::ReferenceBuilder(FeatureColumns columns, SummaryOptions options)
    : random_(options.seed) {
  summary_.columns_ = std::move(columns);
  summary_.options_ = options;
  summary_.categories_.resize(summary_.columns_.categorical.size());
  const std::size_t width = summary_.columns_.numeric.size();
  shift_.assign(width, 0.0);
  shifted_sum_.assign(width, 0.0);
  shifted_squares_.assign(width, 0.0);
}

void ReferenceBuilder::sample(const FeatureBatchView& batch) {
  const FeatureColumns& columns = summary_.columns_;
  const std::size_t width = columns.numeric.size();
  const std::size_t capacity = summary_.options_.sample_size;
  for (std::size_t row = 0; row < batch.rows; ++row) {
    // Reservoir sampling (algorithm R): row t replaces a random slot with probability S/t.
    std::size_t slot = static_cast<std::size_t>(rows_sampled_);
    if (rows_sampled_ >= capacity) {
      slot = std::uniform_int_distribution<std::uint64_t>(0, rows_sampled_)(random_);
    }
    ++rows_sampled_;
    if (slot < capacity) {
      if (slot * width == reservoir_.size()) reservoir_.resize(reservoir_.size() + width);
      double* out = reservoir_.data() + slot * width;
      for (std::size_t f = 0; f < width; ++f) out[f] = batch.numeric_at(row, columns.numeric[f]);
    }
    for (std::size_t f = 0; f < columns.categorical.size(); ++f) {
      const std::string* category = batch.categorical_at(row, columns.categorical[f]);
      if (category != nullptr) summary_.categories_[f].insert(*category);
    }
  }
}

void ReferenceBuilder::place_edges() {
  const std::size_t width = summary_.columns_.numeric.size();
  const std::size_t rows = width == 0 ? 0 : reservoir_.size() / width;
  // The sample's columns, a group of features at a time (rows are read a cache line or two
  // each, instead of one scattered value per feature).
  std::vector<std::vector<double>> columns(kGroupFeatures);
  for (std::size_t group = 0; group < width; group += kGroupFeatures) {
    const std::size_t group_size = std::min(width - group, kGroupFeatures);
    for (std::size_t k = 0; k < group_size; ++k) columns[k].clear();
    for (std::size_t row = 0; row < rows; ++row) {
      const double* values = reservoir_.data() + row * width + group;
      for (std::size_t k = 0; k < group_size; ++k) {
        if (std::isfinite(values[k])) columns[k].push_back(values[k]);
      }
    }
    for (std::size_t k = 0; k < group_size; ++k) add_numeric_reference(group + k, columns[k]);
  }
  reservoir_.clear();
  reservoir_.shrink_to_fit();
  summary_.counts_ = FeatureCounts(summary_);
  counting_ = true;
}

void ReferenceBuilder::add_numeric_reference(std::size_t feature, std::vector<double>& sample) {
  std::sort(sample.begin(), sample.end());
  NumericReference reference;
  reference.binning = NumericBinning::from_sorted_sample(sample, summary_.options_);
  if (!sample.empty()) shift_[feature] = sample[sample.size() / 2];
  if (summary_.options_.keep_sample) reference.sample = sample;
  summary_.numeric_.push_back(std::move(reference));
}

void ReferenceBuilder::count(const FeatureBatchView& batch) {
  if (!counting_) place_edges();
  // One pass per column for the bins and the shifted sums of the standard deviation.
  FeatureCounts& counts = summary_.counts_;
  visit_numeric_columns(batch, 0, batch.rows, summary_.columns_.numeric,
                        [&](std::size_t f, std::span<const double> values) {
                          counts.numeric[f].add_all(values, summary_.numeric_[f].binning);
                          double sum = 0, squares = 0;
                          for (const double value : values) {
                            if (!std::isfinite(value)) continue;
                            const double shifted = value - shift_[f];
                            sum += shifted;
                            squares += shifted * shifted;
                          }
                          shifted_sum_[f] += sum;
                          shifted_squares_[f] += squares;
                        });
  counts.add_categorical(batch, 0, batch.rows, summary_);
  counts.rows += batch.rows;
}

ReferenceSummary ReferenceBuilder::finish() {
  if (!counting_) place_edges();
  for (std::size_t f = 0; f < summary_.numeric_.size(); ++f) {
    NumericReference& feature = summary_.numeric_[f];
    const double n = static_cast<double>(summary_.counts_.numeric[f].present);
    feature.sampled_from = summary_.counts_.numeric[f].present;
    if (n == 0) continue;
    const double mean_shifted = shifted_sum_[f] / n;
    feature.mean = shift_[f] + mean_shifted;
    feature.std = std::sqrt(std::max(0.0, shifted_squares_[f] / n - mean_shifted * mean_shifted));
  }
  return std::move(summary_);
}

ReferenceSummary build_reference(const FeatureBatchView& view, FeatureColumns columns,
                                 const SummaryOptions& options) {
  ReferenceBuilder builder(std::move(columns), options);
  builder.sample(view);
  builder.count(view);
  return builder.finish();
}

}  // namespace ctd::triggers::drift

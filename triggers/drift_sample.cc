#include "triggers/drift_sample.h"

#include <algorithm>
#include <cmath>

namespace ctd::triggers::drift {

NumericRowSample::NumericRowSample(std::size_t capacity, std::vector<std::size_t> columns,
                                   std::uint64_t seed)
    : capacity_(capacity), columns_(std::move(columns)), seed_(seed), random_(seed) {}

void NumericRowSample::add(const FeatureBatchView& batch, std::size_t begin, std::size_t end) {
  const std::size_t width = columns_.size();
  for (std::size_t row = begin; row < end; ++row) {
    std::uint64_t slot = seen_++;
    if (slot >= capacity_) slot = std::uniform_int_distribution<std::uint64_t>(0, slot)(random_);
    if (slot >= capacity_) continue;
    if (slot * width == rows_.size()) rows_.resize(rows_.size() + width);
    for (std::size_t f = 0; f < width; ++f) {
      rows_[slot * width + f] = batch.numeric_at(row, columns_[f]);
    }
  }
}

std::vector<std::vector<double>> NumericRowSample::sorted_columns() const {
  const std::size_t width = columns_.size();
  std::vector<std::vector<double>> out(width);
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    if (std::isfinite(rows_[i])) out[i % width].push_back(rows_[i]);
  }
  for (std::vector<double>& column : out) std::sort(column.begin(), column.end());
  return out;
}

void NumericRowSample::clear() {
  rows_.clear();
  seen_ = 0;
  random_.seed(seed_);
}

}  // namespace ctd::triggers::drift

// A bounded uniform sample of rows (reservoir sampling, algorithm R) of some numeric columns:
// the current side of an exact two-sample KS test, whatever the number of rows seen.
// Memory: capacity x columns doubles.
//
// Thread-safety: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "triggers/trigger.h"

namespace ctd::triggers::drift {

class NumericRowSample {
 public:
  NumericRowSample(std::size_t capacity, std::vector<std::size_t> columns, std::uint64_t seed);

  // Offers rows [begin, end) of `batch`; each row seen so far is in the sample with equal
  // probability capacity / seen.
  void add(const FeatureBatchView& batch, std::size_t begin, std::size_t end);
  // The sampled finite values of each column, ascending.
  std::vector<std::vector<double>> sorted_columns() const;
  std::uint64_t seen() const { return seen_; }
  void clear();

 private:
  std::size_t capacity_;
  std::vector<std::size_t> columns_;
  std::uint64_t seed_;
  std::mt19937_64 random_;
  std::uint64_t seen_ = 0;
  std::vector<double> rows_;  // row-major, up to capacity x columns
};

}  // namespace ctd::triggers::drift

// Test helpers for the drift statistics: runs tests/triggers/oracle/drift_oracle.py (numpy and
// scipy under Debian's /usr/bin/python3) on a JSON request and returns its JSON answer, and
// builds seeded data sets as FeatureBatchViews.
//
// Thread-safety: none; each test owns its objects.
#pragma once

#include <gtest/gtest.h>
#include <stdio.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"
#include "triggers/trigger.h"

namespace ctd::triggers::testing {

// Runs the oracle; throws with its output when it fails.
inline nlohmann::json run_oracle(const nlohmann::json& request) {
  ctd::testing::TempDir dir("ctd-drift-oracle");
  const std::string path = dir.write("request.json", request.dump());
  const std::string command =
      "/usr/bin/python3 " CTD_SOURCE_DIR "/tests/triggers/oracle/drift_oracle.py " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string output;
  char buffer[65536];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error("oracle failed: " + output);
  return nlohmann::json::parse(output);
}

// Doubles as JSON, NaN as null (the oracle reads null as missing).
inline nlohmann::json to_json_values(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) {
    if (std::isnan(v)) {
      out.push_back(nullptr);
    } else {
      out.push_back(v);
    }
  }
  return out;
}

// Normal values with `missing_share` of them NaN.
inline std::vector<double> normal_values(std::mt19937_64& random, std::size_t n, double mean,
                                         double std, double missing_share = 0) {
  std::normal_distribution<double> normal(mean, std);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> values(n);
  for (double& v : values) v = uniform(random) < missing_share ? std::nan("") : normal(random);
  return values;
}

// Owns the storage of a FeatureBatchView: numeric columns and categorical columns given
// column by column (an empty optional = missing).
class Table {
 public:
  Table(std::vector<std::vector<double>> numeric,
        std::vector<std::vector<std::optional<std::string>>> categorical) {
    rows_ = !numeric.empty() ? numeric[0].size() : categorical.empty() ? 0 : categorical[0].size();
    for (std::size_t r = 0; r < rows_; ++r) {
      for (const auto& column : numeric) numeric_.push_back(column[r]);
      for (const auto& column : categorical) {
        categorical_.push_back(column[r].value_or(""));
        set_.push_back(column[r].has_value() ? 1 : 0);
      }
    }
    numeric_width_ = numeric.size();
    categorical_width_ = categorical.size();
  }
  FeatureBatchView view() const { return slice(0, rows_); }
  // Rows [begin, end) as a view.
  FeatureBatchView slice(std::size_t begin, std::size_t end) const {
    FeatureBatchView v;
    v.rows = end - begin;
    v.numeric_width = numeric_width_;
    v.categorical_width = categorical_width_;
    v.numeric =
        std::span<const double>(numeric_).subspan(begin * numeric_width_, v.rows * numeric_width_);
    v.categorical = std::span<const std::string>(categorical_)
                        .subspan(begin * categorical_width_, v.rows * categorical_width_);
    v.categorical_set = std::span<const std::uint8_t>(set_).subspan(begin * categorical_width_,
                                                                    v.rows * categorical_width_);
    return v;
  }
  std::size_t rows() const { return rows_; }

 private:
  std::size_t rows_ = 0, numeric_width_ = 0, categorical_width_ = 0;
  std::vector<double> numeric_;
  std::vector<std::string> categorical_;
  std::vector<std::uint8_t> set_;
};

}  // namespace ctd::triggers::testing

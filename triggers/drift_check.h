// A drift check: compares the current counts of every feature with the reference summary,
// decides per feature (static threshold or a dynamic quantile of past distances) and for the
// dataset (share of drifted features, or any feature after a multiple-testing correction),
// and reports every statistic with its threshold as evidence.
//
// Cost: O(features x bins) per check, independent of the number of rows behind the counts.
// Thread-safety: none; a DistanceHistory has one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "triggers/drift_summary.h"

namespace ctd::triggers::drift {

enum class DriftMetric {
  kPsi,                // numeric (coarse bins) and categorical; distance
  kJensenShannon,      // numeric (coarse bins) and categorical; distance, base 2
  kWasserstein,        // numeric; W1 / reference std, from fine-bin means
  kKolmogorovSmirnov,  // numeric; p-value test
  kChiSquared,         // categorical; p-value test
  kLInfinity,          // categorical; distance
};
enum class ThresholdPolicy { kStatic, kDynamicQuantile };
enum class DatasetRule { kShare, kAny };
enum class Correction { kNone, kBonferroni, kBenjaminiHochberg };

std::string_view to_string(DriftMetric metric);
std::optional<DriftMetric> parse_metric(std::string_view text);  // "psi", "js", "ks", ...
bool applies_to_numeric(DriftMetric metric);
bool applies_to_categorical(DriftMetric metric);
bool is_p_value_test(DriftMetric metric);
// Default static thresholds: 0.1 for distances (Evidently's), alpha 0.05 for tests.
double default_threshold(DriftMetric metric);

struct DecisionOptions {
  DriftMetric numeric_metric = DriftMetric::kWasserstein;
  DriftMetric categorical_metric = DriftMetric::kJensenShannon;
  std::optional<double> numeric_threshold;      // default_threshold(numeric_metric) when empty
  std::optional<double> categorical_threshold;  // likewise
  ThresholdPolicy policy = ThresholdPolicy::kStatic;
  // Dynamic policy: a feature drifts when its distance exceeds this quantile of its last
  // `history` distances, once it has at least `min_history` of them.
  double quantile = 0.95;
  std::size_t history = 50;
  std::size_t min_history = 10;
  DatasetRule rule = DatasetRule::kShare;
  double drift_share = 0.5;  // kShare: dataset drift when drifted / evaluated >= this
  Correction correction = Correction::kNone;  // for p-value tests
  // A feature with fewer present values than this on either side is not evaluated.
  std::uint64_t min_samples = 1;
};

// Returns an empty string when valid, else what is wrong.
std::string validate(const DecisionOptions& options);

// Every statistic computed for one feature; absent ones do not apply to its type.
struct FeatureStatistics {
  std::optional<double> psi;
  std::optional<double> jensen_shannon;
  std::optional<double> wasserstein;              // normed by the reference std
  std::optional<double> wasserstein_error_bound;  // |binned - exact| <= this
  std::optional<double> ks_statistic;
  std::optional<double> ks_p_value;
  std::optional<double> ks_error_bound;              // binned KS: D_exact - D <= this; 0 if exact
  std::optional<std::uint64_t> ks_sample_reference;  // exact KS: sample sizes used
  std::optional<std::uint64_t> ks_sample_current;
  std::optional<double> chi_squared;
  std::optional<double> chi_squared_p_value;
  std::optional<int> chi_squared_dof;
  std::optional<double> l_infinity;
};

struct FeatureDrift {
  std::string feature;
  bool categorical = false;
  FeatureStatistics statistics;
  DriftMetric metric = DriftMetric::kWasserstein;  // the one that decides
  bool evaluated = false;  // false: too few samples, or the dynamic policy is calibrating
  std::string note;        // why not evaluated
  double value = 0;        // compared value: distance, or (corrected) p-value
  double threshold = 0;    // static threshold / alpha, or the dynamic quantile
  bool drifted = false;
  std::uint64_t reference_count = 0;  // present values
  std::uint64_t reference_missing = 0;
  std::uint64_t current_count = 0;
  std::uint64_t current_missing = 0;
  std::uint64_t current_unseen = 0;  // categorical: values of categories the reference lacks
  std::map<std::string, std::uint64_t> unseen_examples;
};

struct DatasetDrift {
  bool drifted = false;
  std::size_t drifted_features = 0;
  std::size_t evaluated_features = 0;
  double share = 0;  // drifted / evaluated
};

struct DriftReport {
  std::vector<FeatureDrift> features;
  DatasetDrift dataset;
  DecisionOptions options;
};

// Per-feature distances of past checks, for the dynamic quantile policy.
class DistanceHistory {
 public:
  void reset(std::size_t features) { distances_.assign(features, {}); }
  const std::deque<double>& of(std::size_t feature) const { return distances_.at(feature); }
  void push(std::size_t feature, double distance, std::size_t capacity);

 private:
  std::vector<std::deque<double>> distances_;
};

// The current side's samples for an exact KS test (ascending), per numeric feature; used for
// a feature when the reference kept its sample too (SummaryOptions::keep_sample). Without
// them KS is computed from the bins.
struct KsSamples {
  const std::vector<std::vector<double>>* current = nullptr;  // per numeric feature
};

// Runs a check. `history` is read and extended under the dynamic policy (it must have been
// reset to the feature count); with a null history every feature is decided statically.
// REQUIRES: `current` was shaped for `reference`; options valid.
DriftReport check(const ReferenceSummary& reference, const FeatureCounts& current,
                  const DecisionOptions& options, DistanceHistory* history,
                  const KsSamples& samples = {});

nlohmann::json to_json(const FeatureDrift& feature);
nlohmann::json to_json(const DriftReport& report);

}  // namespace ctd::triggers::drift

// Decisions of a drift check: the dataset rule (share of drifted features, or any feature
// after a Bonferroni / Benjamini-Hochberg correction) and the dynamic quantile policy, with
// adjusted p-values and quantiles checked against numpy.
#include <gtest/gtest.h>

#include <random>

#include "tests/triggers/drift_oracle.h"
#include "triggers/drift_check.h"

namespace ctd::triggers::drift {
namespace {

using testing::run_oracle;
using testing::Table;
constexpr double kExact = 1e-9;

FeatureLayout numeric_layout(std::size_t n) {
  FeatureLayout layout;
  for (std::size_t i = 0; i < n; ++i)
    layout.numeric.push_back(std::string("x").append(std::to_string(i)));
  return layout;
}

// Columns of normal data, column i shifted by shifts[i] standard deviations.
Table shifted_table(std::mt19937_64& random, std::size_t rows, const std::vector<double>& shifts) {
  std::vector<std::vector<double>> columns;
  for (double shift : shifts) columns.push_back(testing::normal_values(random, rows, shift, 1));
  return Table(columns, {});
}

struct Fixture {
  ReferenceSummary reference;
  FeatureCounts current;
};

Fixture summarise(const Table& reference, const Table& current, std::size_t features) {
  ReferenceSummary summary = build_reference(
      reference.view(), FeatureColumns::select(numeric_layout(features), {}, nullptr), {});
  FeatureCounts counts(summary);
  counts.add(current.view(), 0, current.rows(), summary);
  return {std::move(summary), std::move(counts)};
}

TEST(DriftCheck, DatasetDriftsWhenTheShareOfDriftedFeaturesReachesDriftShare) {
  std::mt19937_64 random(8);
  const Table reference = shifted_table(random, 5000, {0, 0, 0, 0});
  const Table current = shifted_table(random, 5000, {1, 0.8, 0, 0});
  const Fixture f = summarise(reference, current, 4);
  DecisionOptions options;  // Wasserstein >= 0.1, share >= 0.5
  DriftReport report = check(f.reference, f.current, options, nullptr);
  ASSERT_EQ(report.features.size(), 4u);
  EXPECT_TRUE(report.features[0].drifted);
  EXPECT_TRUE(report.features[1].drifted);
  EXPECT_FALSE(report.features[2].drifted);
  EXPECT_FALSE(report.features[3].drifted);
  EXPECT_EQ(report.dataset.drifted_features, 2u);
  EXPECT_DOUBLE_EQ(report.dataset.share, 0.5);
  EXPECT_TRUE(report.dataset.drifted);
  options.drift_share = 0.75;
  report = check(f.reference, f.current, options, nullptr);
  EXPECT_FALSE(report.dataset.drifted);
  options.rule = DatasetRule::kAny;
  report = check(f.reference, f.current, options, nullptr);
  EXPECT_TRUE(report.dataset.drifted);
  const nlohmann::json json = to_json(report);
  EXPECT_EQ(json["dataset"]["rule"], "any");
  EXPECT_EQ(json["features"][0]["metric"], "wasserstein");
  EXPECT_EQ(json["features"][0]["threshold"], 0.1);
  EXPECT_TRUE(json["features"][0]["statistics"].contains("ks_p_value"));
}

TEST(DriftCheck, CorrectionsAdjustKsPValuesLikeTheirDefinitions) {
  std::mt19937_64 random(31);
  std::vector<double> shifts;
  for (int i = 0; i < 12; ++i) shifts.push_back(0.012 * i);
  const Table reference = shifted_table(random, 6000, std::vector<double>(12, 0.0));
  const Table current = shifted_table(random, 3000, shifts);
  const Fixture f = summarise(reference, current, 12);
  DecisionOptions options;
  options.numeric_metric = DriftMetric::kKolmogorovSmirnov;
  options.rule = DatasetRule::kAny;
  const DriftReport raw = check(f.reference, f.current, options, nullptr);
  std::vector<double> p_values;
  for (const FeatureDrift& feature : raw.features)
    p_values.push_back(*feature.statistics.ks_p_value);
  const nlohmann::json oracle = run_oracle({{"op", "functions"}, {"p_values", p_values}});
  std::size_t drifted[3] = {0, 0, 0};
  const Correction corrections[3] = {Correction::kNone, Correction::kBenjaminiHochberg,
                                     Correction::kBonferroni};
  const char* keys[3] = {nullptr, "benjamini_hochberg", "bonferroni"};
  for (int c = 0; c < 3; ++c) {
    options.correction = corrections[c];
    const DriftReport report = check(f.reference, f.current, options, nullptr);
    for (std::size_t i = 0; i < report.features.size(); ++i) {
      const double expected = keys[c] == nullptr ? p_values[i] : oracle[keys[c]][i].get<double>();
      EXPECT_NEAR(report.features[i].value, expected, kExact);
      EXPECT_EQ(report.features[i].drifted, expected < 0.05);
      drifted[c] += report.features[i].drifted ? 1 : 0;
    }
    EXPECT_EQ(report.dataset.drifted, drifted[c] > 0);
  }
  // Each correction is more conservative than the one before, and they differ on these data.
  EXPECT_GE(drifted[0], drifted[1]);
  EXPECT_GE(drifted[1], drifted[2]);
  EXPECT_GT(drifted[0], drifted[2]);
  EXPECT_GT(drifted[2], 0u);
}

TEST(DriftCheck, DynamicQuantileCalibratesThenFiresAboveTheQuantileOfPastDistances) {
  std::mt19937_64 random(17);
  const Table reference = shifted_table(random, 4000, {0, 0});
  ReferenceSummary summary =
      build_reference(reference.view(), FeatureColumns::select(numeric_layout(2), {}, nullptr), {});
  DecisionOptions options;
  options.policy = ThresholdPolicy::kDynamicQuantile;
  options.numeric_metric = DriftMetric::kKolmogorovSmirnov;
  options.quantile = 0.9;
  options.history = 8;
  options.min_history = 5;
  DistanceHistory history;
  history.reset(2);
  std::vector<double> past;  // feature 0's distances, as the oracle will see them
  for (int window = 0; window < 12; ++window) {
    const bool shifted = window == 11;
    const Table current = shifted_table(random, 500, {shifted ? 0.8 : 0.0, 0.0});
    FeatureCounts counts(summary);
    counts.add(current.view(), 0, current.rows(), summary);
    const DriftReport report = check(summary, counts, options, &history);
    const FeatureDrift& f = report.features[0];
    EXPECT_EQ(f.value, *f.statistics.ks_statistic);  // the dynamic policy tracks D
    if (window < 5) {
      EXPECT_FALSE(f.evaluated);
      EXPECT_NE(f.note.find("calibrating"), std::string::npos);
      EXPECT_FALSE(report.dataset.drifted);
    } else {
      std::vector<double> last(past.end() - std::min<std::size_t>(past.size(), 8), past.end());
      const nlohmann::json oracle =
          run_oracle({{"op", "functions"}, {"quantile", {{"values", last}, {"q", {0.9}}}}});
      EXPECT_TRUE(f.evaluated);
      EXPECT_NEAR(f.threshold, oracle["quantile"][0].get<double>(), kExact);
      EXPECT_EQ(f.drifted, f.value > f.threshold);
    }
    if (shifted) {
      EXPECT_TRUE(f.drifted);
      EXPECT_TRUE(report.dataset.drifted);  // 1 of 2 features: share 0.5
    }
    past.push_back(f.value);
  }
  EXPECT_EQ(history.of(0).size(), 8u);
}

}  // namespace
}  // namespace ctd::triggers::drift

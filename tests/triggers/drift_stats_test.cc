// The drift statistics against numpy/scipy (tests/triggers/oracle/drift_oracle.py): every
// function here is exact, so it must agree to 1e-9.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/triggers/drift_oracle.h"
#include "triggers/drift_stats.h"

namespace ctd::triggers::drift {
namespace {

using testing::run_oracle;
constexpr double kExact = 1e-9;

std::vector<double> random_counts(std::mt19937_64& random, std::size_t n, double zero_share) {
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> counts(n);
  for (double& c : counts) c = uniform(random) < zero_share ? 0 : std::floor(uniform(random) * 500);
  counts[0] += 1;  // never all zero
  return counts;
}

TEST(DriftStats, KolmogorovSurvivalMatchesScipy) {
  std::vector<double> xs;
  for (double x = 0.01; x < 4; x += 0.037) xs.push_back(x);
  const nlohmann::json oracle = run_oracle({{"op", "functions"}, {"kolmogorov", xs}});
  for (std::size_t i = 0; i < xs.size(); ++i) {
    EXPECT_NEAR(kolmogorov_survival(xs[i]), oracle["kolmogorov"][i].get<double>(), kExact)
        << "x = " << xs[i];
  }
}

TEST(DriftStats, IncompleteGammaAndChiSquaredSurvivalMatchScipy) {
  nlohmann::json gamma = nlohmann::json::array(), chi = nlohmann::json::array();
  for (double a : {0.5, 1.0, 2.5, 7.0, 30.0, 250.0}) {
    for (double x : {0.0, 0.01, 0.3, 1.0, 2.7, 6.0, 25.0, 90.0, 300.0}) gamma.push_back({a, x});
  }
  for (int k : {1, 2, 3, 9, 40, 200}) {
    for (double x : {0.001, 0.5, 3.84, 11.0, 60.0, 250.0}) chi.push_back({x, k});
  }
  const nlohmann::json oracle =
      run_oracle({{"op", "functions"}, {"gammaincc", gamma}, {"chi2_sf", chi}});
  for (std::size_t i = 0; i < gamma.size(); ++i) {
    const double expected = oracle["gammaincc"][i];
    const double got = regularized_gamma_q(gamma[i][0], gamma[i][1]);
    EXPECT_NEAR(got, expected, kExact) << gamma[i];
    if (expected > 1e-300) {
      EXPECT_NEAR(got / expected, 1.0, 1e-9) << gamma[i];
    }
  }
  for (std::size_t i = 0; i < chi.size(); ++i) {
    EXPECT_NEAR(chi_squared_survival(chi[i][0], chi[i][1]), oracle["chi2_sf"][i].get<double>(),
                kExact)
        << chi[i];
  }
}

TEST(DriftStats, QuantilesAreNumpysLinearQuantilesBitForBit) {
  std::mt19937_64 random(7);
  std::vector<double> values = testing::normal_values(random, 1001, 3, 2);
  for (int i = 0; i < 50; ++i) values.push_back(1.5);  // ties
  std::sort(values.begin(), values.end());
  std::vector<double> qs;
  for (int k = 0; k <= 100; ++k) qs.push_back(k / 100.0);
  qs.push_back(1.0 / 3);
  const nlohmann::json oracle =
      run_oracle({{"op", "functions"}, {"quantile", {{"values", values}, {"q", qs}}}});
  for (std::size_t i = 0; i < qs.size(); ++i) {
    EXPECT_EQ(quantile_linear(values, qs[i]), oracle["quantile"][i].get<double>()) << qs[i];
  }
}

TEST(DriftStats, KsTwoSampleMatchesScipyOnRandomShiftedAndTiedData) {
  std::mt19937_64 random(11);
  struct Case {
    std::vector<double> a, b;
  };
  std::vector<Case> cases;
  cases.push_back(
      {testing::normal_values(random, 800, 0, 1), testing::normal_values(random, 650, 0, 1)});
  cases.push_back(
      {testing::normal_values(random, 500, 0, 1), testing::normal_values(random, 900, 0.3, 1)});
  cases.push_back(
      {testing::normal_values(random, 300, 0, 1), testing::normal_values(random, 300, 0, 2)});
  Case ties;  // rounded to one decimal: many ties across both samples
  for (double v : testing::normal_values(random, 700, 0, 1))
    ties.a.push_back(std::round(v * 10) / 10);
  for (double v : testing::normal_values(random, 400, 0.1, 1))
    ties.b.push_back(std::round(v * 10) / 10);
  cases.push_back(ties);
  for (Case& c : cases) {
    std::sort(c.a.begin(), c.a.end());
    std::sort(c.b.begin(), c.b.end());
    const nlohmann::json oracle =
        run_oracle({{"op", "functions"}, {"ks", {{"a", c.a}, {"b", c.b}}}});
    const TestResult ks = ks_two_sample(c.a, c.b);
    EXPECT_NEAR(ks.statistic, oracle["ks"]["ks_statistic"].get<double>(), kExact);
    EXPECT_NEAR(ks.p_value, oracle["ks"]["ks_p_value"].get<double>(), kExact);
    // scipy's own asymptotic p-value uses the finite-n distribution: close, not equal.
    EXPECT_NEAR(ks.p_value, oracle["ks"]["ks_p_value_scipy_asymp"].get<double>(), 0.02);
  }
}

TEST(DriftStats, PsiJensenShannonLInfinityAndChiSquaredMatchScipyOnCounts) {
  std::mt19937_64 random(3);
  for (int trial = 0; trial < 12; ++trial) {
    const std::size_t n = 2 + trial * 3;
    const std::vector<double> reference = random_counts(random, n, trial % 3 == 0 ? 0.3 : 0.0);
    const std::vector<double> current = random_counts(random, n, trial % 2 == 0 ? 0.3 : 0.0);
    const nlohmann::json oracle =
        run_oracle({{"op", "counts"}, {"reference", reference}, {"current", current}});
    EXPECT_NEAR(population_stability_index(reference, current), oracle["psi"].get<double>(),
                kExact);
    EXPECT_NEAR(jensen_shannon_distance(reference, current), oracle["jensen_shannon"].get<double>(),
                kExact);
    EXPECT_NEAR(l_infinity_distance(reference, current), oracle["linf"].get<double>(), kExact);
    const ChiSquaredResult chi = chi_squared_homogeneity(reference, current);
    EXPECT_NEAR(chi.statistic, oracle["chi2"].get<double>(), 1e-9 * std::max(1.0, chi.statistic));
    EXPECT_NEAR(chi.p_value, oracle["chi2_p_value"].get<double>(), kExact);
    EXPECT_EQ(chi.dof, oracle["chi2_dof"].get<int>());
  }
}

TEST(DriftStats, IdenticalDistributionsHaveZeroDistance) {
  const std::vector<double> counts = {5, 0, 3, 9};
  const std::vector<double> doubled = {10, 0, 6, 18};
  EXPECT_NEAR(population_stability_index(counts, doubled), 0, kExact);
  EXPECT_NEAR(jensen_shannon_distance(counts, doubled), 0, kExact);
  EXPECT_NEAR(chi_squared_homogeneity(counts, doubled).statistic, 0, kExact);
  EXPECT_NEAR(chi_squared_homogeneity(counts, doubled).p_value, 1, kExact);
}

TEST(DriftStats, WeightedWassersteinMatchesScipy) {
  std::mt19937_64 random(5);
  std::vector<double> u = testing::normal_values(random, 40, 0, 1);
  std::vector<double> v = testing::normal_values(random, 55, 0.7, 1.3);
  std::sort(u.begin(), u.end());
  std::sort(v.begin(), v.end());
  v[3] = v[4];    // a shared position inside one set
  u[10] = v[20];  // and across sets
  std::sort(u.begin(), u.end());
  const std::vector<double> wu = random_counts(random, u.size(), 0.1);
  const std::vector<double> wv = random_counts(random, v.size(), 0.1);
  const nlohmann::json oracle = run_oracle(
      {{"op", "functions"}, {"wasserstein", {{"u", u}, {"v", v}, {"wu", wu}, {"wv", wv}}}});
  EXPECT_NEAR(wasserstein_distance(u, wu, v, wv), oracle["wasserstein"].get<double>(), kExact);
}

TEST(DriftStats, CorrectionsMatchTheirDefinitions) {
  const std::vector<double> p = {0.01, 0.04, 0.03, 0.2, 0.0001, 0.04, 0.9, 0.012};
  const nlohmann::json oracle = run_oracle({{"op", "functions"}, {"p_values", p}});
  const std::vector<double> bonf = bonferroni(p);
  const std::vector<double> bh = benjamini_hochberg(p);
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_NEAR(bonf[i], oracle["bonferroni"][i].get<double>(), kExact);
    EXPECT_NEAR(bh[i], oracle["benjamini_hochberg"][i].get<double>(), kExact);
  }
  EXPECT_NEAR(bh[4], 0.0008, kExact);  // smallest of 8: 8 x 0.0001
}

}  // namespace
}  // namespace ctd::triggers::drift

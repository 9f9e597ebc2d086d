// Two-sample drift statistics on counts, probabilities and sorted samples: the formulas behind
// the drift trigger and `ctd drift`, free of any windowing or bookkeeping.
//
// Each function mirrors a named numpy/scipy computation (tests/triggers/oracle/drift_oracle.py
// checks them to 1e-9); docs/drift.md gives the formulas. All functions are pure and
// thread-safe. Count vectors of the two distributions are aligned bin by bin (or category by
// category) and must have equal length.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace ctd::triggers::drift {

// Share that replaces an empty bin's share in PSI, so that the logarithm stays finite (the
// value Evidently uses).
inline constexpr double kPsiEmptyBinShare = 1e-4;

// Population stability index of `current` against `reference` (bin counts, normalised here):
// sum over bins of (q - p) * ln(q / p), empty shares replaced by kPsiEmptyBinShare.
double population_stability_index(std::span<const double> reference,
                                  std::span<const double> current);

// Jensen-Shannon distance with base-2 logarithms, in [0, 1]: the square root of the
// divergence; scipy.spatial.distance.jensenshannon(p, q, base=2).
double jensen_shannon_distance(std::span<const double> reference, std::span<const double> current);

// Largest absolute difference between the two normalised frequency vectors (L-infinity).
double l_infinity_distance(std::span<const double> reference, std::span<const double> current);

// First Wasserstein distance between two weighted point sets (positions ascending within each
// set, weights >= 0 and normalised here): scipy.stats.wasserstein_distance(u, v, wu, wv).
double wasserstein_distance(std::span<const double> positions_a, std::span<const double> weights_a,
                            std::span<const double> positions_b, std::span<const double> weights_b);

// Largest absolute difference between the two cumulative distributions over aligned bins.
double max_cdf_distance(std::span<const double> reference, std::span<const double> current);

struct TestResult {
  double statistic = 0;
  double p_value = 1;
};

// P(K > x) for the Kolmogorov distribution K (the limit of sqrt(n) * D_n):
// scipy.special.kolmogorov(x).
double kolmogorov_survival(double x);

// Asymptotic two-sided p-value of a two-sample KS statistic `d` for samples of sizes n and m:
// kolmogorov_survival(sqrt(n m / (n + m)) * d).
double ks_asymptotic_p_value(double d, double n, double m);

// Two-sample Kolmogorov-Smirnov test on ascending samples: the exact statistic (as
// scipy.stats.ks_2samp) and the asymptotic p-value above.
TestResult ks_two_sample(std::span<const double> sorted_a, std::span<const double> sorted_b);

// Regularised upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0:
// scipy.special.gammaincc(a, x).
double regularized_gamma_q(double a, double x);

// Survival function of the chi-squared distribution: scipy.stats.chi2.sf(x, dof).
double chi_squared_survival(double x, double dof);

struct ChiSquaredResult {
  double statistic = 0;
  double p_value = 1;
  int dof = 0;
};

// Chi-squared test of homogeneity on the 2 x k table of category counts (categories that
// neither sample has are left out; no continuity correction):
// scipy.stats.chi2_contingency(table, correction=False).
ChiSquaredResult chi_squared_homogeneity(std::span<const double> reference,
                                         std::span<const double> current);

// Adjusted p-values for m simultaneous tests, in input order.
std::vector<double> bonferroni(std::span<const double> p_values);          // min(1, m p)
std::vector<double> benjamini_hochberg(std::span<const double> p_values);  // step-up FDR

// The q-quantile of ascending `sorted` values with linear interpolation between order
// statistics: numpy.quantile(values, q) (its default method). REQUIRES: sorted non-empty.
double quantile_linear(std::span<const double> sorted, double q);

}  // namespace ctd::triggers::drift

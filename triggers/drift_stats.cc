#include "triggers/drift_stats.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

namespace ctd::triggers::drift {
namespace {

// Series and continued fractions stop when a term changes the sum by less than this.
constexpr double kRelativeEpsilon = 1e-16;
constexpr int kMaxIterations = 10000;
// Below this the Kolmogorov CDF is 0 to double precision; the theta-function form converges
// quickly below kKolmogorovSwitch and the alternating series above it.
constexpr double kKolmogorovTiny = 0.04;
constexpr double kKolmogorovSwitch = 1.0;

double total(std::span<const double> counts) {
  return std::accumulate(counts.begin(), counts.end(), 0.0);
}

std::vector<double> normalised(std::span<const double> counts) {
  const double sum = total(counts);
  std::vector<double> shares(counts.begin(), counts.end());
  if (sum > 0) {
    for (double& share : shares) share /= sum;
  }
  return shares;
}

// x * ln(x / y) with the limits scipy.special.rel_entr uses (0 at x = 0).
double relative_entropy_term(double x, double y) {
  if (x == 0) return 0;
  return x * std::log(x / y);
}

// Series for the regularised lower incomplete gamma P(a, x); converges fast for x < a + 1.
double gamma_p_series(double a, double x) {
  double term = 1.0 / a;
  double sum = term;
  for (int n = 1; n < kMaxIterations; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::abs(term) < std::abs(sum) * kRelativeEpsilon) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Continued fraction (modified Lentz) for Q(a, x); converges fast for x >= a + 1.
double gamma_q_continued_fraction(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a;
  double c = 1 / kTiny;
  double d = 1 / b;
  double h = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < kRelativeEpsilon) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

}  // namespace

double population_stability_index(std::span<const double> reference,
                                  std::span<const double> current) {
  const std::vector<double> p = normalised(reference);
  const std::vector<double> q = normalised(current);
  double psi = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] == 0 ? kPsiEmptyBinShare : p[i];
    const double qi = q[i] == 0 ? kPsiEmptyBinShare : q[i];
    psi += (qi - pi) * std::log(qi / pi);
  }
  return psi;
}

double jensen_shannon_distance(std::span<const double> reference, std::span<const double> current) {
  const std::vector<double> p = normalised(reference);
  const std::vector<double> q = normalised(current);
  double left = 0, right = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double m = (p[i] + q[i]) / 2;
    left += relative_entropy_term(p[i], m);
    right += relative_entropy_term(q[i], m);
  }
  const double divergence = (left + right) / std::numbers::ln2;
  return std::sqrt(std::max(0.0, divergence / 2));
}

double l_infinity_distance(std::span<const double> reference, std::span<const double> current) {
  const std::vector<double> p = normalised(reference);
  const std::vector<double> q = normalised(current);
  double largest = 0;
  for (std::size_t i = 0; i < p.size(); ++i) largest = std::max(largest, std::abs(p[i] - q[i]));
  return largest;
}

double wasserstein_distance(std::span<const double> positions_a, std::span<const double> weights_a,
                            std::span<const double> positions_b,
                            std::span<const double> weights_b) {
  const double total_a = total(weights_a);
  const double total_b = total(weights_b);
  if (total_a <= 0 || total_b <= 0) return 0;
  // Walk the merged positions; between consecutive ones both CDFs are constant.
  std::size_t i = 0, j = 0;
  double cdf_a = 0, cdf_b = 0, distance = 0;
  double previous = 0;
  bool started = false;
  while (i < positions_a.size() || j < positions_b.size()) {
    const bool take_a =
        j == positions_b.size() || (i < positions_a.size() && positions_a[i] <= positions_b[j]);
    const double x = take_a ? positions_a[i] : positions_b[j];
    if (started) distance += std::abs(cdf_a - cdf_b) * (x - previous);
    if (take_a) {
      cdf_a += weights_a[i++] / total_a;
    } else {
      cdf_b += weights_b[j++] / total_b;
    }
    previous = x;
    started = true;
  }
  return distance;
}

double max_cdf_distance(std::span<const double> reference, std::span<const double> current) {
  const double total_p = total(reference);
  const double total_q = total(current);
  if (total_p <= 0 || total_q <= 0) return 0;
  double cum_p = 0, cum_q = 0, largest = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    cum_p += reference[i];
    cum_q += current[i];
    largest = std::max(largest, std::abs(cum_p / total_p - cum_q / total_q));
  }
  return largest;
}

double kolmogorov_survival(double x) {
  if (x <= kKolmogorovTiny) return 1.0;
  if (x < kKolmogorovSwitch) {
    // CDF = sqrt(2 pi) / x * sum_k exp(-(2k - 1)^2 pi^2 / (8 x^2)).
    const double factor = -std::numbers::pi * std::numbers::pi / (8 * x * x);
    double cdf = 0;
    for (int k = 1; k < 100; ++k) {
      const double odd = 2.0 * k - 1;
      const double term = std::exp(factor * odd * odd);
      cdf += term;
      if (term < kRelativeEpsilon * cdf) break;
    }
    cdf *= std::sqrt(2 * std::numbers::pi) / x;
    return std::clamp(1.0 - cdf, 0.0, 1.0);
  }
  // Survival = 2 sum_k (-1)^(k-1) exp(-2 k^2 x^2).
  double survival = 0;
  for (int k = 1; k < 100; ++k) {
    const double term = std::exp(-2.0 * k * k * x * x);
    survival += (k % 2 == 1 ? term : -term);
    if (term < kRelativeEpsilon * std::abs(survival)) break;
  }
  return std::clamp(2 * survival, 0.0, 1.0);
}

double ks_asymptotic_p_value(double d, double n, double m) {
  if (n <= 0 || m <= 0) return 1.0;
  return kolmogorov_survival(std::sqrt(n * m / (n + m)) * d);
}

TestResult ks_two_sample(std::span<const double> sorted_a, std::span<const double> sorted_b) {
  const double n = static_cast<double>(sorted_a.size());
  const double m = static_cast<double>(sorted_b.size());
  if (sorted_a.empty() || sorted_b.empty()) return {};
  std::size_t i = 0, j = 0;
  double largest = 0;
  while (i < sorted_a.size() && j < sorted_b.size()) {
    // Step both empirical CDFs past every copy of the next value, then compare.
    const double x = std::min(sorted_a[i], sorted_b[j]);
    while (i < sorted_a.size() && sorted_a[i] <= x) ++i;
    while (j < sorted_b.size() && sorted_b[j] <= x) ++j;
    largest = std::max(largest, std::abs(i / n - j / m));
  }
  return {.statistic = largest, .p_value = ks_asymptotic_p_value(largest, n, m)};
}

double regularized_gamma_q(double a, double x) {
  if (x <= 0) return 1.0;
  if (x < a + 1) return std::clamp(1.0 - gamma_p_series(a, x), 0.0, 1.0);
  return std::clamp(gamma_q_continued_fraction(a, x), 0.0, 1.0);
}

double chi_squared_survival(double x, double dof) { return regularized_gamma_q(dof / 2, x / 2); }

ChiSquaredResult chi_squared_homogeneity(std::span<const double> reference,
                                         std::span<const double> current) {
  const double rows[2] = {total(reference), total(current)};
  const double grand = rows[0] + rows[1];
  ChiSquaredResult result;
  if (rows[0] <= 0 || rows[1] <= 0) return result;
  int columns = 0;
  for (std::size_t c = 0; c < reference.size(); ++c) {
    const double column = reference[c] + current[c];
    if (column <= 0) continue;
    ++columns;
    const double observed[2] = {reference[c], current[c]};
    for (int r = 0; r < 2; ++r) {
      const double expected = rows[r] * column / grand;
      result.statistic += (observed[r] - expected) * (observed[r] - expected) / expected;
    }
  }
  result.dof = std::max(0, columns - 1);
  result.p_value = result.dof == 0 ? 1.0 : chi_squared_survival(result.statistic, result.dof);
  return result;
}

std::vector<double> bonferroni(std::span<const double> p_values) {
  std::vector<double> adjusted;
  adjusted.reserve(p_values.size());
  const double m = static_cast<double>(p_values.size());
  for (double p : p_values) adjusted.push_back(std::min(1.0, p * m));
  return adjusted;
}

std::vector<double> benjamini_hochberg(std::span<const double> p_values) {
  const std::size_t m = p_values.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running_min = 1.0;
  for (std::size_t rank = m; rank >= 1; --rank) {
    const std::size_t index = order[rank - 1];
    running_min = std::min(running_min, p_values[index] * static_cast<double>(m) / rank);
    adjusted[index] = running_min;
  }
  return adjusted;
}

double quantile_linear(std::span<const double> sorted, double q) {
  const double n = static_cast<double>(sorted.size());
  const double virtual_index = (n - 1) * q;  // as numpy computes it for method "linear"

  const double last = n - 1;
  if (virtual_index <= 0) return sorted.front();
  if (virtual_index >= last) return sorted.back();
  const double below = std::floor(virtual_index);
  const double gamma = virtual_index - below;
  const double a = sorted[static_cast<std::size_t>(below)];
  const double b = sorted[static_cast<std::size_t>(below) + 1];
  const double difference = b - a;
  // numpy's _lerp: from the nearer end, so the result is monotone in q.
  return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma;
}

}  // namespace ctd::triggers::drift

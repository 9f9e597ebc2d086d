// Binomial tolerances for the generator tests: a count of successes out of n independent
// trials of probability p is accepted within z standard deviations of n p (z = 5: a correct
// generator fails about once in 1.7 million checks; the seeds are fixed anyway).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace ctd::generators::testing {

inline ::testing::AssertionResult within_binomial(std::uint64_t successes, std::uint64_t n,
                                                  double p, double z = 5) {
  const double mean = static_cast<double>(n) * p;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  const double deviation = std::abs(static_cast<double>(successes) - mean);
  if (deviation <= z * sd + 1e-9) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << successes << " of " << n << " is " << deviation / sd << " standard deviations from "
         << mean << " (p = " << p << ")";
}

}  // namespace ctd::generators::testing

// The generators' source of randomness: std::mt19937_64 (whose output sequence the C++
// standard fixes) with our own conversions to doubles, integers and Gaussians, because the
// standard distributions' algorithms differ between library implementations. A seed gives the
// same stream on every run and every standard library; only the Gaussian's log/sqrt/cos go
// through libm.
//
// Thread-safety: none; each generator, mixer and noise source owns its own Random.
#pragma once

#include <cstdint>
#include <random>

namespace ctd::generators {

// A seed for the independent random stream number `stream` of a run seeded with `seed`
// (SplitMix64 of both), so that the streams of concepts, drift mixing and noise never overlap.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1), 53 random bits.
  double uniform();
  // Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Uniform integer in [0, n), without modulo bias. REQUIRES: n > 0.
  std::uint64_t index(std::uint64_t n);
  // Uniform integer in [low, high], both included. REQUIRES: low <= high.
  int integer(int low, int high);
  // True with probability p.
  bool bernoulli(double p) { return uniform() < p; }
  // Standard normal (Box-Muller, one value per call).
  double gaussian();

 private:
  std::mt19937_64 engine_;
};

}  // namespace ctd::generators

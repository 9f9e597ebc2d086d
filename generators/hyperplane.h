// Rotating hyperplane (Hulten, Spencer & Domingos, "Mining time-changing data streams", KDD
// 2001): d numeric features x1..xd uniform in [0, 1) and weights w; label 1 when
// sum w_i x_i >= sum w_i / 2, else 0. After each sample the first `drift_features` weights
// move by `magnitude` in their direction (+1 or -1), and each direction reverses with
// probability `sigma`: the boundary rotates continuously (incremental drift).
//
// Concept number n picks the initial weights (uniform in [0, 1), from a random stream of n
// alone, so concept n is the same hyperplane whatever the run's seed); directions start at +1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "generators/concept.h"
#include "generators/random.h"

namespace ctd::generators {

struct HyperplaneOptions {
  int features = 10;       // d >= 1
  int drift_features = 2;  // weights that move, 0..d
  double magnitude = 0.0;  // change of a moving weight per sample, >= 0
  double sigma = 0.1;      // probability that a moving weight reverses direction, in [0, 1]
};

// Empty when the options are usable, otherwise what is wrong.
std::string validate(const HyperplaneOptions& options);
StreamSchema hyperplane_schema(const HyperplaneOptions& options);

class HyperplaneConcept : public Concept {
 public:
  HyperplaneConcept(const HyperplaneOptions& options, int number, std::uint64_t seed);
  Sample next() override;
  // The weights the next sample is labeled with.
  const std::vector<double>& weights() const { return weights_; }

 private:
  HyperplaneOptions options_;
  std::vector<double> weights_;
  std::vector<double> directions_;
  Random random_;
};

}  // namespace ctd::generators

// Random radial basis functions with moving centroids (the RBF generator of Bifet, Holmes,
// Pfahringer, Kirkby & Gavaldà, "New ensemble methods for evolving data streams", KDD 2009):
// `centroids` centres uniform in [0, 1)^d, each with a class (uniform in [0, classes)), a
// standard deviation and a weight (both uniform in [0, 1)). A sample picks a centroid with
// probability proportional to its weight, then lies in a uniformly random direction from its
// centre at a distance drawn from N(0, std_dev); its label is the centroid's class. Features
// x1..xd are unbounded (a centre plus a Gaussian offset).
//
// Moving centroids: the first `drift_centroids` centres move by `speed` per sample along a
// random direction of their own, bouncing off the walls of the unit cube (incremental drift).
// Concept number n picks the centroids and their directions (a random stream of n alone, so
// concept n is the same model whatever the run's seed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "generators/concept.h"
#include "generators/random.h"

namespace ctd::generators {

struct RbfOptions {
  int features = 10;                                  // d >= 1
  int centroids = 50;                                 // >= 1
  int classes = 2;                                    // >= 2
  std::optional<int> drift_centroids = std::nullopt;  // moving centroids, 0..centroids; default all
  double speed = 0.0;  // distance a moving centre travels per sample, [0, 1]
};

std::string validate(const RbfOptions& options);
StreamSchema rbf_schema(const RbfOptions& options);

struct Centroid {
  std::vector<double> centre;
  int label = 0;
  double std_dev = 0;
  double weight = 0;
  std::vector<double> velocity;  // per sample; zero for a centroid that does not move
};

class RbfConcept : public Concept {
 public:
  RbfConcept(const RbfOptions& options, int number, std::uint64_t seed);
  Sample next() override;
  // The centroids as the next sample will see them.
  const std::vector<Centroid>& centroids() const { return centroids_; }
  // The centroid the last sample came from.
  std::size_t last_centroid() const { return last_; }

 private:
  std::size_t pick_centroid();
  void move_centroids();

  RbfOptions options_;
  std::vector<Centroid> centroids_;
  std::vector<double> cumulative_weights_;
  std::size_t last_ = 0;
  Random random_;
};

}  // namespace ctd::generators

#include "generators/random_rbf.h"

#include <algorithm>
#include <cmath>

namespace ctd::generators {
namespace {

constexpr std::uint64_t kModelStream = 0x72616e646f6d7262ULL;  // "randomrb"

// A uniformly random direction in d dimensions, scaled to `length`: a vector of uniform
// components in [-1, 1), normalised (drawn again in the rare case it is zero).
std::vector<double> random_direction(Random& random, int d, double length) {
  std::vector<double> v(d);
  double norm = 0;
  while (norm == 0) {
    norm = 0;
    for (double& x : v) {
      x = random.uniform(-1.0, 1.0);
      norm += x * x;
    }
  }
  norm = std::sqrt(norm);
  for (double& x : v) x *= length / norm;
  return v;
}

}  // namespace

std::string validate(const RbfOptions& o) {
  if (o.features < 1) return "rbf: --features must be at least 1";
  if (o.centroids < 1) return "rbf: --centroids must be at least 1";
  if (o.classes < 2) return "rbf: --classes must be at least 2";
  if (o.drift_centroids && (*o.drift_centroids < 0 || *o.drift_centroids > o.centroids)) {
    return "rbf: --drift-centroids must be in [0, --centroids]";
  }
  if (!(o.speed >= 0 && o.speed <= 1)) return "rbf: --speed must be in [0, 1]";
  return {};
}

StreamSchema rbf_schema(const RbfOptions& options) {
  StreamSchema schema;
  for (int i = 1; i <= options.features; ++i)
    schema.features.push_back(numeric_feature(numbered_name("x", i)));
  schema.num_classes = options.classes;
  return schema;
}

RbfConcept::RbfConcept(const RbfOptions& options, int number, std::uint64_t seed)
    : options_(options), random_(seed) {
  Random model(derive_seed(kModelStream, static_cast<std::uint64_t>(number)));
  const int moving = options.drift_centroids.value_or(options.centroids);
  double total = 0;
  for (int c = 0; c < options.centroids; ++c) {
    Centroid centroid;
    for (int i = 0; i < options.features; ++i) centroid.centre.push_back(model.uniform());
    centroid.label = static_cast<int>(model.index(options.classes));
    centroid.std_dev = model.uniform();
    centroid.weight = model.uniform();
    centroid.velocity = c < moving ? random_direction(model, options.features, options.speed)
                                   : std::vector<double>(options.features, 0.0);
    total += centroid.weight;
    cumulative_weights_.push_back(total);
    centroids_.push_back(std::move(centroid));
  }
}

std::size_t RbfConcept::pick_centroid() {
  const double target = random_.uniform() * cumulative_weights_.back();
  const auto it = std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), target);
  return std::min<std::size_t>(it - cumulative_weights_.begin(), centroids_.size() - 1);
}

Sample RbfConcept::next() {
  last_ = pick_centroid();
  const Centroid& centroid = centroids_[last_];
  const double distance = random_.gaussian() * centroid.std_dev;
  const std::vector<double> offset = random_direction(random_, options_.features, distance);
  Sample sample{.values = centroid.centre, .label = centroid.label};
  for (int i = 0; i < options_.features; ++i) sample.values[i] += offset[i];
  if (options_.speed > 0) move_centroids();
  return sample;
}

void RbfConcept::move_centroids() {
  for (Centroid& centroid : centroids_) {
    for (int i = 0; i < options_.features; ++i) {
      double& x = centroid.centre[i];
      x += centroid.velocity[i];
      // Reflect off the walls of the unit cube.
      if (x > 1 || x < 0) {
        x = x > 1 ? 2 - x : -x;
        centroid.velocity[i] = -centroid.velocity[i];
      }
    }
  }
}

}  // namespace ctd::generators

#include "generators/hyperplane.h"

namespace ctd::generators {
namespace {

// Random stream of a concept's model (its weights), apart from the run's streams.
constexpr std::uint64_t kModelStream = 0x6879706572706c61ULL;  // "hyperpla"

}  // namespace

std::string validate(const HyperplaneOptions& o) {
  if (o.features < 1) return "hyperplane: --features must be at least 1";
  if (o.drift_features < 0 || o.drift_features > o.features) {
    return "hyperplane: --drift-features must be in [0, --features]";
  }
  if (!(o.magnitude >= 0)) return "hyperplane: --magnitude must be >= 0";
  if (!(o.sigma >= 0 && o.sigma <= 1)) return "hyperplane: --sigma must be in [0, 1]";
  return {};
}

StreamSchema hyperplane_schema(const HyperplaneOptions& options) {
  StreamSchema schema;
  for (int i = 1; i <= options.features; ++i) {
    schema.features.push_back(numeric_feature(numbered_name("x", i), 0.0, 1.0));
  }
  return schema;
}

HyperplaneConcept::HyperplaneConcept(const HyperplaneOptions& options, int number,
                                     std::uint64_t seed)
    : options_(options), directions_(options.drift_features, 1.0), random_(seed) {
  Random model(derive_seed(kModelStream, static_cast<std::uint64_t>(number)));
  for (int i = 0; i < options.features; ++i) weights_.push_back(model.uniform());
}

Sample HyperplaneConcept::next() {
  Sample sample;
  double score = 0, total = 0;
  for (int i = 0; i < options_.features; ++i) {
    const double x = random_.uniform();
    sample.values.push_back(x);
    score += weights_[i] * x;
    total += weights_[i];
  }
  sample.label = score >= total / 2 ? 1 : 0;
  for (int i = 0; i < options_.drift_features; ++i) {
    weights_[i] += directions_[i] * options_.magnitude;
    if (random_.bernoulli(options_.sigma)) directions_[i] = -directions_[i];
  }
  return sample;
}

}  // namespace ctd::generators

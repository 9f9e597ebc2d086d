#include "generators/sea.h"

namespace ctd::generators {
namespace {

constexpr double kThresholds[kSeaConcepts] = {8.0, 9.0, 7.0, 9.5};
constexpr double kFeatureMax = 10.0;

}  // namespace

double sea_threshold(int number) { return kThresholds[number - 1]; }

StreamSchema sea_schema() {
  StreamSchema schema;
  for (const char* name : {"f1", "f2", "f3"}) {
    schema.features.push_back(numeric_feature(name, 0.0, kFeatureMax));
  }
  return schema;
}

SeaConcept::SeaConcept(int number, std::uint64_t seed)
    : threshold_(sea_threshold(number)), random_(seed) {}

Sample SeaConcept::next() {
  Sample sample;
  for (int i = 0; i < 3; ++i) sample.values.push_back(random_.uniform(0.0, kFeatureMax));
  sample.label = sample.values[0] + sample.values[1] <= threshold_ ? 1 : 0;
  return sample;
}

}  // namespace ctd::generators

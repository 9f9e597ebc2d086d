#include "generators/concept.h"

namespace ctd::generators {

FeatureDef numeric_feature(std::string name, std::optional<double> min, std::optional<double> max) {
  FeatureDef feature;
  feature.name = std::move(name);
  feature.min = min;
  feature.max = max;
  return feature;
}

FeatureDef categorical_feature(std::string name, std::vector<std::string> values) {
  FeatureDef feature;
  feature.name = std::move(name);
  feature.categorical = true;
  feature.values = std::move(values);
  return feature;
}

std::string numbered_name(const std::string& prefix, int number) {
  // Appended rather than concatenated: GCC 12 warns falsely on prefix + string at -O3.
  std::string name = prefix;
  name += std::to_string(number);
  return name;
}

}  // namespace ctd::generators

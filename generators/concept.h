// What every generator shares: the description of its features and label (StreamSchema), one
// drawn sample, and the Concept interface — one concept of a generator (a SEA threshold, an
// Agrawal function, one hyperplane, one set of RBF centroids) drawing samples from its own
// random stream.
//
// Thread-safety: none; a Concept is used by one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ctd::generators {

struct FeatureDef {
  std::string name;
  bool categorical = false;
  std::vector<std::string> values;  // categorical: the categories, in index order
  std::optional<double> min, max;   // numeric: the bounds every value respects, when there are
};

FeatureDef numeric_feature(std::string name, std::optional<double> min = std::nullopt,
                           std::optional<double> max = std::nullopt);
FeatureDef categorical_feature(std::string name, std::vector<std::string> values);
// "x1", "car20", ...: a prefix and a number.
std::string numbered_name(const std::string& prefix, int number);

struct StreamSchema {
  std::vector<FeatureDef> features;  // in the generator's order
  int num_classes = 2;               // labels are integers in [0, num_classes); 2: binary
};

// One sample: a value per feature in schema order — a categorical feature holds the index of
// its category in FeatureDef::values — and the label the concept gives it.
struct Sample {
  std::vector<double> values;
  int label = 0;
};

class Concept {
 public:
  virtual ~Concept() = default;
  // Draws the next sample. Generators with incremental drift (hyperplane, RBF) move after
  // each draw, so a concept that is not drawn does not move.
  virtual Sample next() = 0;
};

}  // namespace ctd::generators

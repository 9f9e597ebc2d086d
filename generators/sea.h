// SEA concepts (Street & Kim, "A streaming ensemble algorithm (SEA) for large-scale
// classification", KDD 2001): three numeric features f1, f2, f3 uniform in [0, 10); f3 is
// irrelevant. Concept k (1..4) has threshold 8, 9, 7, 9.5 and labels a point 1 when
// f1 + f2 <= threshold, else 0.
#pragma once

#include <cstdint>

#include "generators/concept.h"
#include "generators/random.h"

namespace ctd::generators {

inline constexpr int kSeaConcepts = 4;

// The threshold of SEA concept `number`. REQUIRES: 1 <= number <= kSeaConcepts.
double sea_threshold(int number);
StreamSchema sea_schema();

class SeaConcept : public Concept {
 public:
  SeaConcept(int number, std::uint64_t seed);
  Sample next() override;

 private:
  double threshold_;
  Random random_;
};

}  // namespace ctd::generators

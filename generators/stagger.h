// STAGGER concepts (Schlimmer & Granger, "Incremental learning from noisy data", Machine
// Learning 1986): three categorical features, size (small, medium, large), color (red, green,
// blue) and shape (square, circle, triangle), each uniform. Label 1 when the concept holds:
//   1: size = small and color = red
//   2: color = green or shape = circle
//   3: size = medium or size = large
#pragma once

#include <cstdint>

#include "generators/concept.h"
#include "generators/random.h"

namespace ctd::generators {

inline constexpr int kStaggerConcepts = 3;

StreamSchema stagger_schema();

class StaggerConcept : public Concept {
 public:
  StaggerConcept(int number, std::uint64_t seed) : number_(number), random_(seed) {}
  Sample next() override;

 private:
  int number_;
  Random random_;
};

}  // namespace ctd::generators

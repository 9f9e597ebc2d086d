// Agrawal's loan applicants (Agrawal, Imielinski & Swami, "Database mining: a performance
// perspective", IEEE TKDE 1993). Nine attributes, drawn as the paper defines them:
//   salary      uniform in [20000, 150000]
//   commission  0 if salary >= 75000, else uniform in [10000, 75000]
//   age         integer uniform in [20, 80]
//   elevel      categorical level0..level4 (education level 0..4), uniform
//   car         categorical car1..car20 (make of car), uniform
//   zipcode     categorical zipcode1..zipcode9, uniform
//   hvalue      uniform in [0.5 k 100000, 1.5 k 100000], k the zipcode's number (1..9)
//   hyears      integer uniform in [1, 30]
//   loan        uniform in [0, 500000]
// Concept k (1..10) is the paper's classification function k; the label is 1 when the
// applicant is in "Group A" (the function's predicate holds), else 0. Functions 7-10 compare a
// disposable income with 0 (function 10 through home equity = 0.1 hvalue max(hyears - 20, 0)).
//
// Perturbation p (the paper's perturbation factor) moves each numeric attribute except a
// zero commission by r p range, r uniform in [-0.5, 0.5], clamped to the attribute's range,
// after the label is computed: the class boundaries become fuzzy.
#pragma once

#include <cstdint>
#include <string>

#include "generators/concept.h"
#include "generators/random.h"

namespace ctd::generators {

inline constexpr int kAgrawalFunctions = 10;

struct AgrawalOptions {
  double perturbation = 0.0;  // in [0, 1]
};

// Feature positions in a Sample's values.
enum AgrawalFeature {
  kSalary,
  kCommission,
  kAge,
  kElevel,
  kCar,
  kZipcode,
  kHvalue,
  kHyears,
  kLoan,
};

std::string validate(const AgrawalOptions& options);
StreamSchema agrawal_schema();

class AgrawalConcept : public Concept {
 public:
  AgrawalConcept(const AgrawalOptions& options, int function, std::uint64_t seed)
      : options_(options), function_(function), random_(seed) {}
  Sample next() override;

 private:
  void perturb(Sample& sample);

  AgrawalOptions options_;
  int function_;
  Random random_;
};

}  // namespace ctd::generators

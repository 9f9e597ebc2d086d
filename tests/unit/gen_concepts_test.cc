// Each generator against its published definition: the features follow the stated
// distributions and every label is recomputed here from the features, independently of the
// library's own code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "generators/agrawal.h"
#include "generators/hyperplane.h"
#include "generators/random_rbf.h"
#include "generators/sea.h"
#include "generators/stagger.h"
#include "tests/unit/gen_statistics.h"

namespace ctd::generators {
namespace {

using testing::within_binomial;

constexpr int kDraws = 20000;

TEST(SeaConceptTest, LabelIsSumOfFirstTwoFeaturesAtMostTheThreshold) {
  // Street & Kim 2001: thresholds 8, 9, 7 and 9.5 for the four concepts.
  const double thresholds[] = {8.0, 9.0, 7.0, 9.5};
  for (int number = 1; number <= 4; ++number) {
    SCOPED_TRACE("concept " + std::to_string(number));
    const double theta = thresholds[number - 1];
    SeaConcept generator(number, 42);
    std::uint64_t positives = 0;
    for (int i = 0; i < kDraws; ++i) {
      const Sample s = generator.next();
      ASSERT_EQ(s.values.size(), 3u);
      for (double v : s.values) ASSERT_TRUE(v >= 0 && v < 10) << v;
      ASSERT_EQ(s.label, s.values[0] + s.values[1] <= theta ? 1 : 0);
      positives += s.label;
    }
    // f1, f2 uniform on [0, 10): P(f1 + f2 <= theta) = theta^2 / 200 for theta <= 10.
    EXPECT_TRUE(within_binomial(positives, kDraws, theta * theta / 200));
  }
  EXPECT_EQ(sea_schema().features.size(), 3u);
  EXPECT_EQ(sea_schema().features[2].name, "f3");
}

TEST(StaggerConceptTest, LabelsFollowTheThreeConcepts) {
  const StreamSchema schema = stagger_schema();
  ASSERT_EQ(schema.features.size(), 3u);
  const auto name = [&](const Sample& s, int f) {
    return schema.features[f].values[static_cast<std::size_t>(s.values[f])];
  };
  // Schlimmer & Granger 1986; with uniform attributes P = 1/9, 5/9 and 2/3.
  const double expected_share[] = {1.0 / 9, 5.0 / 9, 2.0 / 3};
  for (int number = 1; number <= 3; ++number) {
    SCOPED_TRACE("concept " + std::to_string(number));
    StaggerConcept generator(number, 7);
    std::set<std::string> combinations;
    std::uint64_t positives = 0;
    for (int i = 0; i < kDraws; ++i) {
      const Sample s = generator.next();
      const std::string size = name(s, 0), color = name(s, 1), shape = name(s, 2);
      bool holds = false;
      if (number == 1) holds = size == "small" && color == "red";
      if (number == 2) holds = color == "green" || shape == "circle";
      if (number == 3) holds = size == "medium" || size == "large";
      ASSERT_EQ(s.label, holds ? 1 : 0) << size << " " << color << " " << shape;
      combinations.insert(size + color + shape);
      positives += s.label;
    }
    EXPECT_EQ(combinations.size(), 27u);
    EXPECT_TRUE(within_binomial(positives, kDraws, expected_share[number - 1]));
  }
}

TEST(HyperplaneConceptTest, LabelIsTheWeightedSumAgainstHalfTheWeights) {
  HyperplaneOptions options;
  options.features = 5;
  HyperplaneConcept generator(options, 3, 11);
  const std::vector<double> weights = generator.weights();  // no drift: fixed
  ASSERT_EQ(weights.size(), 5u);
  std::uint64_t positives = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Sample s = generator.next();
    double score = 0, total = 0;
    for (int f = 0; f < 5; ++f) {
      ASSERT_TRUE(s.values[f] >= 0 && s.values[f] < 1);
      score += weights[f] * s.values[f];
      total += weights[f];
    }
    ASSERT_EQ(s.label, score >= total / 2 ? 1 : 0);
    positives += s.label;
  }
  // The hyperplane passes through the cube's centre: the classes are balanced.
  EXPECT_TRUE(within_binomial(positives, kDraws, 0.5));
  EXPECT_EQ(generator.weights(), weights);
}

TEST(HyperplaneConceptTest, ConceptNumberFixesTheInitialWeightsWhateverTheSeed) {
  const HyperplaneOptions options;
  const std::vector<double> two = HyperplaneConcept(options, 2, 1).weights();
  const std::vector<double> two_other_seed = HyperplaneConcept(options, 2, 99).weights();
  const std::vector<double> three = HyperplaneConcept(options, 3, 1).weights();
  EXPECT_EQ(two, two_other_seed);
  EXPECT_NE(two, three);
  for (double w : two) EXPECT_TRUE(w >= 0 && w < 1);
}

TEST(HyperplaneConceptTest, DriftingWeightsMoveByTheMagnitudeAndReverseWithSigma) {
  HyperplaneOptions options;
  options.features = 4;
  options.drift_features = 2;
  options.magnitude = 0.001;
  options.sigma = 0.2;
  HyperplaneConcept generator(options, 1, 5);
  std::vector<double> before = generator.weights();
  std::vector<double> last_step(2, 0);
  std::uint64_t reversals = 0, steps = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Sample s = generator.next();
    double score = 0, total = 0;
    for (int f = 0; f < 4; ++f) {
      score += before[f] * s.values[f];
      total += before[f];
    }
    ASSERT_EQ(s.label, score >= total / 2 ? 1 : 0) << "labeled with the weights before the move";
    const std::vector<double>& after = generator.weights();
    for (int f = 0; f < 4; ++f) {
      const double step = after[f] - before[f];
      if (f >= 2) {
        ASSERT_EQ(step, 0) << "weight " << f << " does not drift";
        continue;
      }
      ASSERT_NEAR(std::abs(step), 0.001, 1e-12);
      if (i > 0) {
        reversals += (step > 0) != (last_step[f] > 0);
        ++steps;
      }
      last_step[f] = step;
    }
    before = after;
  }
  EXPECT_TRUE(within_binomial(reversals, steps, 0.2));
}

// Agrawal et al. 1993, the ten classification functions, written from the paper's table:
// true for Group A.
bool agrawal_group_a(int function, const Sample& s) {
  const double salary = s.values[kSalary], commission = s.values[kCommission], age = s.values[kAge],
               elevel = s.values[kElevel], hvalue = s.values[kHvalue], hyears = s.values[kHyears],
               loan = s.values[kLoan];
  const auto in = [](double v, double lo, double hi) { return v >= lo && v <= hi; };
  const bool young = age < 40, middle = age >= 40 && age < 60, old = age >= 60;
  const double total = salary + commission;
  switch (function) {
    case 1:
      return young || old;
    case 2:
      return (young && in(salary, 50e3, 100e3)) || (middle && in(salary, 75e3, 125e3)) ||
             (old && in(salary, 25e3, 75e3));
    case 3:
      return (young && in(elevel, 0, 1)) || (middle && in(elevel, 1, 3)) ||
             (old && in(elevel, 2, 4));
    case 4:
      return (young && (in(elevel, 0, 1) ? in(salary, 25e3, 75e3) : in(salary, 50e3, 100e3))) ||
             (middle && (in(elevel, 1, 3) ? in(salary, 50e3, 100e3) : in(salary, 75e3, 125e3))) ||
             (old && (in(elevel, 2, 4) ? in(salary, 50e3, 100e3) : in(salary, 25e3, 75e3)));
    case 5:
      return (young &&
              (in(salary, 50e3, 100e3) ? in(loan, 100e3, 300e3) : in(loan, 200e3, 400e3))) ||
             (middle &&
              (in(salary, 75e3, 125e3) ? in(loan, 200e3, 400e3) : in(loan, 300e3, 500e3))) ||
             (old && (in(salary, 25e3, 75e3) ? in(loan, 300e3, 500e3) : in(loan, 100e3, 300e3)));
    case 6:
      return (young && in(total, 50e3, 100e3)) || (middle && in(total, 75e3, 125e3)) ||
             (old && in(total, 25e3, 75e3));
    case 7:
      return 0.67 * total - 0.2 * loan - 20e3 > 0;
    case 8:
      return 0.67 * total - 5000 * elevel - 20e3 > 0;
    case 9:
      return 0.67 * total - 5000 * elevel - 0.2 * loan - 10e3 > 0;
    case 10: {
      const double equity = hyears >= 20 ? 0.1 * hvalue * (hyears - 20) : 0;
      return 0.67 * total - 5000 * elevel + 0.2 * equity - 10e3 > 0;
    }
  }
  ADD_FAILURE() << "no function " << function;
  return false;
}

void expect_agrawal_attributes(const Sample& s) {
  const double salary = s.values[kSalary], commission = s.values[kCommission];
  ASSERT_TRUE(salary >= 20e3 && salary <= 150e3) << salary;
  if (salary >= 75e3) {
    ASSERT_EQ(commission, 0);
  } else {
    ASSERT_TRUE(commission >= 10e3 && commission <= 75e3) << commission;
  }
  const double age = s.values[kAge], hyears = s.values[kHyears];
  ASSERT_TRUE(age >= 20 && age <= 80 && age == std::floor(age)) << age;
  ASSERT_TRUE(hyears >= 1 && hyears <= 30 && hyears == std::floor(hyears)) << hyears;
  ASSERT_TRUE(s.values[kElevel] >= 0 && s.values[kElevel] <= 4);
  ASSERT_TRUE(s.values[kCar] >= 0 && s.values[kCar] <= 19);
  const double k = s.values[kZipcode] + 1;  // zipcode1..zipcode9
  ASSERT_TRUE(k >= 1 && k <= 9);
  ASSERT_TRUE(s.values[kHvalue] >= 0.5 * k * 1e5 && s.values[kHvalue] <= 1.5 * k * 1e5);
  ASSERT_TRUE(s.values[kLoan] >= 0 && s.values[kLoan] <= 500e3);
}

TEST(AgrawalConceptTest, EveryFunctionsLabelRecomputedFromTheAttributes) {
  const StreamSchema schema = agrawal_schema();
  std::vector<std::string> names;
  for (const FeatureDef& f : schema.features) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"salary", "commission", "age", "elevel", "car",
                                             "zipcode", "hvalue", "hyears", "loan"}));
  EXPECT_TRUE(schema.features[kElevel].categorical);
  EXPECT_EQ(schema.features[kCar].values.size(), 20u);
  EXPECT_EQ(schema.features[kZipcode].values.size(), 9u);
  for (int function = 1; function <= 10; ++function) {
    SCOPED_TRACE("function " + std::to_string(function));
    AgrawalConcept generator(AgrawalOptions{}, function, 100 + function);
    std::uint64_t positives = 0;
    for (int i = 0; i < kDraws; ++i) {
      const Sample s = generator.next();
      expect_agrawal_attributes(s);
      if (::testing::Test::HasFatalFailure()) return;
      ASSERT_EQ(s.label, agrawal_group_a(function, s) ? 1 : 0);
      positives += s.label;
    }
    EXPECT_GT(positives, 0u);
    EXPECT_LT(positives, std::uint64_t{kDraws});
  }
}

TEST(AgrawalConceptTest, AttributeDistributions) {
  AgrawalConcept generator(AgrawalOptions{}, 1, 3);
  std::map<int, std::uint64_t> levels, cars, zipcodes;
  std::uint64_t young = 0, rich = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Sample s = generator.next();
    ++levels[int(s.values[kElevel])];
    ++cars[int(s.values[kCar])];
    ++zipcodes[int(s.values[kZipcode])];
    young += s.values[kAge] < 40;
    rich += s.values[kSalary] >= 75e3;
  }
  for (int l = 0; l < 5; ++l) EXPECT_TRUE(within_binomial(levels[l], kDraws, 1.0 / 5));
  for (int c = 0; c < 20; ++c) EXPECT_TRUE(within_binomial(cars[c], kDraws, 1.0 / 20));
  for (int z = 0; z < 9; ++z) EXPECT_TRUE(within_binomial(zipcodes[z], kDraws, 1.0 / 9));
  EXPECT_TRUE(within_binomial(young, kDraws, 20.0 / 61));  // ages 20..39 of 20..80
  EXPECT_TRUE(within_binomial(rich, kDraws, 75.0 / 130));  // salary in [75k, 150k]
}

TEST(AgrawalConceptTest, PerturbationBlursTheBoundaryWithinTheRanges) {
  AgrawalOptions options;
  options.perturbation = 0.2;
  AgrawalConcept generator(options, 2, 9);
  std::uint64_t disagreements = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Sample s = generator.next();
    ASSERT_TRUE(s.values[kSalary] >= 20e3 && s.values[kSalary] <= 150e3);
    ASSERT_TRUE(s.values[kAge] >= 20 && s.values[kAge] <= 80);
    ASSERT_TRUE(s.values[kLoan] >= 0 && s.values[kLoan] <= 500e3);
    ASSERT_TRUE(s.values[kHyears] >= 1 && s.values[kHyears] <= 30);
    disagreements += s.label != (agrawal_group_a(2, s) ? 1 : 0);
  }
  // Labels come from the unperturbed attributes: near the boundaries they disagree.
  EXPECT_GT(disagreements, std::uint64_t{kDraws / 100});
  EXPECT_LT(disagreements, std::uint64_t{kDraws / 3});
  EXPECT_FALSE(validate(AgrawalOptions{.perturbation = 1.5}).empty());
}

TEST(RbfConceptTest, LabelIsTheChosenCentroidsClassAndCentroidsFollowTheirWeights) {
  RbfOptions options;
  options.features = 3;
  options.centroids = 5;
  options.classes = 3;
  RbfConcept generator(options, 4, 21);
  const std::vector<Centroid> centroids = generator.centroids();  // speed 0: fixed
  ASSERT_EQ(centroids.size(), 5u);
  double total_weight = 0;
  for (const Centroid& c : centroids) total_weight += c.weight;
  std::vector<std::uint64_t> picked(5, 0);
  std::vector<double> distance_sum(5, 0);
  for (int i = 0; i < kDraws; ++i) {
    const Sample s = generator.next();
    const std::size_t c = generator.last_centroid();
    ASSERT_LT(c, 5u);
    ASSERT_EQ(s.label, centroids[c].label);
    ASSERT_TRUE(s.label >= 0 && s.label < 3);
    ++picked[c];
    double d2 = 0;
    for (int f = 0; f < 3; ++f) d2 += std::pow(s.values[f] - centroids[c].centre[f], 2);
    distance_sum[c] += std::sqrt(d2);
  }
  for (std::size_t c = 0; c < 5; ++c) {
    EXPECT_TRUE(within_binomial(picked[c], kDraws, centroids[c].weight / total_weight));
    // The distance is |N(0, std_dev)|, whose mean is std_dev sqrt(2 / pi).
    const double mean = distance_sum[c] / picked[c];
    const double expected = centroids[c].std_dev * std::sqrt(2 / std::numbers::pi);
    const double sd =
        centroids[c].std_dev * std::sqrt(1 - 2 / std::numbers::pi) / std::sqrt(picked[c]);
    EXPECT_NEAR(mean, expected, 5 * sd + 1e-12) << "centroid " << c;
  }
  EXPECT_EQ(rbf_schema(options).num_classes, 3);
}

TEST(RbfConceptTest, MovingCentroidsTravelAtTheirSpeedInsideTheUnitCube) {
  RbfOptions options;
  options.features = 2;
  options.centroids = 4;
  options.drift_centroids = 2;
  options.speed = 0.01;
  RbfConcept generator(options, 1, 2);
  std::vector<Centroid> before = generator.centroids();
  for (int i = 0; i < 2000; ++i) {
    const Sample s = generator.next();
    ASSERT_EQ(s.label, before[generator.last_centroid()].label);
    const std::vector<Centroid>& after = generator.centroids();
    for (std::size_t c = 0; c < 4; ++c) {
      double moved2 = 0;
      for (int f = 0; f < 2; ++f) {
        ASSERT_TRUE(after[c].centre[f] >= 0 && after[c].centre[f] <= 1);
        moved2 += std::pow(after[c].centre[f] - before[c].centre[f], 2);
      }
      if (c >= 2) {
        ASSERT_EQ(moved2, 0) << "centroid " << c << " does not move";
      } else {
        // A reflection off a wall shortens the step; it never lengthens it.
        ASSERT_LE(std::sqrt(moved2), 0.01 + 1e-12);
      }
    }
    before = after;
  }
  const RbfConcept fresh(options, 1, 2);
  EXPECT_NE(before[0].centre, fresh.centroids()[0].centre) << "centroid 0 has moved";
}

TEST(GeneratorOptionsTest, ValidationNamesTheOption) {
  EXPECT_TRUE(validate(HyperplaneOptions{}).empty());
  EXPECT_NE(validate(HyperplaneOptions{.features = 0}).find("--features"), std::string::npos);
  EXPECT_NE(
      validate(HyperplaneOptions{.features = 3, .drift_features = 4}).find("--drift-features"),
      std::string::npos);
  EXPECT_NE(validate(HyperplaneOptions{.sigma = 2}).find("--sigma"), std::string::npos);
  EXPECT_TRUE(validate(RbfOptions{}).empty());
  EXPECT_NE(validate(RbfOptions{.classes = 1}).find("--classes"), std::string::npos);
  EXPECT_NE(validate(RbfOptions{.centroids = 3, .drift_centroids = 4}).find("--drift-centroids"),
            std::string::npos);
}

}  // namespace
}  // namespace ctd::generators

// DriftStream: the drift schedule (MOA's sigmoid, abrupt steps, chains), label noise and
// determinism, checked against the formulas with binomial tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <variant>

#include "generators/drift_stream.h"
#include "generators/sea.h"
#include "tests/unit/gen_statistics.h"

namespace ctd::generators {
namespace {

using testing::within_binomial;

StreamSpec sea_spec(int initial, std::vector<Drift> drifts, double noise = 0,
                    std::uint64_t seed = 1) {
  StreamSpec spec;
  spec.generator.kind = GeneratorKind::kSea;
  spec.initial_concept = initial;
  spec.drifts = std::move(drifts);
  spec.noise = noise;
  spec.seed = seed;
  return spec;
}

// The SEA concept of each source (0: initial, j: drift j).
int sea_clean_label(const Record& r, const StreamSpec& spec) {
  const int number = r.source == 0 ? spec.initial_concept : spec.drifts[r.source - 1].target;
  return r.sample.values[0] + r.sample.values[1] <= sea_threshold(number) ? 1 : 0;
}

TEST(DriftStreamTest, ParsesDriftSpecifications) {
  auto drift = parse_drift("3@50000/1000");
  ASSERT_TRUE(std::holds_alternative<Drift>(drift));
  EXPECT_EQ(std::get<Drift>(drift).target, 3);
  EXPECT_EQ(std::get<Drift>(drift).position, 50000u);
  EXPECT_EQ(std::get<Drift>(drift).width, 1000u);
  drift = parse_drift("2@10");
  ASSERT_TRUE(std::holds_alternative<Drift>(drift));
  EXPECT_EQ(std::get<Drift>(drift).width, 0u) << "no width: abrupt";
  for (const char* bad : {"", "3", "@5", "3@", "3@5/", "3@-5", "x@5", "3@5/2/1", "3@5/w"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_drift(bad))) << bad;
  }
}

TEST(DriftStreamTest, NewConceptProbabilityIsMoasSigmoid) {
  const Drift gradual{.target = 2, .position = 1000, .width = 200};
  EXPECT_DOUBLE_EQ(new_concept_probability(1000, gradual), 0.5);
  EXPECT_DOUBLE_EQ(new_concept_probability(1200, gradual), 1 / (1 + std::exp(-4.0)));
  EXPECT_DOUBLE_EQ(new_concept_probability(800, gradual), 1 / (1 + std::exp(4.0)));
  const Drift moa_abrupt{.target = 2, .position = 1000, .width = 1};
  EXPECT_DOUBLE_EQ(new_concept_probability(1001, moa_abrupt), 1 / (1 + std::exp(-4.0)));
  const Drift step{.target = 2, .position = 1000, .width = 0};
  EXPECT_EQ(new_concept_probability(999, step), 0.0);
  EXPECT_EQ(new_concept_probability(1000, step), 1.0);
}

TEST(DriftStreamTest, AbruptDriftSwitchesExactlyAtThePosition) {
  const StreamSpec spec = sea_spec(1, {{.target = 3, .position = 500, .width = 0}});
  ASSERT_EQ(validate(spec), "");
  DriftStream stream(spec);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    const Record r = stream.next();
    ASSERT_EQ(r.index, i);
    ASSERT_EQ(r.source, i >= 500 ? 1u : 0u);
    ASSERT_EQ(r.sample.label, sea_clean_label(r, spec));
    ASSERT_FALSE(r.noisy);
  }
}

TEST(DriftStreamTest, GradualDriftFollowsTheSigmoidAroundItsPosition) {
  constexpr std::uint64_t kPosition = 20000, kWidth = 4000, kWindow = 500;
  const Drift drift{.target = 2, .position = kPosition, .width = kWidth};
  const StreamSpec spec = sea_spec(1, {drift}, 0, 77);
  DriftStream stream(spec);
  std::uint64_t checked_windows = 0;
  for (std::uint64_t start = 0; start < 2 * kPosition; start += kWindow) {
    std::uint64_t from_new = 0;
    double expected = 0, variance = 0;
    for (std::uint64_t i = start; i < start + kWindow; ++i) {
      const Record r = stream.next();
      ASSERT_EQ(r.sample.label, sea_clean_label(r, spec));
      from_new += r.source;
      const double p = new_concept_probability(i, drift);
      expected += p;
      variance += p * (1 - p);
    }
    // A sum of independent Bernoulli draws: within 5 standard deviations of its mean.
    EXPECT_LE(std::abs(double(from_new) - expected), 5 * std::sqrt(variance) + 1e-9)
        << "records " << start << ".." << start + kWindow;
    ++checked_windows;
  }
  EXPECT_EQ(checked_windows, 2 * kPosition / kWindow);
}

TEST(DriftStreamTest, ChainedDriftsVisitEachConceptInTurn) {
  const StreamSpec spec = sea_spec(1, {{.target = 2, .position = 3000, .width = 100},
                                       {.target = 4, .position = 6000, .width = 0}});
  DriftStream stream(spec);
  std::uint64_t initial_before_second = 0;
  double expected = 0, variance = 0;
  for (std::uint64_t i = 0; i < 9000; ++i) {
    const Record r = stream.next();
    ASSERT_EQ(r.sample.label, sea_clean_label(r, spec));
    if (i < 2500) {  // P < 1e-8 for the new concept
      ASSERT_EQ(r.source, 0u) << i;
    }
    if (i >= 3500 && i < 6000) {
      ASSERT_EQ(r.source, 1u) << i;
    }
    if (i >= 6000) {
      ASSERT_EQ(r.source, 2u) << i;
    }
    if (i < 6000) {
      initial_before_second += r.source == 0;
      const double p = 1 - new_concept_probability(i, spec.drifts[0]);
      expected += p;
      variance += p * (1 - p);
    }
  }
  EXPECT_LE(std::abs(double(initial_before_second) - expected), 5 * std::sqrt(variance) + 1e-9);
}

TEST(DriftStreamTest, LabelNoiseFlipsAtTheGivenRate) {
  const StreamSpec spec = sea_spec(2, {}, 0.15, 5);
  DriftStream stream(spec);
  std::uint64_t noisy = 0;
  constexpr std::uint64_t kRecords = 40000;
  for (std::uint64_t i = 0; i < kRecords; ++i) {
    const Record r = stream.next();
    ASSERT_EQ(r.noisy, r.sample.label != sea_clean_label(r, spec));
    noisy += r.noisy;
  }
  EXPECT_TRUE(within_binomial(noisy, kRecords, 0.15));
}

TEST(DriftStreamTest, MulticlassNoisePicksAnotherClassUniformly) {
  StreamSpec spec;
  spec.generator.kind = GeneratorKind::kRbf;
  spec.generator.rbf.classes = 4;
  spec.generator.rbf.centroids = 1;  // every clean label is the one centroid's class
  spec.noise = 0.5;
  DriftStream stream(spec);
  DriftStream clean([&] {
    StreamSpec s = spec;
    s.noise = 0;
    return s;
  }());
  const int true_class = clean.next().sample.label;
  std::vector<std::uint64_t> counts(4, 0);
  std::uint64_t noisy = 0;
  constexpr std::uint64_t kRecords = 30000;
  for (std::uint64_t i = 0; i < kRecords; ++i) {
    const Record r = stream.next();
    ASSERT_EQ(r.noisy, r.sample.label != true_class);
    ++counts[r.sample.label];
    noisy += r.noisy;
  }
  EXPECT_TRUE(within_binomial(noisy, kRecords, 0.5));
  for (int k = 0; k < 4; ++k) {
    if (k != true_class) {
      EXPECT_TRUE(within_binomial(counts[k], kRecords, 0.5 / 3));
    }
  }
}

TEST(DriftStreamTest, SameSeedSameRecordsOtherSeedOtherRecords) {
  StreamSpec spec;
  spec.generator.kind = GeneratorKind::kAgrawal;
  spec.generator.agrawal.perturbation = 0.05;
  spec.initial_concept = 3;
  spec.drifts = {{.target = 7, .position = 300, .width = 50}};
  spec.noise = 0.1;
  spec.seed = 12345;
  const auto draw = [](const StreamSpec& s) {
    DriftStream stream(s);
    std::vector<std::pair<std::vector<double>, int>> out;
    for (int i = 0; i < 1000; ++i) {
      const Record r = stream.next();
      out.emplace_back(r.sample.values, r.sample.label);
    }
    return out;
  };
  EXPECT_EQ(draw(spec), draw(spec));
  StreamSpec other = spec;
  other.seed = 12346;
  EXPECT_NE(draw(spec), draw(other));
}

TEST(DriftStreamTest, ValidationNamesTheProblem) {
  EXPECT_EQ(validate(sea_spec(4, {})), "");
  EXPECT_NE(validate(sea_spec(5, {})).find("sea has concepts 1..4"), std::string::npos);
  EXPECT_NE(validate(sea_spec(1, {{.target = 0, .position = 5, .width = 0}})).find("--drift"),
            std::string::npos);
  EXPECT_NE(validate(sea_spec(1, {{.target = 2, .position = 5, .width = 0},
                                  {.target = 3, .position = 5, .width = 0}}))
                .find("ascending"),
            std::string::npos);
  EXPECT_NE(validate(sea_spec(1, {}, 1.5)).find("--noise"), std::string::npos);
  StreamSpec stagger;
  stagger.generator.kind = GeneratorKind::kStagger;
  stagger.initial_concept = 4;
  EXPECT_NE(validate(stagger).find("stagger has concepts 1..3"), std::string::npos);
  StreamSpec hyperplane;
  hyperplane.generator.kind = GeneratorKind::kHyperplane;
  hyperplane.initial_concept = 1000;
  EXPECT_EQ(validate(hyperplane), "") << "any hyperplane concept >= 1";
}

}  // namespace
}  // namespace ctd::generators

#include "generators/agrawal.h"

#include <algorithm>

namespace ctd::generators {
namespace {

constexpr double kSalaryMin = 20000, kSalaryMax = 150000;
constexpr double kCommissionSalaryCap = 75000;  // no commission from this salary on
constexpr double kCommissionMin = 10000, kCommissionMax = 75000;
constexpr int kAgeMin = 20, kAgeMax = 80;
constexpr int kLevels = 5, kCars = 20, kZipcodes = 9;
constexpr double kHvalueUnit = 100000;
constexpr int kHyearsMin = 1, kHyearsMax = 30;
constexpr double kLoanMax = 500000;

struct Applicant {
  double salary, commission, age, elevel, hvalue, hyears, loan;
};

bool within(double value, double low, double high) { return low <= value && value <= high; }

// The paper's three age brackets: under 40, 40 to 59, 60 and over.
int bracket(double age) { return age < 40 ? 0 : age < 60 ? 1 : 2; }

// Functions 2, 4 and 6: the salary band of each age bracket.
bool in_salary_band(int bracket, double salary) {
  constexpr double kBands[3][2] = {{50000, 100000}, {75000, 125000}, {25000, 75000}};
  return within(salary, kBands[bracket][0], kBands[bracket][1]);
}

bool in_group_a(int function, const Applicant& a) {
  const int b = bracket(a.age);
  const double income = a.salary + a.commission;
  switch (function) {
    case 1:
      return b != 1;
    case 2:
      return in_salary_band(b, a.salary);
    case 3: {
      constexpr int kLevelsOf[3][2] = {{0, 1}, {1, 3}, {2, 4}};
      return within(a.elevel, kLevelsOf[b][0], kLevelsOf[b][1]);
    }
    case 4: {
      constexpr int kLevelsOf[3][2] = {{0, 1}, {1, 3}, {2, 4}};
      constexpr double kIn[3][2] = {{25000, 75000}, {50000, 100000}, {50000, 100000}};
      constexpr double kOut[3][2] = {{50000, 100000}, {75000, 125000}, {25000, 75000}};
      const bool level = within(a.elevel, kLevelsOf[b][0], kLevelsOf[b][1]);
      const auto& band = level ? kIn[b] : kOut[b];
      return within(a.salary, band[0], band[1]);
    }
    case 5: {
      constexpr double kIn[3][2] = {{100000, 300000}, {200000, 400000}, {300000, 500000}};
      constexpr double kOut[3][2] = {{200000, 400000}, {300000, 500000}, {100000, 300000}};
      const auto& band = in_salary_band(b, a.salary) ? kIn[b] : kOut[b];
      return within(a.loan, band[0], band[1]);
    }
    case 6:
      return in_salary_band(b, income);
    case 7:
      return 0.67 * income - 0.2 * a.loan - 20000 > 0;
    case 8:
      return 0.67 * income - 5000 * a.elevel - 20000 > 0;
    case 9:
      return 0.67 * income - 5000 * a.elevel - 0.2 * a.loan - 10000 > 0;
    default: {
      const double equity = 0.1 * a.hvalue * std::max(a.hyears - 20, 0.0);
      return 0.67 * income - 5000 * a.elevel + 0.2 * equity - 10000 > 0;
    }
  }
}

std::vector<std::string> numbered(const std::string& prefix, int first, int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(numbered_name(prefix, first + i));
  return names;
}

}  // namespace

std::string validate(const AgrawalOptions& o) {
  if (!(o.perturbation >= 0 && o.perturbation <= 1)) {
    return "agrawal: --perturbation must be in [0, 1]";
  }
  return {};
}

StreamSchema agrawal_schema() {
  StreamSchema s;
  s.features = {
      numeric_feature("salary", kSalaryMin, kSalaryMax),
      numeric_feature("commission", 0.0, kCommissionMax),
      numeric_feature("age", kAgeMin, kAgeMax),
      categorical_feature("elevel", numbered("level", 0, kLevels)),
      categorical_feature("car", numbered("car", 1, kCars)),
      categorical_feature("zipcode", numbered("zipcode", 1, kZipcodes)),
      numeric_feature("hvalue", 0.5 * kHvalueUnit, 1.5 * kZipcodes * kHvalueUnit),
      numeric_feature("hyears", kHyearsMin, kHyearsMax),
      numeric_feature("loan", 0.0, kLoanMax),
  };
  return s;
}

Sample AgrawalConcept::next() {
  Applicant a{};
  a.salary = random_.uniform(kSalaryMin, kSalaryMax);
  a.commission =
      a.salary >= kCommissionSalaryCap ? 0.0 : random_.uniform(kCommissionMin, kCommissionMax);
  a.age = random_.integer(kAgeMin, kAgeMax);
  a.elevel = random_.integer(0, kLevels - 1);
  const int car = random_.integer(0, kCars - 1);
  const int zipcode = random_.integer(0, kZipcodes - 1);
  const double k = zipcode + 1;
  a.hvalue = random_.uniform(0.5 * k * kHvalueUnit, 1.5 * k * kHvalueUnit);
  a.hyears = random_.integer(kHyearsMin, kHyearsMax);
  a.loan = random_.uniform(0.0, kLoanMax);
  Sample sample{.values = {a.salary, a.commission, a.age, a.elevel, double(car), double(zipcode),
                           a.hvalue, a.hyears, a.loan},
                .label = in_group_a(function_, a) ? 1 : 0};
  if (options_.perturbation > 0) perturb(sample);
  return sample;
}

void AgrawalConcept::perturb(Sample& sample) {
  struct Range {
    AgrawalFeature feature;
    double low, high;
  };
  static constexpr Range kRanges[] = {
      {kSalary, kSalaryMin, kSalaryMax},
      {kCommission, kCommissionMin, kCommissionMax},
      {kAge, kAgeMin, kAgeMax},
      {kHvalue, 0.5 * kHvalueUnit, 1.5 * kZipcodes * kHvalueUnit},
      {kHyears, kHyearsMin, kHyearsMax},
      {kLoan, 0.0, kLoanMax},
  };
  for (const Range& r : kRanges) {
    double& value = sample.values[r.feature];
    if (r.feature == kCommission && value == 0) continue;
    value += (random_.uniform() - 0.5) * options_.perturbation * (r.high - r.low);
    value = std::clamp(value, r.low, r.high);
  }
}

}  // namespace ctd::generators

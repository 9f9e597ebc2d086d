#include "generators/catalog.h"

#include <array>
#include <utility>

#include "generators/sea.h"
#include "generators/stagger.h"

namespace ctd::generators {
namespace {

constexpr std::array<std::pair<GeneratorKind, std::string_view>, 5> kNames = {{
    {GeneratorKind::kSea, "sea"},
    {GeneratorKind::kHyperplane, "hyperplane"},
    {GeneratorKind::kAgrawal, "agrawal"},
    {GeneratorKind::kStagger, "stagger"},
    {GeneratorKind::kRbf, "rbf"},
}};

// The highest concept number of a generator with a fixed set of concepts.
std::optional<int> concept_count(GeneratorKind kind) {
  switch (kind) {
    case GeneratorKind::kSea:
      return kSeaConcepts;
    case GeneratorKind::kAgrawal:
      return kAgrawalFunctions;
    case GeneratorKind::kStagger:
      return kStaggerConcepts;
    case GeneratorKind::kHyperplane:
    case GeneratorKind::kRbf:
      break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<GeneratorKind> parse_generator(std::string_view name) {
  for (const auto& [kind, text] : kNames) {
    if (text == name) return kind;
  }
  return std::nullopt;
}

std::string_view to_string(GeneratorKind kind) {
  for (const auto& [k, text] : kNames) {
    if (k == kind) return text;
  }
  return "unknown";
}

std::string validate(const GeneratorSpec& spec) {
  switch (spec.kind) {
    case GeneratorKind::kHyperplane:
      return validate(spec.hyperplane);
    case GeneratorKind::kAgrawal:
      return validate(spec.agrawal);
    case GeneratorKind::kRbf:
      return validate(spec.rbf);
    case GeneratorKind::kSea:
    case GeneratorKind::kStagger:
      break;
  }
  return {};
}

std::string validate_concept(GeneratorKind kind, int number) {
  const std::optional<int> count = concept_count(kind);
  if (number < 1 || (count && number > *count)) {
    return std::string(to_string(kind)) + " has concepts " +
           (count ? "1.." + std::to_string(*count) : "1, 2, ...") + ", not " +
           std::to_string(number);
  }
  return {};
}

StreamSchema schema_of(const GeneratorSpec& spec) {
  switch (spec.kind) {
    case GeneratorKind::kSea:
      return sea_schema();
    case GeneratorKind::kHyperplane:
      return hyperplane_schema(spec.hyperplane);
    case GeneratorKind::kAgrawal:
      return agrawal_schema();
    case GeneratorKind::kStagger:
      return stagger_schema();
    case GeneratorKind::kRbf:
      return rbf_schema(spec.rbf);
  }
  return {};
}

std::unique_ptr<Concept> make_concept(const GeneratorSpec& spec, int number, std::uint64_t seed) {
  switch (spec.kind) {
    case GeneratorKind::kSea:
      return std::make_unique<SeaConcept>(number, seed);
    case GeneratorKind::kHyperplane:
      return std::make_unique<HyperplaneConcept>(spec.hyperplane, number, seed);
    case GeneratorKind::kAgrawal:
      return std::make_unique<AgrawalConcept>(spec.agrawal, number, seed);
    case GeneratorKind::kStagger:
      return std::make_unique<StaggerConcept>(number, seed);
    case GeneratorKind::kRbf:
      return std::make_unique<RbfConcept>(spec.rbf, number, seed);
  }
  return nullptr;
}

}  // namespace ctd::generators

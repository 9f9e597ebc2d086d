// The generators by name: which exist, their options, their concepts' numbering, their schema
// and a Concept of each. Concepts are numbered from 1: SEA 1..4 (thresholds 8, 9, 7, 9.5),
// Agrawal 1..10 (the paper's functions), STAGGER 1..3; a hyperplane or RBF concept is any
// number >= 1, each a different random model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "generators/agrawal.h"
#include "generators/concept.h"
#include "generators/hyperplane.h"
#include "generators/random_rbf.h"

namespace ctd::generators {

enum class GeneratorKind { kSea, kHyperplane, kAgrawal, kStagger, kRbf };

std::optional<GeneratorKind> parse_generator(std::string_view name);
std::string_view to_string(GeneratorKind kind);

// A generator and its options (only those of `kind` are used).
struct GeneratorSpec {
  GeneratorKind kind = GeneratorKind::kSea;
  HyperplaneOptions hyperplane;
  AgrawalOptions agrawal;
  RbfOptions rbf;
};

// Empty when the options of spec.kind are usable, otherwise what is wrong.
std::string validate(const GeneratorSpec& spec);
// Empty when `number` names a concept of `kind`, otherwise what is wrong.
std::string validate_concept(GeneratorKind kind, int number);
StreamSchema schema_of(const GeneratorSpec& spec);
// REQUIRES: validate(spec) and validate_concept(spec.kind, number) are empty.
std::unique_ptr<Concept> make_concept(const GeneratorSpec& spec, int number, std::uint64_t seed);

}  // namespace ctd::generators

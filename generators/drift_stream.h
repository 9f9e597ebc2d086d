// A stream of labeled records from one generator whose concept drifts: the scenario of MOA's
// ConceptDriftStream. The stream starts in one concept; each Drift brings in a new concept
// around record `position`: record t (counted from 0) comes from the new concept with
// probability
//   P(t) = 1 / (1 + exp(-4 (t - position) / width))
// (a sigmoid: 0.5 at the position, about 0.02 and 0.98 at position -/+ width; width 1 is
// MOA's abrupt drift), or, with width 0, from the new concept exactly when t >= position.
// Drifts chain as MOA nests its streams: the last drift decides first, and a record it does
// not take is decided by the drift before it, down to the initial concept. Every concept
// draws from its own random stream and advances only when it is drawn from.
//
// Label noise flips each label with probability `noise`: a binary label to the other class,
// a multiclass label to one of the other classes, uniformly.
//
// Same StreamSpec, same records: every random stream derives from `seed` (random.h).
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "generators/catalog.h"
#include "generators/random.h"

namespace ctd::generators {

struct Drift {
  int target = 1;              // the concept the stream drifts to
  std::uint64_t position = 0;  // record index of the change (P = 0.5 there)
  std::uint64_t width = 0;     // 0: abrupt at `position`; otherwise the sigmoid's width
};

// Parses "CONCEPT@POSITION" or "CONCEPT@POSITION/WIDTH", e.g. "3@50000/1000"; the concept's
// range is checked by validate(StreamSpec).
std::variant<Drift, std::string> parse_drift(std::string_view text);

// The probability that record `index` comes from the drift's new concept (before later drifts
// take their share).
double new_concept_probability(std::uint64_t index, const Drift& drift);

struct StreamSpec {
  GeneratorSpec generator;
  int initial_concept = 1;
  std::vector<Drift> drifts;  // positions strictly ascending
  double noise = 0;           // label flip probability, in [0, 1]
  std::uint64_t seed = 1;
};

// Empty when the spec is usable, otherwise what is wrong.
std::string validate(const StreamSpec& spec);

struct Record {
  std::uint64_t index = 0;  // 0, 1, 2, ... in stream order
  Sample sample;            // the label after noise
  std::size_t source = 0;   // the concept drawn from: 0 the initial one, j the j-th drift's
  bool noisy = false;       // the label was flipped
};

class DriftStream {
 public:
  // REQUIRES: validate(spec) is empty.
  explicit DriftStream(const StreamSpec& spec);
  const StreamSchema& schema() const { return schema_; }
  Record next();

 private:
  std::size_t pick_source(std::uint64_t index);
  int flip(int label);

  StreamSpec spec_;
  StreamSchema schema_;
  std::vector<std::unique_ptr<Concept>> concepts_;  // [0] initial, [j] drift j's
  Random mixing_;
  Random noise_;
  std::uint64_t index_ = 0;
};

}  // namespace ctd::generators

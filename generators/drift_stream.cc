#include "generators/drift_stream.h"

#include <charconv>
#include <cmath>

namespace ctd::generators {
namespace {

// Random stream numbers under the run's seed; concept j uses kFirstConceptStream + j.
constexpr std::uint64_t kMixingStream = 0;
constexpr std::uint64_t kNoiseStream = 1;
constexpr std::uint64_t kFirstConceptStream = 2;

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::variant<Drift, std::string> parse_drift(std::string_view text) {
  const std::string bad =
      "bad drift '" + std::string(text) +
      "': expected CONCEPT@POSITION or CONCEPT@POSITION/WIDTH, e.g. 3@50000/1000";
  const std::size_t at = text.find('@');
  if (at == std::string_view::npos) return bad;
  const std::string_view rest = text.substr(at + 1);
  const std::size_t slash = rest.find('/');
  Drift drift;
  if (!parse_number(text.substr(0, at), drift.target) ||
      !parse_number(rest.substr(0, slash), drift.position)) {
    return bad;
  }
  if (slash != std::string_view::npos && !parse_number(rest.substr(slash + 1), drift.width)) {
    return bad;
  }
  return drift;
}

double new_concept_probability(std::uint64_t index, const Drift& drift) {
  if (drift.width == 0) return index >= drift.position ? 1.0 : 0.0;
  const double t = static_cast<double>(index) - static_cast<double>(drift.position);
  return 1.0 / (1.0 + std::exp(-4.0 * t / static_cast<double>(drift.width)));
}

std::string validate(const StreamSpec& spec) {
  if (std::string problem = validate(spec.generator); !problem.empty()) return problem;
  if (std::string problem = validate_concept(spec.generator.kind, spec.initial_concept);
      !problem.empty()) {
    return "--concept: " + problem;
  }
  for (std::size_t j = 0; j < spec.drifts.size(); ++j) {
    const Drift& drift = spec.drifts[j];
    if (std::string problem = validate_concept(spec.generator.kind, drift.target);
        !problem.empty()) {
      return "--drift: " + problem;
    }
    if (j > 0 && drift.position <= spec.drifts[j - 1].position) {
      return "--drift: positions must be strictly ascending (" + std::to_string(drift.position) +
             " after " + std::to_string(spec.drifts[j - 1].position) + ")";
    }
  }
  if (!(spec.noise >= 0 && spec.noise <= 1)) return "--noise must be in [0, 1]";
  return {};
}

DriftStream::DriftStream(const StreamSpec& spec)
    : spec_(spec),
      schema_(schema_of(spec.generator)),
      mixing_(derive_seed(spec.seed, kMixingStream)),
      noise_(derive_seed(spec.seed, kNoiseStream)) {
  concepts_.push_back(make_concept(spec.generator, spec.initial_concept,
                                   derive_seed(spec.seed, kFirstConceptStream)));
  for (std::size_t j = 0; j < spec.drifts.size(); ++j) {
    concepts_.push_back(make_concept(spec.generator, spec.drifts[j].target,
                                     derive_seed(spec.seed, kFirstConceptStream + j + 1)));
  }
}

std::size_t DriftStream::pick_source(std::uint64_t index) {
  for (std::size_t j = spec_.drifts.size(); j > 0; --j) {
    if (mixing_.uniform() < new_concept_probability(index, spec_.drifts[j - 1])) return j;
  }
  return 0;
}

int DriftStream::flip(int label) {
  const int classes = schema_.num_classes;
  if (classes == 2) return 1 - label;
  return static_cast<int>((label + 1 + noise_.index(classes - 1)) % classes);
}

Record DriftStream::next() {
  Record record;
  record.index = index_++;
  record.source = pick_source(record.index);
  record.sample = concepts_[record.source]->next();
  // Drawn for every record, so that the noise level changes which labels flip, not the rest.
  record.noisy = noise_.bernoulli(spec_.noise);
  if (record.noisy) record.sample.label = flip(record.sample.label);
  return record;
}

}  // namespace ctd::generators

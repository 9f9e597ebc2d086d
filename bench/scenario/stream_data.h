// A generated concept-drift stream held in memory for the scenario benchmark: the records of a
// generators::DriftStream as a row-major numeric matrix and labels, with views of any range of
// rows in the layout the triggers and the scorer take. Numeric generators only (SEA,
// hyperplane, RBF); categorical features are not supported here.
//
// Thread-safety: immutable after generate(); views may be taken from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "generators/drift_stream.h"
#include "trainers/snapshot.h"
#include "triggers/trigger.h"

namespace ctd::bench {

struct StreamData {
  std::string name;
  triggers::FeatureLayout layout;  // numeric features only, in the generator's order
  trainers::Task task = trainers::Task::kBinary;
  int num_classes = 2;
  std::vector<double> numeric;  // rows * width
  std::vector<double> labels;

  std::size_t width() const { return layout.numeric.size(); }
  std::int64_t rows() const { return static_cast<std::int64_t>(labels.size()); }
  // Rows [from, to). REQUIRES 0 <= from <= to <= rows().
  triggers::FeatureBatchView view(std::int64_t from, std::int64_t to) const;
  std::span<const double> labels_of(std::int64_t from, std::int64_t to) const;
};

// The first `samples` records of the stream. Throws std::invalid_argument when the spec is
// invalid or the generator has categorical features.
StreamData generate(std::string name, const generators::StreamSpec& spec, std::int64_t samples);

}  // namespace ctd::bench

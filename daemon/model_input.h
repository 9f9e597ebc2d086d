// What a trained model expects as input and how a pipeline's features are mapped onto it, for
// scoring models in-process (daemon/prequential_scorer.h). Pure: no LibTorch, no I/O.
//
// A model's input is described by its manifest (trainers/README.md, "Models"): a float32
// matrix [n, numeric + categorical], the numeric features in the manifest's order (NaN =
// missing), then each categorical feature's vocabulary code (k = vocabulary[k-1]; 0 = missing
// or unknown). A pipeline's batches hold its features in configuration order
// (triggers::FeatureLayout). InputMapping joins the two by name, once per model and layout, with
// the same rules as the export of scoring snapshots (daemon/snapshot_export.h): a feature the
// batch lacks is missing, a feature the model does not know is ignored, a categorical value
// outside the model's vocabulary is unknown (code 0).
//
// Thread-safety: ModelInput and InputMapping are immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainers/snapshot.h"
#include "triggers/trigger.h"

namespace ctd::scoring {

class ScoringError : public std::runtime_error {
 public:
  enum class Code {
    kLoad,      // the model file is missing, unreadable or not TorchScript
    kManifest,  // the manifest is absent or does not describe the model's input
    kInput,     // the batch does not match the layout, or labels do not match the rows
    kForward,   // forward() failed or returned something other than the task's predictions
  };
  ScoringError(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

// The input and output of a model version, from the manifest that ctd-train wrote.
struct ModelInput {
  trainers::Task task = trainers::Task::kBinary;
  int num_classes = 2;  // 2 for binary, K for multiclass, 0 for regression
  std::vector<std::string> numeric_features;
  std::vector<trainers::CategoricalFeature> categorical_features;

  std::size_t width() const { return numeric_features.size() + categorical_features.size(); }
  // Values forward() returns per row: K for multiclass, else 1.
  std::size_t outputs() const;

  // Reads "task", "num_classes" and "input" {"numeric_features", "categorical_features":
  // [{"name", "vocabulary"}]}. Throws ScoringError(kManifest) naming what is wrong.
  static ModelInput from_manifest(const nlohmann::json& manifest);
};

class InputMapping {
 public:
  InputMapping(const ModelInput& model, const triggers::FeatureLayout& layout);

  // Throws ScoringError(kInput) unless `batch` has the widths of the layout and spans that
  // hold `rows` rows.
  void check(const triggers::FeatureBatchView& batch) const;

  // Writes rows [first_row, first_row + rows) of `batch` into `x` (rows * width(), row-major).
  // REQUIRES: check(batch) passed, the rows lie in the batch, x.size() == rows * width().
  void fill(const triggers::FeatureBatchView& batch, std::size_t first_row, std::size_t rows,
            std::span<float> x) const;

  std::size_t width() const { return numeric_source_.size() + categorical_source_.size(); }
  // Model features the layout lacks (always missing), e.g. "x3", in the model's order.
  const std::vector<std::string>& missing() const { return missing_; }
  // Layout features the model does not use, in the layout's order.
  const std::vector<std::string>& ignored() const { return ignored_; }

 private:
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);

  std::size_t layout_numeric_ = 0, layout_categorical_ = 0;
  std::vector<std::size_t> numeric_source_;      // per model numeric feature: batch column
  std::vector<std::size_t> categorical_source_;  // per model categorical feature: batch column
  std::vector<std::unordered_map<std::string, float>> codes_;  // per model categorical feature
  std::vector<std::string> missing_, ignored_;
};

// Per-sample prequential errors of `predictions` (rows * outputs, as forward() returns them)
// against `labels`:
//   binary      1 when the predicted class (P(class 1) >= 0.5) differs from the label
//               (label > 0.5), else 0; the threshold of the validation metrics
//   multiclass  1 when the arg max (the first one on ties) differs from the label, else 0
//   regression  |prediction - label|
// REQUIRES: predictions.size() == labels.size() * model.outputs().
std::vector<double> prediction_errors(const ModelInput& model, std::span<const double> predictions,
                                      std::span<const double> labels);

}  // namespace ctd::scoring

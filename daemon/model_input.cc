#include "daemon/model_input.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ctd::scoring {
namespace {

[[noreturn]] void manifest_error(const std::string& what) {
  throw ScoringError(ScoringError::Code::kManifest, "model manifest: " + what);
}

const nlohmann::json& member(const nlohmann::json& object, const std::string& key,
                             const std::string& where) {
  if (!object.is_object() || !object.contains(key)) manifest_error(where + " has no '" + key + "'");
  return object.at(key);
}

std::string string_of(const nlohmann::json& j, const std::string& where) {
  if (!j.is_string()) manifest_error(where + " is not a string");
  return j.get<std::string>();
}

std::vector<std::string> strings_of(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array()) manifest_error(where + " is not an array");
  std::vector<std::string> out;
  for (const auto& e : j) out.push_back(string_of(e, where + " entry"));
  return out;
}

int num_classes_of(const nlohmann::json& manifest, trainers::Task task) {
  switch (task) {
    case trainers::Task::kBinary:
      return 2;
    case trainers::Task::kRegression:
      return 0;
    case trainers::Task::kMulticlass:
      break;
  }
  const auto& k = member(manifest, "num_classes", "a multiclass manifest");
  if (!k.is_number_integer() || k.get<int>() < 2)
    manifest_error("'num_classes' of a multiclass model must be an integer >= 2, not " + k.dump());
  return k.get<int>();
}

std::size_t position(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? static_cast<std::size_t>(-1)
                           : static_cast<std::size_t>(it - names.begin());
}

}  // namespace

std::size_t ModelInput::outputs() const {
  return task == trainers::Task::kMulticlass ? static_cast<std::size_t>(num_classes) : 1;
}

ModelInput ModelInput::from_manifest(const nlohmann::json& manifest) {
  if (!manifest.is_object()) manifest_error("not a JSON object");
  ModelInput m;
  const std::string task = string_of(member(manifest, "task", "the manifest"), "'task'");
  const auto parsed = trainers::parse_task(task);
  if (!parsed) manifest_error("unknown task '" + task + "'");
  m.task = *parsed;
  m.num_classes = num_classes_of(manifest, m.task);

  const auto& input = member(manifest, "input", "the manifest");
  if (input.contains("dtype") && input.at("dtype") != "float32")
    manifest_error("input dtype " + input.at("dtype").dump() + " is not \"float32\"");
  m.numeric_features =
      strings_of(member(input, "numeric_features", "'input'"), "'input.numeric_features'");
  const auto& categorical = member(input, "categorical_features", "'input'");
  if (!categorical.is_array()) manifest_error("'input.categorical_features' is not an array");
  for (const auto& c : categorical) {
    trainers::CategoricalFeature feature;
    feature.name = string_of(member(c, "name", "a categorical feature"), "a categorical name");
    feature.vocabulary =
        strings_of(member(c, "vocabulary", "categorical feature '" + feature.name + "'"),
                   "the vocabulary of '" + feature.name + "'");
    m.categorical_features.push_back(std::move(feature));
  }
  return m;
}

InputMapping::InputMapping(const ModelInput& model, const triggers::FeatureLayout& layout)
    : layout_numeric_(layout.numeric.size()), layout_categorical_(layout.categorical.size()) {
  for (const auto& name : model.numeric_features) {
    numeric_source_.push_back(position(layout.numeric, name));
    if (numeric_source_.back() == kAbsent) missing_.push_back(name);
  }
  for (const auto& feature : model.categorical_features) {
    categorical_source_.push_back(position(layout.categorical, feature.name));
    if (categorical_source_.back() == kAbsent) missing_.push_back(feature.name);
    auto& codes = codes_.emplace_back();
    // A value listed twice keeps its first code, as the trainer's encoding would.
    for (std::size_t k = 0; k < feature.vocabulary.size(); ++k)
      codes.emplace(feature.vocabulary[k], static_cast<float>(k + 1));
  }
  for (std::size_t f = 0; f < layout.numeric.size(); ++f)
    if (std::find(numeric_source_.begin(), numeric_source_.end(), f) == numeric_source_.end())
      ignored_.push_back(layout.numeric[f]);
  for (std::size_t f = 0; f < layout.categorical.size(); ++f)
    if (std::find(categorical_source_.begin(), categorical_source_.end(), f) ==
        categorical_source_.end())
      ignored_.push_back(layout.categorical[f]);
}

void InputMapping::check(const triggers::FeatureBatchView& batch) const {
  auto fail = [](const std::string& what) {
    throw ScoringError(ScoringError::Code::kInput, "feature batch: " + what);
  };
  if (batch.numeric_width != layout_numeric_ || batch.categorical_width != layout_categorical_)
    fail(std::to_string(batch.numeric_width) + " numeric and " +
         std::to_string(batch.categorical_width) +
         " categorical features per row, but the layout has " + std::to_string(layout_numeric_) +
         " and " + std::to_string(layout_categorical_));
  if (batch.numeric.size() != batch.rows * batch.numeric_width ||
      batch.categorical.size() != batch.rows * batch.categorical_width ||
      batch.categorical_set.size() != batch.categorical.size())
    fail("the columns do not hold " + std::to_string(batch.rows) + " rows");
}

void InputMapping::fill(const triggers::FeatureBatchView& batch, std::size_t first_row,
                        std::size_t rows, std::span<float> x) const {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t w = width();
  const std::size_t dn = numeric_source_.size();
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t row = first_row + r;
    float* out = x.data() + r * w;
    for (std::size_t f = 0; f < dn; ++f) {
      const std::size_t source = numeric_source_[f];
      out[f] = source == kAbsent ? kNan : static_cast<float>(batch.numeric_at(row, source));
    }
    for (std::size_t c = 0; c < categorical_source_.size(); ++c) {
      const std::size_t source = categorical_source_[c];
      const std::string* value = source == kAbsent ? nullptr : batch.categorical_at(row, source);
      float code = 0;
      if (value != nullptr) {
        const auto it = codes_[c].find(*value);
        if (it != codes_[c].end()) code = it->second;
      }
      out[dn + c] = code;
    }
  }
}

std::vector<double> prediction_errors(const ModelInput& model, std::span<const double> predictions,
                                      std::span<const double> labels) {
  const std::size_t k = model.outputs();
  std::vector<double> errors(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    switch (model.task) {
      case trainers::Task::kBinary:
        errors[i] = (predictions[i] >= 0.5) != (labels[i] > 0.5) ? 1.0 : 0.0;
        break;
      case trainers::Task::kMulticlass: {
        const auto row = predictions.subspan(i * k, k);
        const auto predicted = std::max_element(row.begin(), row.end()) - row.begin();
        errors[i] = static_cast<double>(predicted) != labels[i] ? 1.0 : 0.0;
        break;
      }
      case trainers::Task::kRegression:
        errors[i] = std::abs(predictions[i] - labels[i]);
        break;
    }
  }
  return errors;
}

}  // namespace ctd::scoring

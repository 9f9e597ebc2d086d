// Private to config/: what the readers (loader.cc, training_reader.cc, promotion_reader.cc,
// trigger_reader.cc) and the renderer (render.cc) share — the names of enumerated values and
// the user-settable run-spec keys, so that rendered YAML reads back to the same options, and
// case folding. Not part of the module's API; include config/loader.h instead.
//
// Thread-safety: constants and pure functions.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <span>
#include <string>
#include <string_view>

#include "config/options.h"

namespace ctd::config::internal {

// One accepted spelling of an enumerated option and the value it stands for.
template <typename T>
struct Choice {
  using Value = T;
  std::string_view name;
  T value;
};

inline constexpr std::array<Choice<FeatureType>, 2> kFeatureTypes{{
    {"numeric", FeatureType::kNumeric},
    {"categorical", FeatureType::kCategorical},
}};
inline constexpr std::array<Choice<LabelKind>, 3> kLabelKinds{{
    {"binary", LabelKind::kBinary},
    {"multiclass", LabelKind::kMulticlass},
    {"regression", LabelKind::kRegression},
}};
inline constexpr std::array<Choice<MetricDirection>, 2> kMetricDirections{{
    {"higher", MetricDirection::kHigherIsBetter},
    {"lower", MetricDirection::kLowerIsBetter},
}};
inline constexpr std::array<Choice<LogFormat>, 2> kLogFormats{{
    {"text", LogFormat::kText},
    {"json", LogFormat::kJson},
}};
inline constexpr std::array<Choice<LogOutput>, 2> kLogOutputs{{
    {"stderr", LogOutput::kStderr},
    {"stdout", LogOutput::kStdout},
}};
inline constexpr std::array<Choice<RunningTrainingOnShutdown>, 2> kRunningTrainingChoices{{
    {"cancel", RunningTrainingOnShutdown::kCancel},
    {"finish", RunningTrainingOnShutdown::kFinish},
}};
inline constexpr std::array<Choice<std::string_view>, 5> kLogLevels{{
    {"trace", "trace"},
    {"debug", "debug"},
    {"info", "info"},
    {"warn", "warn"},
    {"error", "error"},
}};

// A pipeline's `triggers` section (trigger_reader.cc), named as in triggers/.
inline constexpr std::array<Choice<triggers::TriggerKind>, 6> kTriggerKinds{{
    {"manual", triggers::TriggerKind::kManual},
    {"schedule", triggers::TriggerKind::kSchedule},
    {"new_data", triggers::TriggerKind::kNewData},
    {"decay", triggers::TriggerKind::kDecay},
    {"drift", triggers::TriggerKind::kDrift},
    {"composite", triggers::TriggerKind::kComposite},
}};
inline constexpr std::array<Choice<triggers::DecaySignal>, 2> kDecaySignals{{
    {"prequential_error", triggers::DecaySignal::kPrequentialError},
    {"metric", triggers::DecaySignal::kMetric},
}};
// A decay trigger's window criteria (key "criterion") and its detectors (key "detector.type").
inline constexpr std::array<Choice<triggers::DecayCriterion>, 4> kDecayCriteria{{
    {"static_threshold", triggers::DecayCriterion::kStaticThreshold},
    {"baseline_drop", triggers::DecayCriterion::kBaselineDrop},
    {"quantile", triggers::DecayCriterion::kQuantile},
    {"rolling_average", triggers::DecayCriterion::kRollingAverage},
}};
inline constexpr std::array<Choice<triggers::DecayCriterion>, 3> kDetectorTypes{{
    {"page_hinkley", triggers::DecayCriterion::kPageHinkley},
    {"adwin", triggers::DecayCriterion::kAdwin},
    {"ddm", triggers::DecayCriterion::kDdm},
}};
inline constexpr std::array<Choice<triggers::DropMode>, 2> kDropModes{{
    {"absolute", triggers::DropMode::kAbsolute},
    {"relative", triggers::DropMode::kRelative},
}};
inline constexpr std::array<Choice<triggers::CompositeMode>, 3> kCompositeModes{{
    {"any", triggers::CompositeMode::kAny},
    {"all", triggers::CompositeMode::kAll},
    {"at_least", triggers::CompositeMode::kAtLeast},
}};
inline constexpr std::array<Choice<triggers::DriftSource>, 2> kDriftSources{{
    {"inferences", triggers::DriftSource::kInferences},
    {"labels", triggers::DriftSource::kLabels},
}};
inline constexpr std::array<Choice<triggers::drift::WindowKind>, 2> kDriftWindowKinds{{
    {"tumbling", triggers::drift::WindowKind::kTumbling},
    {"sliding", triggers::drift::WindowKind::kSliding},
}};
// The canonical names first (rendering uses the first name of a value); "js" as `ctd drift`.
inline constexpr std::array<Choice<triggers::drift::DriftMetric>, 7> kDriftMetrics{{
    {"psi", triggers::drift::DriftMetric::kPsi},
    {"jensen_shannon", triggers::drift::DriftMetric::kJensenShannon},
    {"wasserstein", triggers::drift::DriftMetric::kWasserstein},
    {"ks", triggers::drift::DriftMetric::kKolmogorovSmirnov},
    {"chi2", triggers::drift::DriftMetric::kChiSquared},
    {"linf", triggers::drift::DriftMetric::kLInfinity},
    {"js", triggers::drift::DriftMetric::kJensenShannon},
}};
inline constexpr std::array<Choice<triggers::drift::ThresholdPolicy>, 2> kThresholdPolicies{{
    {"static", triggers::drift::ThresholdPolicy::kStatic},
    {"dynamic_quantile", triggers::drift::ThresholdPolicy::kDynamicQuantile},
}};
inline constexpr std::array<Choice<triggers::drift::DatasetRule>, 2> kDatasetRules{{
    {"share", triggers::drift::DatasetRule::kShare},
    {"any", triggers::drift::DatasetRule::kAny},
}};
inline constexpr std::array<Choice<triggers::drift::Correction>, 3> kCorrections{{
    {"none", triggers::drift::Correction::kNone},
    {"bonferroni", triggers::drift::Correction::kBonferroni},
    {"benjamini_hochberg", triggers::drift::Correction::kBenjaminiHochberg},
}};

// The YAML form of a run-spec key's value (also its form in trainers::RunSpec::to_json()).
enum class SpecValue {
  kInt,     // an int
  kSeed,    // a non-negative 64-bit integer
  kNumber,  // a double
  kBool,
  kString,      // a non-empty string, checked by trainers::parse_run_spec
  kPath,        // a file path, made absolute against the config file's directory
  kIntList,     // a list of ints
  kStringList,  // a list of non-empty strings
  kMap,         // a nested map with the keys `members`
};

// One key of a pipeline's `training` section: a run-spec key that a user may set. The keys a
// daemon sets per run (run_id, pipeline, snapshot, init_model_path, code_version) are absent
// on purpose, so that the loader reports them as unknown.
struct SpecKey {
  std::string_view name;
  SpecValue value;
  std::span<const SpecKey> members = {};
};

inline constexpr SpecKey kModelSpecKeys[] = {
    {"type", SpecValue::kString},       {"hidden", SpecValue::kIntList},
    {"activation", SpecValue::kString}, {"dropout", SpecValue::kNumber},
    {"path", SpecValue::kPath},
};
inline constexpr SpecKey kOptimizerSpecKeys[] = {
    {"name", SpecValue::kString},
    {"learning_rate", SpecValue::kNumber},
    {"weight_decay", SpecValue::kNumber},
    {"momentum", SpecValue::kNumber},
};
inline constexpr SpecKey kEarlyStoppingSpecKeys[] = {
    {"patience", SpecValue::kInt},
    {"min_delta", SpecValue::kNumber},
};
inline constexpr SpecKey kRunSpecKeys[] = {
    {"model", SpecValue::kMap, kModelSpecKeys},
    {"init", SpecValue::kString},
    {"optimizer", SpecValue::kMap, kOptimizerSpecKeys},
    {"epochs", SpecValue::kInt},
    {"batch_size", SpecValue::kInt},
    {"validation_fraction", SpecValue::kNumber},
    {"early_stopping", SpecValue::kMap, kEarlyStoppingSpecKeys},
    {"class_weighting", SpecValue::kString},
    {"weighted_sampling", SpecValue::kBool},
    {"seed", SpecValue::kSeed},
    {"device", SpecValue::kString},
    {"bf16", SpecValue::kBool},
    {"threads", SpecValue::kInt},
    {"slices", SpecValue::kStringList},
};

inline std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace ctd::config::internal

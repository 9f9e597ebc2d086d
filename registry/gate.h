// The promotion gate: whether a candidate model may replace production, decided from both
// models' evaluations on the same held-out samples. Pure functions, no I/O.
//
// Rules (config::PromotionOptions), each a named check in the decision:
//   metric          the candidate's evaluation reports the metric (roc_auc is absent when the
//                   held-out data hold one class only).
//   rows            the evaluation covers at least min_holdout_samples samples.
//   min_value       candidate >= min_value            (when set)
//   max_value       candidate <= max_value            (when set)
//   -- with a champion (production) only; the first model of a pipeline skips these --
//   min_improvement           improvement >= min_improvement, where improvement is
//                             candidate - champion, sign-flipped when lower is better
//   min_relative_improvement  improvement / |champion| >= the bound (when set; a champion of
//                             0 passes when improvement >= 0)
//   slice <f>=<v>   for each configured slice feature and each of its values with at least
//                   min_slice_samples rows in both evaluations: the champion's metric minus the
//                   candidate's, in the better direction, is at most max_slice_regression.
//                   A slice whose metric is missing in either evaluation is not judged.
// The gate passes when every check passes. Each check records the numbers it compared.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/options.h"

namespace ctd::registry {

// What `ctd-train evaluate` prints: {"rows": n, "overall": {metric: value},
// "slices": {feature: {value: {"rows": n, "metrics": {metric: value}}}}}.
struct EvalReport {
  struct Slice {
    std::int64_t rows = 0;
    std::map<std::string, double> metrics;
  };
  std::int64_t rows = 0;
  std::map<std::string, double> overall;
  std::map<std::string, std::map<std::string, Slice>> slices;  // feature -> value -> slice

  // Throws std::runtime_error naming the bad part when `j` does not have that shape.
  static EvalReport from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

struct GateCheck {
  std::string name;  // "metric", "rows", "min_value", "min_improvement", "slice region=eu", ...
  bool passed = false;
  std::string detail;     // human-readable, with the numbers: "roc_auc 0.812 < min_value 0.85"
  nlohmann::json values;  // the numbers compared, e.g. {"candidate": 0.812, "bound": 0.85}
};

struct GateDecision {
  bool passed = false;
  std::string metric;
  std::optional<double> candidate_value, champion_value;
  std::vector<GateCheck> checks;

  // The failed checks' details joined with "; " ("" when passed).
  std::string reasons() const;
  nlohmann::json to_json() const;  // {"passed", "metric", "candidate", "champion", "checks"}
};

// Judges `candidate` against `champion` (nullptr for the first model of a pipeline).
GateDecision decide(const config::PromotionOptions& options, const EvalReport& candidate,
                    const EvalReport* champion);

// Guardrail after a promotion: roll back when the new version's metric on the guard samples is
// worse than the previous version's by more than guardrail.max_drop (in the better direction),
// or when the new version's metric is missing and the previous one's is not.
struct GuardDecision {
  bool rollback = false;
  std::string detail;  // with the numbers, for the alias history and audit log
  nlohmann::json values;
};
GuardDecision judge_guardrail(const config::PromotionOptions& options,
                              const config::GuardrailOptions& guardrail, const EvalReport& promoted,
                              const EvalReport& previous);

}  // namespace ctd::registry

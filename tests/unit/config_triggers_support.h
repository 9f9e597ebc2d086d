// Helpers of the tests of a pipeline's `triggers` section (config_triggers_test.cc,
// config_triggers_errors_test.cc): a valid base configuration to add triggers to, parsing that
// expects success or errors, and an error matcher by key path, line and message.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "triggers/engine_spec.h"

namespace config_triggers_test {

using ctd::config::ConfigError;
using ctd::config::Options;
using ctd::triggers::CompositeMode;
using ctd::triggers::CompositeSpec;
using ctd::triggers::DecayCriterion;
using ctd::triggers::DecayOptions;
using ctd::triggers::DecaySignal;
using ctd::triggers::DriftSource;
using ctd::triggers::DriftTriggerOptions;
using ctd::triggers::EngineSpec;
using ctd::triggers::NewDataOptions;
using ctd::triggers::ScheduleOptions;
using ctd::triggers::TriggerKind;
using ctd::triggers::TriggerSpec;
namespace drift = ctd::triggers::drift;
using std::chrono::seconds;

// Raw strings below start with a newline so that their first line is line 1.
inline std::string yaml(const char* text) { return std::string(text).substr(1); }

// A valid configuration: two numeric features and one categorical, labels and inferences.
// with_triggers() appends a `triggers` section on line 13, so its first key is on line 14.
inline const std::string kBase = yaml(R"(
postgres:
  dsn: postgresql://ctd@localhost/ctd
kafka:
  brokers: embedded
pipelines:
  - name: churn
    topics: {labels: churn.labels, inferences: churn.inferences}
    features:
      - {name: tenure, type: numeric}
      - {name: spend, type: numeric}
      - {name: plan, type: categorical}
    label: {kind: binary}
)");

// kBase with `section` (the lines under `triggers:`, indented by 6) from line 14.
inline std::string with_triggers(const char* section) {
  return kBase + "    triggers:\n" + yaml(section);
}

// kBase with one trigger (a flow map, or block lines indented by 10) as the only rule, which
// starts on line 15.
inline std::string with_rule(const std::string& rule) {
  return kBase + "    triggers:\n      rules:\n        - " + rule + "\n";
}

inline std::string describe(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& error : errors) out += "\n  " + error.to_string();
  return out;
}

inline Options options_of(const std::string& text) {
  auto result = ctd::config::parse(text, "/etc/ctd/ctd.yaml", {});
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
    ADD_FAILURE() << "unexpected errors:" << describe(*errors);
    return {};
  }
  return std::get<Options>(result);
}

inline std::vector<ConfigError> errors_of(const std::string& text) {
  auto result = ctd::config::parse(text, "test.yaml", {});
  if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) return *errors;
  ADD_FAILURE() << "expected errors, but the configuration was accepted";
  return {};
}

// Succeeds when one error has this key path and line and its message contains `text`.
inline testing::AssertionResult HasError(const std::vector<ConfigError>& errors,
                                         const std::string& key_path, int line,
                                         const std::string& text) {
  for (const ConfigError& error : errors) {
    if (error.key_path == key_path && error.line == line &&
        error.message.find(text) != std::string::npos) {
      return testing::AssertionSuccess();
    }
  }
  return testing::AssertionFailure() << "no error at " << key_path << " (line " << line
                                     << ") containing \"" << text << "\"; got:" << describe(errors);
}

// The single error of `text`, which must be at `key_path` on `line` and contain `message`.
inline testing::AssertionResult OnlyError(const std::string& text, const std::string& key_path,
                                          int line, const std::string& message) {
  const std::vector<ConfigError> errors = errors_of(text);
  if (errors.size() != 1) {
    return testing::AssertionFailure() << "expected one error, got:" << describe(errors);
  }
  return HasError(errors, key_path, line, message);
}

inline const EngineSpec& engine_of(const Options& options) {
  static const EngineSpec kNone;
  return options.pipelines.empty() ? kNone : options.pipelines[0].triggers;
}

// The options of the only rule of `text`, of type T.
template <typename T>
T rule_of(const std::string& text) {
  const Options options = options_of(text);
  const EngineSpec& spec = engine_of(options);
  if (spec.triggers.size() != 1 || !std::holds_alternative<T>(spec.triggers[0].options)) {
    ADD_FAILURE() << "expected one trigger of the requested kind";
    return T{};
  }
  return std::get<T>(spec.triggers[0].options);
}

inline const std::string kRules = "pipelines[0].triggers.rules";
inline std::string rule_path(const std::string& rest = "") { return kRules + "[0]" + rest; }

inline std::filesystem::path examples_dir() {
  return std::filesystem::path(CTD_SOURCE_DIR) / "config" / "examples";
}

}  // namespace config_triggers_test

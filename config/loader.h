// Loads and validates ctd's YAML configuration into config::Options.
//
// Strict: unknown keys (with a "did you mean" suggestion for near misses), wrong types,
// out-of-range values and missing required keys are all reported, each with the file, line,
// column and key path. All errors are collected, not just the first. Thread-safety: pure
// functions.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "config/options.h"

namespace ctd::config {

struct ConfigError {
  std::string file;
  int line = 0;          // 1-based; 0 when not tied to a position (e.g. environment override)
  int column = 0;        // 1-based
  std::string key_path;  // e.g. "pipelines[0].features[2].type"
  std::string message;   // e.g. "unknown key 'typ' (did you mean 'type'?)"

  // "file:line:column: key_path: message"
  std::string to_string() const;
};

using Environment = std::map<std::string, std::string>;

// Reads the process environment's CTD_* variables.
Environment process_environment();

// Parses `yaml_text` (named `file` in errors) and applies environment overrides.
std::variant<Options, std::vector<ConfigError>> parse(const std::string& yaml_text,
                                                      const std::string& file,
                                                      const Environment& env);

// Reads and parses the file; an unreadable file is a single ConfigError.
std::variant<Options, std::vector<ConfigError>> load(const std::string& path,
                                                     const Environment& env);

// The resolved configuration as YAML, secrets (the password in the Postgres DSN, and any
// librdkafka property whose name contains "password", "secret" or "key") masked as "*****".
std::string render(const Options& options);

}  // namespace ctd::config

// Helpers shared by ctd's subcommands (daemon/cli.cc and the commands in their own files).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/options.h"

namespace ctd::cli {

using Args = std::vector<std::string>;  // arguments after the subcommand

// The daemon's logging as configured: text, or JSON lines (time, level, logger, thread,
// message; always valid JSON), on log.output.
void configure_logging(const config::LogOptions& log);
// The one-shot commands' (ctd train, ctd registry): log.level and log.format, but always on
// stderr, since their standard output is their result.
void configure_command_logging(const config::LogOptions& log);
// Finds "-c FILE" / "--config FILE"; prints the problem and returns nullopt when absent.
std::optional<std::string> config_path(const Args& args);
bool has_flag(const Args& args, const std::string& flag);
// The value after `flag`, if the flag is given.
std::optional<std::string> flag_value(const Args& args, const std::string& flag);
// Loads and validates the configuration; prints the errors and returns nullopt on failure.
std::optional<config::Options> load_config(const std::string& path);
std::optional<int> parse_int(const std::string& text, int min, int max);
std::optional<std::int64_t> parse_int64(const std::string& text, std::int64_t min,
                                        std::int64_t max);

}  // namespace ctd::cli

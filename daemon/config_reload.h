// SIGHUP in `ctd run`: the configuration file is read again and compared with the running
// configuration. Only log.level changes in place (spdlog's level is process-wide and atomic);
// every other difference is reported by key (a top-level section, `log.format`, `log.output`, or
// `pipelines.NAME`, with `pipelines` for added or removed pipelines) as needing a restart, and
// the daemon keeps running with what it has. A file that no longer parses changes nothing.
//
// Ownership: plain functions over values. Thread-safety: reload_config may run on any thread;
// it changes only spdlog's global level.
#pragma once

#include <string>
#include <vector>

#include "config/options.h"

namespace ctd {

struct ConfigDiff {
  std::vector<std::string> reloadable;     // changed keys applied in place: "log.level"
  std::vector<std::string> needs_restart;  // changed keys that take a restart
};

// The keys whose rendered values (config::render, secrets masked) differ; a changed secret
// that renders masked on both sides is not seen.
ConfigDiff diff_config(const config::Options& running, const config::Options& reread);

struct ReloadResult {
  bool read = false;  // false: the file did not load; `errors` says why, nothing changed
  std::vector<std::string> errors;
  ConfigDiff diff;
};

// Reads `path` (with the process's CTD_* overrides, as at start-up), applies log.level if it
// changed and updates running.log.level accordingly, logs what it did and what did not reload.
ReloadResult reload_config(const std::string& path, config::Options& running);

}  // namespace ctd

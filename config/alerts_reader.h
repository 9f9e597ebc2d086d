// Private to config/: the reader of the root `alerts` section (ops alerts to Alertmanager and
// webhooks, daemon/alerts.h). Webhook secrets come from the environment variables the section
// names, never from the file. Reports into the MapReader's ErrorSink like every section reader
// (config/reader.h). Not part of the module's API; include config/loader.h instead.
//
// Thread-safety: a pure function over one parse's readers.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "config/options.h"
#include "config/reader.h"

namespace ctd::config::internal {

// Relative `ca_file` paths are resolved against `config_dir`.
AlertsOptions read_alerts(const MapReader& root, const std::map<std::string, std::string>& env,
                          const std::filesystem::path& config_dir);

}  // namespace ctd::config::internal

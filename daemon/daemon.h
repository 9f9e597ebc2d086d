// The production wiring of a ctd daemon: schema check, embedded broker (when configured),
// one StreamIngestor thread per pipeline stream, the health prober and the HTTP endpoints.
// Runs until SIGTERM or SIGINT, then drains: intake stops, the open batches are written, no
// new training starts, and running trainings are cancelled or, with shutdown.running_training:
// finish, waited for until shutdown.drain_timeout_s after the signal or a second signal (see
// "Drain" in daemon/README.md). SIGHUP re-reads the configuration.
#pragma once

#include <string>

#include "config/options.h"

namespace ctd {

struct RunFlags {
  bool migrate = false;  // apply pending migrations instead of refusing to start
  // The configuration file, re-read on SIGHUP (daemon/config_reload.h: log.level reloads, other
  // changes are reported as needing a restart). Empty: SIGHUP is not handled.
  std::string config_path;
};

// Returns the process exit code: 0 after a clean shutdown (a drain that cancelled trainings
// included), 2 when the schema is not current, 1 on other start-up failures or a failed
// ingestion (each logged with its reason).
int run_daemon(const config::Options& options, const RunFlags& flags);

}  // namespace ctd

// SIGHUP in `ctd run`: the configuration file is read again and compared with the running
// configuration. log.level changes in place (spdlog's level is process-wide and atomic); with
// TLS on before and after, the certificate, key and client CAs are loaded again from the files
// `http.tls` names (certificate rotation: the paths usually stay, the files change) and serve
// new connections, while a set that does not load leaves the previous one serving. Every other
// difference is reported by key (a top-level section, `http.tls` turned on or off,
// `http.tls.handshake_timeout_s`, `log.format`, `log.output`, or `pipelines.NAME`, with
// `pipelines` for added or removed pipelines) as needing a restart, and the daemon keeps
// running with what it has. A file that no longer parses changes nothing.
//
// Ownership: plain functions over values. Thread-safety: reload_config may run on any thread;
// it changes only spdlog's global level and what `reload_tls` changes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/options.h"

namespace ctd {

struct ConfigDiff {
  // Changed keys applied in place: "log.level", "http.tls" (other certificate files).
  std::vector<std::string> reloadable;
  std::vector<std::string> needs_restart;  // changed keys that take a restart
};

// The keys whose rendered values (config::render, secrets masked) differ; a changed secret
// that renders masked on both sides is not seen.
ConfigDiff diff_config(const config::Options& running, const config::Options& reread);

struct ReloadResult {
  bool read = false;  // false: the file did not load; `errors` says why, nothing changed
  std::vector<std::string> errors;
  ConfigDiff diff;
  bool tls_reloaded = false;
  std::string tls_error;  // the certificate files did not load; the previous ones serve
};

// Puts the TLS files of `tls` into service (HttpServer::replace_tls_context) and returns what
// they present, for the log; throws (tls::TlsError) when they cannot be used.
using TlsReloader = std::function<std::string(const config::TlsOptions& tls)>;

// Reads `path` (with the process's CTD_* overrides, as at start-up), applies log.level if it
// changed and updates running.log.level accordingly; with TLS on in both and `reload_tls` set,
// reloads the certificate through it and updates running.http.tls's files; logs what it did and
// what did not reload.
ReloadResult reload_config(const std::string& path, config::Options& running,
                           const TlsReloader& reload_tls = {});

}  // namespace ctd

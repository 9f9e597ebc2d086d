// The /v1 control API of the daemon (issue 7): the routes of the model registry, training
// runs, trigger events and pipelines, added to the daemon's http::Router by add_api_routes().
// Handlers are plain functions over http::HttpRequest (testable without sockets); each one is
// guarded by a bearer token (daemon/api_auth.h): GET needs read, everything else admin.
//
// JSON everywhere; errors are {"error": {"code", "message"}} with 400 (malformed request),
// 401/403 (auth), 404 (unknown id), 409 (conflict, e.g. a promotion race), 413 (body too large,
// by the server's limit), 422 (invalid state), 503 (database unavailable). Lists are pages:
// {"items": [...], "next_cursor": "..." or null}, with ?limit= (1..500, default 50) and
// ?cursor= (opaque; the next_cursor of the previous page).
//
// Owned by daemon.cc (the wiring); the ApiContext's members must outlive the router.
// Thread-safety: handlers may run on any thread; everything they reach is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/options.h"
#include "daemon/api_auth.h"
#include "daemon/http_server.h"
#include "daemon/pg.h"
#include "daemon/pipeline_control.h"
#include "registry/registry.h"

namespace ctd::api {

// One PostgreSQL connection for the API's own reads (runs, trigger events, pipelines),
// connected lazily, used under a mutex and dropped after an error so the next call reconnects.
class Database {
 public:
  explicit Database(std::string dsn) : dsn_(std::move(dsn)) {}
  pg::PgResult exec(const std::string& sql, const std::vector<pg::Param>& params);

 private:
  std::string dsn_;
  std::mutex mutex_;
  std::unique_ptr<pg::PgConnection> connection_;
};

struct ApiContext {
  const config::Options& options;
  registry::Registry& registry;
  Database& database;
  // Cancels a run this daemon supervises: false if it is not running here. Empty: no runs
  // can be cancelled through this daemon.
  std::function<bool(std::int64_t run_id, const std::string& why)> cancel_run;
  // The handles into the pipelines' loops, by pipeline name (pipelines with triggers only).
  std::map<std::string, std::shared_ptr<loop::PipelineControl>> controls;
  // How long POST /v1/pipelines/{p}/trigger waits for the leader's next round.
  std::chrono::milliseconds manual_timeout{10'000};
};

// Adds every /v1 route.
void add_api_routes(http::Router& router, std::shared_ptr<const TokenSet> tokens,
                    ApiContext& context);

}  // namespace ctd::api

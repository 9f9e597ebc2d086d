// The /v1 routes of training runs (list, detail with progress, metrics and log tail, cancel)
// and trigger events, read from PostgreSQL through the API's own connection.
#include <fstream>
#include <limits>

#include "daemon/api_support.h"

namespace ctd::api {
namespace {

constexpr std::int64_t kMaxId = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kLogTailBytes = 16 * 1024;
constexpr std::size_t kLogTailLines = 50;
constexpr const char* kRunStates[] = {"queued", "running", "succeeded", "failed", "cancelled"};
constexpr const char* kEventStates[] = {"held", "started", "superseded"};

// The columns of a run in a list; the detail adds more.
constexpr const char* kRunSummary =
    "jsonb_build_object('id', r.run_id, 'pipeline', p.name, 'status', r.status, 'reason', "
    "r.reason, 'requested_by', r.requested_by, 'snapshot_id', r.snapshot_id, 'progress', "
    "r.progress, 'metrics', r.metrics, 'failure_reason', r.failure_reason, 'created_at', "
    "r.created_at, 'started_at', r.started_at, 'finished_at', r.finished_at)";

template <std::size_t N>
pg::Param choice_param(const http::HttpRequest& request, const std::string& key,
                       const char* const (&choices)[N]) {
  const auto it = request.query.find(key);
  if (it == request.query.end()) return std::nullopt;
  for (const char* choice : choices)
    if (it->second == choice) return it->second;
  bad_request("unknown " + key + " '" + it->second + "'");
}

pg::Param query_param(const http::HttpRequest& request, const std::string& key) {
  const auto it = request.query.find(key);
  return it == request.query.end() ? pg::Param() : pg::Param(it->second);
}

pg::Param cursor_param(const PageRequest& paging) {
  return paging.cursor ? pg::Param(std::to_string(*paging.cursor)) : pg::Param();
}

std::vector<std::pair<std::int64_t, nlohmann::json>> rows_of(const pg::PgResult& r) {
  std::vector<std::pair<std::int64_t, nlohmann::json>> rows;
  for (int i = 0; i < r.rows(); ++i)
    rows.emplace_back(r.integer(i, 0), nlohmann::json::parse(r.text(i, 1)));
  return rows;
}

// The last lines of a log file (at most kLogTailBytes of it); empty when it cannot be read.
std::vector<std::string> log_tail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - kLogTailBytes);
  in.seekg(start);
  std::string text(static_cast<std::size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  if (start > 0 && !lines.empty()) lines.erase(lines.begin());  // a partial first line
  if (lines.size() > kLogTailLines) lines.erase(lines.begin(), lines.end() - kLogTailLines);
  return lines;
}

http::HttpResponse list_runs(ApiContext& c, const http::HttpRequest& request) {
  const PageRequest paging = page_request(request);
  const pg::PgResult r = c.database.exec(
      std::string("SELECT r.run_id, ") + kRunSummary +
          " FROM training_runs r JOIN pipelines p USING (pipeline_id) WHERE ($1::text IS NULL "
          "OR p.name = $1) AND ($2::text IS NULL OR r.status = $2) AND ($3::bigint IS NULL OR "
          "r.run_id < $3) ORDER BY r.run_id DESC LIMIT $4",
      {query_param(request, "pipeline"), choice_param(request, "status", kRunStates),
       cursor_param(paging), std::to_string(paging.limit + 1)});
  return ok(page(rows_of(r), paging));
}

http::HttpResponse get_run(ApiContext& c, const http::HttpRequest& request) {
  const std::int64_t id = int_param(request, "id", 1, kMaxId);
  const pg::PgResult r = c.database.exec(
      std::string("SELECT ") + kRunSummary +
          " || jsonb_build_object('spec', r.spec, 'manifest', r.manifest, 'progress_lines', "
          "r.progress_lines, 'exit_code', r.exit_code, 'signal', r.signal, 'last_log', "
          "r.last_log, 'run_dir', r.run_dir, 'supervisor', r.supervisor, 'pid', r.pid, "
          "'trigger_events', (SELECT coalesce(jsonb_agg(e.event_id ORDER BY e.event_id), "
          "'[]') FROM trigger_events e WHERE e.run_id = r.run_id)) "
          "FROM training_runs r JOIN pipelines p USING (pipeline_id) WHERE r.run_id = $1",
      {std::to_string(id)});
  if (r.rows() == 0) not_found("unknown run " + std::to_string(id));
  nlohmann::json run = nlohmann::json::parse(r.text(0, 0));
  const std::string dir = run.value("run_dir", "");
  run["log_tail"] = {{"stdout", log_tail(dir + "/stdout.log")},
                     {"stderr", log_tail(dir + "/stderr.log")}};
  return ok(run);
}

// Body: {"reason": R (optional)}. 202 when the run is being cancelled; 422 when it has ended;
// 409 when another daemon supervises it.
http::HttpResponse cancel_run(ApiContext& c, const http::HttpRequest& request,
                              const Principal& who) {
  const std::int64_t id = int_param(request, "id", 1, kMaxId);
  const nlohmann::json body = body_object(request);
  const std::string reason = string_member(body, "reason", false).value_or("no reason given");
  const pg::PgResult r = c.database.exec(
      "SELECT status, supervisor FROM training_runs WHERE run_id = $1", {std::to_string(id)});
  if (r.rows() == 0) not_found("unknown run " + std::to_string(id));
  const std::string status(r.text(0, 0));
  if (status != "queued" && status != "running")
    throw ApiError(422, "invalid_state", "run " + std::to_string(id) + " has ended: " + status);
  const std::string why = "cancelled by " + who.name + " through the API: " + reason;
  if (!c.cancel_run || !c.cancel_run(id, why))
    throw ApiError(409, "conflict",
                   "run " + std::to_string(id) + " is supervised by " + std::string(r.text(0, 1)) +
                       ", not by this daemon");
  return ok({{"id", id}, {"status", "cancelling"}, {"reason", why}}, 202);
}

http::HttpResponse list_trigger_events(ApiContext& c, const http::HttpRequest& request) {
  const PageRequest paging = page_request(request);
  const pg::PgResult r = c.database.exec(
      "SELECT e.event_id, jsonb_build_object('id', e.event_id, 'pipeline', p.name, 'trigger', "
      "e.trigger, 'kind', e.kind, 'reason', e.reason, 'evidence', e.evidence, 'fired_at', "
      "e.fired_at, 'status', e.status, 'deferred_by', e.deferred_by, 'run_id', e.run_id, "
      "'attempts', e.attempts, 'abandoned_runs', to_jsonb(e.abandoned_runs), 'updated_at', "
      "e.updated_at) FROM trigger_events e JOIN pipelines p USING (pipeline_id) WHERE "
      "($1::text IS NULL OR p.name = $1) AND ($2::text IS NULL OR e.status = $2) AND "
      "($3::bigint IS NULL OR e.event_id < $3) ORDER BY e.event_id DESC LIMIT $4",
      {query_param(request, "pipeline"), choice_param(request, "status", kEventStates),
       cursor_param(paging), std::to_string(paging.limit + 1)});
  return ok(page(rows_of(r), paging));
}

}  // namespace

void add_run_routes(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
                    ApiContext& context) {
  add_read(router, tokens, context, "/v1/runs", list_runs);
  add_read(router, tokens, context, "/v1/runs/{id}", get_run);
  add_write(router, tokens, context, "/v1/runs/{id}/cancel", cancel_run);
  add_read(router, tokens, context, "/v1/trigger-events", list_trigger_events);
}

}  // namespace ctd::api

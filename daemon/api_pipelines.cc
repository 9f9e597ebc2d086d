// The /v1 routes of pipelines: list and detail (pause from PostgreSQL, production version,
// the trigger engine's state where this replica leads), a manual training request, pause and
// resume (pipeline_controls, read by the leader every round; ingestion is not affected).
#include "daemon/api_support.h"

namespace ctd::api {
namespace {

// The pipeline's pipeline_controls row as JSON (paused false when there is none).
nlohmann::json pause_state(ApiContext& c, const std::string& pipeline) {
  const pg::PgResult r = c.database.exec(
      "SELECT jsonb_build_object('paused', pc.paused, 'changed_by', pc.changed_by, 'reason', "
      "pc.reason, 'changed_at', pc.changed_at) FROM pipeline_controls pc JOIN pipelines p USING "
      "(pipeline_id) WHERE p.name = $1",
      {pipeline});
  if (r.rows() == 0) return {{"paused", false}};
  return nlohmann::json::parse(r.text(0, 0));
}

nlohmann::json summary(ApiContext& c, const config::PipelineOptions& p) {
  nlohmann::json triggers = nlohmann::json::array();
  for (const auto& t : p.triggers.triggers)
    triggers.push_back({{"name", t.name()}, {"kind", std::string(triggers::to_string(t.kind()))}});
  const auto control = c.controls.find(p.name);
  const bool leads = control != c.controls.end() && control->second->snapshot().leads;
  const auto production = c.registry.production(p.name);
  return {{"name", p.name},
          {"paused", pause_state(c, p.name).value("paused", false)},
          {"led_here", leads},
          {"production_version", production ? nlohmann::json(production->version) : nullptr},
          {"triggers", triggers}};
}

http::HttpResponse list_pipelines(ApiContext& c, const http::HttpRequest&) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& p : c.options.pipelines) items.push_back(summary(c, p));
  return ok({{"items", items}, {"next_cursor", nullptr}});
}

http::HttpResponse get_pipeline(ApiContext& c, const http::HttpRequest& request) {
  const config::PipelineOptions& p = pipeline_named(c, request.params.at("p"));
  nlohmann::json out = summary(c, p);
  out["control"] = pause_state(c, p.name);
  const auto control = c.controls.find(p.name);
  out["engine"] = nullptr;
  if (control != c.controls.end()) {
    const auto snapshot = control->second->snapshot();
    out["engine"] = snapshot.engine;  // triggers with their last evaluation and evidence
    // When the leader last published it (epoch ms; it does every round), null if never.
    out["engine_published_ms"] =
        snapshot.at == std::chrono::system_clock::time_point{}
            ? nlohmann::json()
            : nlohmann::json(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 snapshot.at.time_since_epoch())
                                 .count());
  }
  const pg::PgResult last = c.database.exec(
      "SELECT jsonb_build_object('id', e.event_id, 'trigger', e.trigger, 'reason', e.reason, "
      "'fired_at', e.fired_at, 'status', e.status, 'run_id', e.run_id) FROM trigger_events e "
      "JOIN pipelines p USING (pipeline_id) WHERE p.name = $1 ORDER BY e.event_id DESC LIMIT 1",
      {p.name});
  out["last_trigger_event"] =
      last.rows() == 1 ? nlohmann::json::parse(last.text(0, 0)) : nlohmann::json();
  return ok(out);
}

// Body: {"reason": R, "trigger": NAME (optional: the first manual trigger)}. Answered after the
// leader's next round: 202 with the engine's decision (a training started, or deferred because
// one is in flight), 409 when another replica leads, 422 without a manual trigger.
http::HttpResponse trigger(ApiContext& c, const http::HttpRequest& request, const Principal& who) {
  const config::PipelineOptions& p = pipeline_named(c, request.params.at("p"));
  const nlohmann::json body = body_object(request);
  loop::ManualRequest manual;
  manual.reason = *string_member(body, "reason", true);
  manual.trigger = string_member(body, "trigger", false).value_or("");
  manual.requested_by = who.name;
  const auto control = c.controls.find(p.name);
  if (control == c.controls.end())
    throw ApiError(422, "invalid_state", p.name + " has no triggers configured");
  if (!control->second->snapshot().leads)
    throw ApiError(409, "not_leader", "this replica does not lead " + p.name + "; ask its leader");
  auto answer = control->second->request_manual(std::move(manual));
  if (answer.wait_for(c.manual_timeout) != std::future_status::ready)
    throw ApiError(503, "unavailable", "the loop of " + p.name + " did not answer in time");
  const loop::ManualResult result = answer.get();
  if (!result.accepted) throw ApiError(422, "invalid_state", result.message);
  return ok({{"pipeline", p.name}, {"outcome", result.message}, {"decision", result.decision}},
            202);
}

http::HttpResponse set_paused(ApiContext& c, const http::HttpRequest& request, const Principal& who,
                              bool paused) {
  const config::PipelineOptions& p = pipeline_named(c, request.params.at("p"));
  const nlohmann::json body = body_object(request);
  const std::string reason =
      string_member(body, "reason", paused).value_or(paused ? "" : "resumed");
  c.database.exec("INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                  {p.name});
  c.database.exec(
      "INSERT INTO pipeline_controls (pipeline_id, paused, changed_by, reason) SELECT "
      "pipeline_id, $2, $3, $4 FROM pipelines WHERE name = $1 ON CONFLICT (pipeline_id) DO "
      "UPDATE SET paused = EXCLUDED.paused, changed_by = EXCLUDED.changed_by, reason = "
      "EXCLUDED.reason, changed_at = now()",
      {p.name, paused ? "true" : "false", who.name, reason});
  return ok({{"pipeline", p.name}, {"control", pause_state(c, p.name)}});
}

http::HttpResponse pause(ApiContext& c, const http::HttpRequest& r, const Principal& who) {
  return set_paused(c, r, who, true);
}

http::HttpResponse resume(ApiContext& c, const http::HttpRequest& r, const Principal& who) {
  return set_paused(c, r, who, false);
}

}  // namespace

void add_pipeline_routes(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
                         ApiContext& context) {
  add_read(router, tokens, context, "/v1/pipelines", list_pipelines);
  add_read(router, tokens, context, "/v1/pipelines/{p}", get_pipeline);
  add_write(router, tokens, context, "/v1/pipelines/{p}/trigger", trigger);
  add_write(router, tokens, context, "/v1/pipelines/{p}/pause", pause);
  add_write(router, tokens, context, "/v1/pipelines/{p}/resume", resume);
}

}  // namespace ctd::api

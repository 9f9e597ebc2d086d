// The registry's routes of the /v1 API: models, versions (with lineage), the alias history,
// promotion (the gate overridden only with "override_gate": true and a reason) and rollback.
// JSON shapes are those of `ctd registry` (daemon/registry_command.cc).
#include <algorithm>
#include <limits>

#include "daemon/api_support.h"
#include "daemon/registry_wiring.h"

namespace ctd::api {
namespace {

constexpr std::int64_t kMaxVersion = std::numeric_limits<int>::max();

void require_model(registry::Registry& r, const std::string& model) {
  const auto models = r.models();
  if (std::find(models.begin(), models.end(), model) == models.end())
    not_found("unknown model '" + model + "'");
}

int version_param(const http::HttpRequest& request) {
  return static_cast<int>(int_param(request, "v", 1, kMaxVersion));
}

// A model's summary, from one row of kModelSummaries: one query for a whole page of models,
// however many versions each has.
const std::string kModelSummaries =
    "SELECT m.model_id, m.name, max(v.version) FILTER (WHERE v.status = 'production'), "
    "max(v.version) FILTER (WHERE v.status = 'staging'), max(v.version), count(v.version) "
    "FROM models m LEFT JOIN model_versions v USING (model_id) ";
const std::string kModelSummariesEnd = " GROUP BY m.model_id, m.name ORDER BY m.name";

nlohmann::json model_summary(const pg::PgResult& r, int row) {
  const auto version_or_null = [&r, row](int column) {
    return r.is_null(row, column) ? nlohmann::json() : nlohmann::json(r.integer(row, column));
  };
  return {{"model", std::string(r.text(row, 1))},
          {"production", version_or_null(2)},
          {"staging", version_or_null(3)},
          {"latest_version", version_or_null(4)},
          {"version_count", r.integer(row, 5)}};
}

nlohmann::json alias_move(const registry::AliasMove& h) {
  return {{"id", h.history_id},
          {"alias", h.alias},
          {"from_version", optional_json(h.from_version)},
          {"to_version", optional_json(h.to_version)},
          {"actor", h.actor},
          {"reason", h.reason},
          {"at", h.changed_at}};
}

// By name; a page's cursor is the id of the previous page's last model (models are never
// deleted, so it stays valid).
http::HttpResponse list_models(ApiContext& c, const http::HttpRequest& request) {
  const PageRequest paging = page_request(request);
  pg::Param after;
  if (paging.cursor) {
    const pg::PgResult r = c.database.exec("SELECT name FROM models WHERE model_id = $1",
                                           {std::to_string(*paging.cursor)});
    if (r.rows() == 0) bad_request("unknown cursor");
    after = std::string(r.text(0, 0));
  }
  const pg::PgResult r = c.database.exec(
      kModelSummaries + "WHERE $1::text IS NULL OR m.name > $1" + kModelSummariesEnd + " LIMIT $2",
      {after, std::to_string(paging.limit + 1)});
  std::vector<std::pair<std::int64_t, nlohmann::json>> rows;
  for (int i = 0; i < r.rows(); ++i) rows.emplace_back(r.integer(i, 0), model_summary(r, i));
  return ok(page(std::move(rows), paging));
}

http::HttpResponse get_model(ApiContext& c, const http::HttpRequest& request) {
  const std::string& model = request.params.at("m");
  const pg::PgResult r =
      c.database.exec(kModelSummaries + "WHERE m.name = $1" + kModelSummariesEnd, {model});
  if (r.rows() == 0) not_found("unknown model '" + model + "'");
  return ok(model_summary(r, 0));
}

http::HttpResponse list_versions(ApiContext& c, const http::HttpRequest& request) {
  const std::string& model = request.params.at("m");
  const PageRequest paging = page_request(request);
  require_model(c.registry, model);
  std::vector<std::pair<std::int64_t, nlohmann::json>> rows;
  for (const auto& v : c.registry.versions(model)) {  // newest first
    if (paging.cursor && v.version >= *paging.cursor) continue;
    rows.emplace_back(v.version, wiring::version_summary(v));
    if (rows.size() > static_cast<std::size_t>(paging.limit)) break;
  }
  return ok(page(std::move(rows), paging));
}

http::HttpResponse get_version(ApiContext& c, const http::HttpRequest& request) {
  return ok(c.registry.lineage(request.params.at("m"), version_param(request)));
}

http::HttpResponse alias_history(ApiContext& c, const http::HttpRequest& request) {
  const std::string& model = request.params.at("m");
  const PageRequest paging = page_request(request);
  require_model(c.registry, model);
  auto history = c.registry.alias_history(model);  // oldest first
  std::vector<std::pair<std::int64_t, nlohmann::json>> rows;
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (paging.cursor && it->history_id >= *paging.cursor) continue;
    rows.emplace_back(it->history_id, alias_move(*it));
    if (rows.size() > static_cast<std::size_t>(paging.limit)) break;
  }
  return ok(page(std::move(rows), paging));
}

// Body: {"reason": R, "override_gate": false, "expected_production": N or null (optional)}.
// With "expected_production" present, the promotion is refused with 409 unless production is
// still that version (null: none), so two operators deciding at once cannot both win.
http::HttpResponse promote(ApiContext& c, const http::HttpRequest& request, const Principal& who) {
  const std::string& model = request.params.at("m");
  const int version = version_param(request);
  const nlohmann::json body = body_object(request);
  const std::string reason = *string_member(body, "reason", true);
  const bool override_gate = bool_member(body, "override_gate");
  registry::PromoteOptions options;
  if (body.contains("expected_production")) {
    options.check_production = true;
    if (const auto expected = int_member(body, "expected_production", 1, kMaxVersion))
      options.expected_production = static_cast<int>(*expected);
  }
  const auto v = c.registry.get(model, version);
  if (!v) not_found("unknown version " + std::to_string(version) + " of " + model);
  const bool passed = v->gate.is_object() && v->gate.value("passed", false);
  if (v->status != registry::VersionStatus::kArchived && !passed && !override_gate)
    throw ApiError(422, "gate_not_passed",
                   model + " version " + std::to_string(version) +
                       " has not passed the promotion gate; send \"override_gate\": true with a "
                       "reason to promote it anyway");
  registry::Change change{who.name, reason, {{"via", "api"}}};
  if (override_gate) change.detail["gate_overridden"] = true;
  const auto previous = c.registry.promote(model, version, change, options);
  return ok({{"model", model},
             {"production", version},
             {"previous_version", optional_json(previous)},
             {"gate_overridden", override_gate}});
}

// Body: {"reason": R, "to_version": N (optional)}.
http::HttpResponse rollback(ApiContext& c, const http::HttpRequest& request, const Principal& who) {
  const std::string& model = request.params.at("m");
  const nlohmann::json body = body_object(request);
  const std::string reason = *string_member(body, "reason", true);
  std::optional<int> to;
  if (const auto n = int_member(body, "to_version", 1, kMaxVersion)) to = static_cast<int>(*n);
  require_model(c.registry, model);
  const auto before = c.registry.production(model);
  const int now = c.registry.rollback(model, to, {who.name, reason, {{"via", "api"}}});
  return ok({{"model", model},
             {"production", now},
             {"previous_version", before ? nlohmann::json(before->version) : nullptr}});
}

}  // namespace

void add_model_routes(http::Router& router, const std::shared_ptr<const TokenSet>& tokens,
                      ApiContext& context) {
  const auto read = [&](const std::string& path, ReadHandler handler) {
    add_read(router, tokens, context, path, handler);
  };
  const auto write = [&](const std::string& path, WriteHandler handler) {
    add_write(router, tokens, context, path, handler);
  };
  read("/v1/models", list_models);
  read("/v1/models/{m}", get_model);
  read("/v1/models/{m}/versions", list_versions);
  read("/v1/models/{m}/versions/{v}", get_version);
  read("/v1/models/{m}/aliases/history", alias_history);
  write("/v1/models/{m}/versions/{v}/promote", promote);
  write("/v1/models/{m}/rollback", rollback);
}

}  // namespace ctd::api

#include "registry/registry.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "registry/triton.h"

namespace ctd::registry {
namespace {

using pg::Param;

constexpr std::string_view kStatusNames[] = {"candidate", "staging",  "production",
                                             "archived",  "rejected", "failed"};

// Invalid UTF-8 (e.g. a log line cut mid-character) is replaced, never an error.
std::string json_param(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `text` as valid UTF-8, for text columns.
std::string clean(const std::string& text) {
  return nlohmann::json::parse(json_param(nlohmann::json(text))).get<std::string>();
}

Param optional_param(const std::optional<std::int64_t>& v) {
  return v ? Param(std::to_string(*v)) : std::nullopt;
}

template <typename T>
std::optional<T> optional_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

nlohmann::json field_or_null(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() ? nlohmann::json() : *it;
}

// Reads one model_versions row given as to_jsonb(v) plus the model name.
ModelVersion version_from_json(const std::string& model, const nlohmann::json& j) {
  ModelVersion v;
  v.model = model;
  v.version = j.at("version").get<int>();
  v.status = parse_status(j.at("status").get<std::string>());
  v.status_reason = j.value("status_reason", "");
  v.artifact_uri = j.at("artifact_uri").get<std::string>();
  v.artifact_sha256 = j.at("artifact_sha256").get<std::string>();
  v.artifact_size = j.at("artifact_size").get<std::int64_t>();
  v.metrics = field_or_null(j, "metrics");
  v.gate = field_or_null(j, "gate");
  v.training_params = field_or_null(j, "training_params");
  v.manifest = field_or_null(j, "manifest");
  v.trigger = field_or_null(j, "trigger");
  v.snapshot_id = optional_field<std::int64_t>(j, "snapshot_id");
  v.run_id = optional_field<std::int64_t>(j, "run_id");
  v.trigger_event_id = optional_field<std::int64_t>(j, "trigger_event_id");
  v.seq_first = j.at("seq_first").get<std::int64_t>();
  v.seq_last = j.at("seq_last").get<std::int64_t>();
  v.row_count = j.at("row_count").get<std::int64_t>();
  v.snapshot_sha256 = j.at("snapshot_sha256").get<std::string>();
  v.code_version = j.at("code_version").get<std::string>();
  v.device = j.at("device").get<std::string>();
  v.created_at = j.at("created_at").get<std::string>();
  v.parent_version = optional_field<int>(j, "parent_version");
  return v;
}

std::optional<int> optional_int(const pg::PgResult& r, int row, int column) {
  if (r.is_null(row, column)) return std::nullopt;
  return static_cast<int>(r.integer(row, column));
}

std::vector<ModelVersion> versions_from(const std::string& model, const pg::PgResult& r) {
  std::vector<ModelVersion> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back(version_from_json(model, nlohmann::json::parse(r.text(i, 0))));
  return out;
}

const std::string kVersionColumns = "to_jsonb(v)";

RegistryError not_found(const std::string& what) {
  return RegistryError(RegistryError::Code::kNotFound, what);
}

RegistryError invalid_state(const std::string& what) {
  return RegistryError(RegistryError::Code::kInvalidState, what);
}

std::string version_name(const std::string& model, int version) {
  return model + " version " + std::to_string(version);
}

// The state of one version inside a transaction that holds the model's lock.
struct Locked {
  int model_id = 0;
  VersionStatus status = VersionStatus::kCandidate;
  std::string sha256;
};

void write_audit(pg::PgConnection& c, int model_id, std::optional<int> version,
                 const std::string& action, std::optional<VersionStatus> from,
                 std::optional<VersionStatus> to, const Change& change,
                 const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json detail = change.detail.is_object() ? change.detail : nlohmann::json::object();
  if (!change.reason.empty()) detail["reason"] = clean(change.reason);
  for (const auto& [k, v] : extra.items()) detail[k] = v;
  c.exec(
      "INSERT INTO registry_audit (model_id, version, action, from_status, to_status, actor, "
      "detail) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
      {std::to_string(model_id), version ? Param(std::to_string(*version)) : std::nullopt, action,
       from ? Param(std::string(status_name(*from))) : std::nullopt,
       to ? Param(std::string(status_name(*to))) : std::nullopt, change.actor, json_param(detail)});
}

void set_status(pg::PgConnection& c, int model_id, int version, VersionStatus status,
                const std::string& reason, const nlohmann::json& gate = nullptr) {
  c.exec(
      "UPDATE model_versions SET status = $3, status_reason = $4, gate = coalesce($5::jsonb, "
      "gate) WHERE model_id = $1 AND version = $2",
      {std::to_string(model_id), std::to_string(version), std::string(status_name(status)),
       clean(reason), gate.is_null() ? std::nullopt : Param(json_param(gate))});
}

std::optional<int> alias_version(pg::PgConnection& c, int model_id, const std::string& alias) {
  const auto r = c.exec("SELECT version FROM model_aliases WHERE model_id = $1 AND alias = $2",
                        {std::to_string(model_id), alias});
  if (r.rows() == 0) return std::nullopt;
  return static_cast<int>(r.integer(0, 0));
}

// Moves `alias` to `to` (nullopt clears it) and records the move.
void move_alias(pg::PgConnection& c, int model_id, const std::string& alias, std::optional<int> to,
                const Change& change, const char* kind = "promotion") {
  const std::optional<int> from = alias_version(c, model_id, alias);
  if (from == to) return;
  if (to)
    c.exec(
        "INSERT INTO model_aliases (model_id, alias, version) VALUES ($1, $2, $3) ON CONFLICT "
        "(model_id, alias) DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
        {std::to_string(model_id), alias, std::to_string(*to)});
  else
    c.exec("DELETE FROM model_aliases WHERE model_id = $1 AND alias = $2",
           {std::to_string(model_id), alias});
  c.exec(
      "INSERT INTO alias_history (model_id, alias, from_version, to_version, kind, actor, "
      "reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {std::to_string(model_id), alias, from ? Param(std::to_string(*from)) : std::nullopt,
       to ? Param(std::to_string(*to)) : std::nullopt, std::string(kind), change.actor,
       clean(change.reason)});
}

void notify(pg::PgConnection& c, const std::string& event, const std::string& model, int version,
            std::optional<int> previous, const std::string& sha256, const std::string& uri,
            const Change& change) {
  nlohmann::json payload = {{"event", event},
                            {"model", model},
                            {"alias", "production"},
                            {"version", version},
                            {"previous_version", previous ? nlohmann::json(*previous) : nullptr},
                            {"artifact_sha256", sha256},
                            {"artifact_uri", uri},
                            {"actor", change.actor},
                            {"reason", clean(change.reason)}};
  // NOTIFY payloads are limited to 8000 bytes: cut the reason if it is long.
  if (payload.dump().size() > 7900) payload["reason"] = change.reason.substr(0, 7000) + "...";
  c.exec("SELECT pg_notify('ctd_model_events', $1)", {payload.dump()});
}

void end_watch_in(pg::PgConnection& c, int model_id, const WatchEnd& end) {
  const auto r = c.exec(
      "UPDATE model_watches SET state = $3, outcome = $4::jsonb, finished_at = now() WHERE "
      "watch_id = $1 AND model_id = $2 AND state = 'open'",
      {std::to_string(end.watch_id), std::to_string(model_id), end.state, json_param(end.outcome)});
  if (r.affected() != 1)
    throw invalid_state("watch " + std::to_string(end.watch_id) + " is not open");
}

// Cancels the open watches of `version` (it is leaving the state they watch).
void cancel_watches(pg::PgConnection& c, int model_id, int version, const std::string& why) {
  c.exec(
      "UPDATE model_watches SET state = 'cancelled', outcome = jsonb_build_object('reason', "
      "$3::text), finished_at = now() WHERE model_id = $1 AND version = $2 AND state = 'open'",
      {std::to_string(model_id), std::to_string(version), why});
}

}  // namespace

std::string_view status_name(VersionStatus status) {
  return kStatusNames[static_cast<int>(status)];
}

VersionStatus parse_status(std::string_view name) {
  for (int i = 0; i < 6; ++i)
    if (kStatusNames[i] == name) return static_cast<VersionStatus>(i);
  throw std::invalid_argument("unknown version status '" + std::string(name) + "'");
}

std::string_view watch_kind_name(WatchKind kind) {
  return kind == WatchKind::kCanary ? "canary" : "guardrail";
}

nlohmann::json ModelVersion::to_json() const {
  auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {
      {"model", model},
      {"version", version},
      {"status", status_name(status)},
      {"status_reason", status_reason},
      {"artifact", {{"uri", artifact_uri}, {"sha256", artifact_sha256}, {"size", artifact_size}}},
      {"metrics", metrics},
      {"gate", gate},
      {"training_params", training_params},
      {"snapshot",
       {{"id", opt(snapshot_id)},
        {"seq_first", seq_first},
        {"seq_last", seq_last},
        {"rows", row_count},
        {"sha256", snapshot_sha256}}},
      {"run_id", opt(run_id)},
      {"trigger_event_id", opt(trigger_event_id)},
      {"trigger", trigger},
      {"code_version", code_version},
      {"device", device},
      {"parent_version", opt(parent_version)},
      {"created_at", created_at}};
}

Registry::Registry(std::string dsn, ArtifactStore& artifacts,
                   std::optional<TritonPublishing> triton)
    : dsn_(std::move(dsn)), artifacts_(artifacts), triton_(std::move(triton)) {}

pg::PgConnection& Registry::connection() {
  if (!connection_ || !connection_->healthy())
    connection_ = std::make_unique<pg::PgConnection>(pg::with_liveness_checks(dsn_, 10));
  return *connection_;
}

int Registry::model_id(pg::PgConnection& c, const std::string& model, bool create) {
  if (create) {
    c.exec("INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", {model});
    c.exec(
        "INSERT INTO models (pipeline_id, name) SELECT pipeline_id, name FROM pipelines WHERE "
        "name = $1 ON CONFLICT DO NOTHING",
        {model});
  }
  const auto r = c.exec("SELECT model_id FROM models WHERE name = $1", {model});
  if (r.rows() == 0) throw not_found("unknown model '" + model + "'");
  return static_cast<int>(r.integer(0, 0));
}

namespace {

// Inside a transaction: locks the model's row (serialising its changes) and reads `version`.
Locked lock_version(pg::PgConnection& c, const std::string& model, int version) {
  const auto m = c.exec("SELECT model_id FROM models WHERE name = $1 FOR UPDATE", {model});
  if (m.rows() == 0) throw not_found("unknown model '" + model + "'");
  Locked l;
  l.model_id = static_cast<int>(m.integer(0, 0));
  const auto v = c.exec(
      "SELECT status, artifact_sha256 FROM model_versions WHERE model_id = $1 AND version = $2",
      {std::to_string(l.model_id), std::to_string(version)});
  if (v.rows() == 0) throw not_found("unknown version " + std::to_string(version) + " of " + model);
  l.status = parse_status(v.text(0, 0));
  l.sha256 = std::string(v.text(0, 1));
  return l;
}

}  // namespace

int Registry::register_version(const NewVersion& nv) {
  if (nv.run_id) {
    std::lock_guard lock(mutex_);
    const auto r = connection().exec(
        "SELECT v.version FROM model_versions v JOIN models m USING (model_id) WHERE m.name = $1 "
        "AND v.run_id = $2",
        {nv.model, std::to_string(*nv.run_id)});
    if (r.rows() == 1) return static_cast<int>(r.integer(0, 0));
  }
  // The artifact first: a crash before the commit below leaves only an unreferenced file.
  StoredArtifact stored;
  try {
    stored = artifacts_.put(nv.artifact, nv.manifest);
  } catch (const ArtifactError& e) {
    throw RegistryError(RegistryError::Code::kArtifact,
                        "cannot store the artifact of " + nv.model + ": " + e.what());
  }
  std::lock_guard lock(mutex_);
  auto& c = connection();
  pg::Transaction tx(c);
  const int mid = model_id(c, nv.model, true);
  c.exec("SELECT 1 FROM models WHERE model_id = $1 FOR UPDATE", {std::to_string(mid)});
  if (nv.run_id) {  // another process may have registered the run meanwhile
    const auto r = c.exec("SELECT version FROM model_versions WHERE run_id = $1",
                          {std::to_string(*nv.run_id)});
    if (r.rows() == 1) return static_cast<int>(r.integer(0, 0));
  }
  if (nv.parent_version) {
    const auto p = c.exec("SELECT 1 FROM model_versions WHERE model_id = $1 AND version = $2",
                          {std::to_string(mid), std::to_string(*nv.parent_version)});
    if (p.rows() == 0)
      throw not_found("parent version " + std::to_string(*nv.parent_version) + " of " + nv.model +
                      " does not exist");
  }
  const int version = static_cast<int>(
      c.exec("UPDATE models SET next_version = next_version + 1 WHERE model_id = $1 "
             "RETURNING next_version - 1",
             {std::to_string(mid)})
          .integer(0, 0));
  c.exec(
      "INSERT INTO model_versions (model_id, version, status, artifact_uri, artifact_sha256, "
      "artifact_size, metrics, training_params, manifest, snapshot_id, seq_first, seq_last, "
      "row_count, snapshot_sha256, code_version, device, run_id, trigger_event_id, trigger, "
      "parent_version) VALUES ($1, $2, 'candidate', $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, "
      "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb, $19)",
      {std::to_string(mid), std::to_string(version), artifacts_.uri(stored.sha256), stored.sha256,
       std::to_string(stored.size), json_param(nv.metrics), json_param(nv.training_params),
       json_param(nv.manifest), optional_param(nv.snapshot_id), std::to_string(nv.seq_first),
       std::to_string(nv.seq_last), std::to_string(nv.row_count), nv.snapshot_sha256,
       nv.code_version, nv.device, optional_param(nv.run_id), optional_param(nv.trigger_event_id),
       nv.trigger.is_null() ? std::nullopt : Param(json_param(nv.trigger)),
       nv.parent_version ? Param(std::to_string(*nv.parent_version)) : std::nullopt});
  Change change{nv.actor, "", nlohmann::json::object()};
  write_audit(c, mid, version, "registered", std::nullopt, VersionStatus::kCandidate, change,
              {{"run_id", nv.run_id ? nlohmann::json(*nv.run_id) : nullptr},
               {"artifact_sha256", stored.sha256}});
  tx.commit();
  return version;
}

std::optional<ModelVersion> Registry::get(const std::string& model, int version) {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec(
      "SELECT " + kVersionColumns +
          " FROM model_versions v JOIN models m USING (model_id) WHERE m.name = $1 AND "
          "v.version = $2",
      {model, std::to_string(version)});
  auto v = versions_from(model, r);
  if (v.empty()) return std::nullopt;
  return v.front();
}

std::vector<ModelVersion> Registry::versions(const std::string& model) {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec("SELECT " + kVersionColumns +
                                       " FROM model_versions v JOIN models m USING (model_id) "
                                       "WHERE m.name = $1 ORDER BY v.version DESC",
                                   {model});
  return versions_from(model, r);
}

std::optional<ModelVersion> Registry::production(const std::string& model) {
  std::lock_guard lock(mutex_);
  auto v = versions_from(
      model, connection().exec("SELECT " + kVersionColumns +
                                   " FROM model_versions v JOIN models m USING (model_id) WHERE "
                                   "m.name = $1 AND v.status = 'production'",
                               {model}));
  if (v.empty()) return std::nullopt;
  return v.front();
}

std::optional<ModelVersion> Registry::staging(const std::string& model) {
  std::lock_guard lock(mutex_);
  auto v = versions_from(
      model, connection().exec("SELECT " + kVersionColumns +
                                   " FROM model_versions v JOIN models m USING (model_id) WHERE "
                                   "m.name = $1 AND v.status = 'staging'",
                               {model}));
  if (v.empty()) return std::nullopt;
  return v.front();
}

std::vector<std::string> Registry::models() {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec("SELECT name FROM models ORDER BY name");
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
  return out;
}

std::optional<int> Registry::promote(const std::string& model, int version, const Change& change,
                                     const PromoteOptions& options) {
  std::optional<int> previous;
  {
    std::lock_guard lock(mutex_);
    auto& c = connection();
    pg::Transaction tx(c);
    const Locked l = lock_version(c, model, version);
    if (l.status == VersionStatus::kProduction)
      throw invalid_state(version_name(model, version) + " is already production");
    if (l.status == VersionStatus::kRejected || l.status == VersionStatus::kFailed)
      throw invalid_state(version_name(model, version) + " is " +
                          std::string(status_name(l.status)) + " and cannot be promoted");
    try {
      artifacts_.verified_path(l.sha256);
    } catch (const ArtifactError& e) {
      throw RegistryError(RegistryError::Code::kArtifact,
                          "cannot promote " + version_name(model, version) + ": " + e.what());
    }
    previous = alias_version(c, l.model_id, "production");
    if (options.check_production && previous != options.expected_production)
      throw RegistryError(
          RegistryError::Code::kConflict,
          "production of " + model + " changed to " +
              (previous ? "version " + std::to_string(*previous) : std::string("none")) +
              " while " + version_name(model, version) + " was being judged against " +
              (options.expected_production
                   ? "version " + std::to_string(*options.expected_production)
                   : std::string("none")));
    if (options.end_watch) end_watch_in(c, l.model_id, *options.end_watch);
    cancel_watches(c, l.model_id, version, "promoted by " + change.actor);
    if (previous) {
      set_status(c, l.model_id, *previous, VersionStatus::kArchived,
                 "replaced by version " + std::to_string(version));
      cancel_watches(c, l.model_id, *previous, "replaced by version " + std::to_string(version));
      write_audit(c, l.model_id, *previous, "archived", VersionStatus::kProduction,
                  VersionStatus::kArchived, change, {{"replaced_by", version}});
    }
    if (l.status == VersionStatus::kStaging)
      move_alias(c, l.model_id, "staging", std::nullopt, change);
    set_status(c, l.model_id, version, VersionStatus::kProduction, change.reason, change.gate);
    move_alias(c, l.model_id, "production", version, change);
    write_audit(c, l.model_id, version, "promoted", l.status, VersionStatus::kProduction, change,
                {{"previous_version", previous ? nlohmann::json(*previous) : nullptr}});
    if (options.guardrail && previous) {
      const auto& g = *options.guardrail;
      c.exec(
          "INSERT INTO model_watches (model_id, kind, version, baseline_version, seq_after, "
          "samples, deadline) VALUES ($1, 'guardrail', $2, $3, $4, $5, to_timestamp($6::bigint "
          "/ 1000.0))",
          {std::to_string(l.model_id), std::to_string(version), std::to_string(*previous),
           std::to_string(g.seq_after), std::to_string(g.samples), std::to_string(g.deadline_ms)});
      write_audit(
          c, l.model_id, version, "guardrail_opened", std::nullopt, std::nullopt,
          Change{"ctd", "", nlohmann::json::object()},
          {{"baseline_version", *previous}, {"samples", g.samples}, {"seq_after", g.seq_after}});
    }
    notify(c, "promoted", model, version, previous, l.sha256, artifacts_.uri(l.sha256), change);
    tx.commit();
  }
  publish_after_commit(model);
  return previous;
}

void Registry::stage(const std::string& model, int version, std::int64_t seq_after,
                     std::int64_t samples, const Change& change) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  pg::Transaction tx(c);
  const Locked l = lock_version(c, model, version);
  if (l.status != VersionStatus::kCandidate)
    throw invalid_state(version_name(model, version) + " is " + std::string(status_name(l.status)) +
                        "; only a candidate can be staged");
  const std::optional<int> current = alias_version(c, l.model_id, "staging");
  if (current) {  // a newer candidate replaces the one in canary
    set_status(c, l.model_id, *current, VersionStatus::kRejected,
               "superseded in staging by version " + std::to_string(version));
    cancel_watches(c, l.model_id, *current, "superseded by version " + std::to_string(version));
    write_audit(c, l.model_id, *current, "rejected", VersionStatus::kStaging,
                VersionStatus::kRejected, change, {{"superseded_by", version}});
  }
  const std::optional<int> production = alias_version(c, l.model_id, "production");
  set_status(c, l.model_id, version, VersionStatus::kStaging, change.reason, change.gate);
  move_alias(c, l.model_id, "staging", version, change);
  c.exec(
      "INSERT INTO model_watches (model_id, kind, version, baseline_version, seq_after, samples) "
      "VALUES ($1, 'canary', $2, $3, $4, $5)",
      {std::to_string(l.model_id), std::to_string(version),
       production ? Param(std::to_string(*production)) : std::nullopt, std::to_string(seq_after),
       std::to_string(samples)});
  write_audit(c, l.model_id, version, "staged", VersionStatus::kCandidate, VersionStatus::kStaging,
              change, {{"canary_samples", samples}, {"seq_after", seq_after}});
  tx.commit();
}

void Registry::reject(const std::string& model, int version, const Change& change,
                      const std::optional<WatchEnd>& watch) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  pg::Transaction tx(c);
  const Locked l = lock_version(c, model, version);
  if (l.status != VersionStatus::kCandidate && l.status != VersionStatus::kStaging)
    throw invalid_state(version_name(model, version) + " is " + std::string(status_name(l.status)) +
                        "; only a candidate or staging version can be rejected");
  if (watch) end_watch_in(c, l.model_id, *watch);
  if (l.status == VersionStatus::kStaging) {
    move_alias(c, l.model_id, "staging", std::nullopt, change);
    cancel_watches(c, l.model_id, version, "rejected");
  }
  set_status(c, l.model_id, version, VersionStatus::kRejected, change.reason, change.gate);
  write_audit(c, l.model_id, version, "rejected", l.status, VersionStatus::kRejected, change);
  tx.commit();
}

void Registry::mark_failed(const std::string& model, int version, const Change& change) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  pg::Transaction tx(c);
  const Locked l = lock_version(c, model, version);
  if (l.status != VersionStatus::kCandidate)
    throw invalid_state(version_name(model, version) + " is " + std::string(status_name(l.status)) +
                        "; only a candidate can fail");
  set_status(c, l.model_id, version, VersionStatus::kFailed, change.reason, change.gate);
  write_audit(c, l.model_id, version, "failed", l.status, VersionStatus::kFailed, change);
  tx.commit();
}

int Registry::rollback(const std::string& model, std::optional<int> to_version,
                       const Change& change, bool reject_current,
                       const std::optional<WatchEnd>& watch) {
  int target = 0;
  {
    std::lock_guard lock(mutex_);
    auto& c = connection();
    pg::Transaction tx(c);
    const auto m = c.exec("SELECT model_id FROM models WHERE name = $1 FOR UPDATE", {model});
    if (m.rows() == 0) throw not_found("unknown model '" + model + "'");
    const int mid = static_cast<int>(m.integer(0, 0));
    const std::optional<int> current = alias_version(c, mid, "production");
    if (!current) throw invalid_state(model + " has no production version to roll back");
    if (to_version) {
      target = *to_version;
    } else {
      // The newest archived version promoted before the current one's latest promotion: a
      // stack of promotions that rollbacks walk down (rollback moves are not promotions).
      const auto h = c.exec(
          "SELECT h.to_version FROM alias_history h JOIN model_versions v ON v.model_id = "
          "h.model_id AND v.version = h.to_version WHERE h.model_id = $1 AND h.alias = "
          "'production' AND h.kind = 'promotion' AND h.to_version <> $2 AND v.status = "
          "'archived' AND h.history_id < (SELECT max(history_id) FROM alias_history WHERE "
          "model_id = $1 AND alias = 'production' AND kind = 'promotion' AND to_version = $2) "
          "ORDER BY h.history_id DESC LIMIT 1",
          {std::to_string(mid), std::to_string(*current)});
      if (h.rows() == 0)
        throw invalid_state(model + " version " + std::to_string(*current) +
                            " has no previous production version to roll back to");
      target = static_cast<int>(h.integer(0, 0));
    }
    if (target == *current)
      throw invalid_state(version_name(model, target) + " is already production");
    const Locked l = lock_version(c, model, target);
    if (l.status != VersionStatus::kArchived)
      throw invalid_state("cannot roll back to " + version_name(model, target) + ": it is " +
                          std::string(status_name(l.status)) +
                          " (only a former production version, now archived, can be)");
    try {
      artifacts_.verified_path(l.sha256);
    } catch (const ArtifactError& e) {
      throw RegistryError(RegistryError::Code::kArtifact,
                          "cannot roll back to " + version_name(model, target) + ": " + e.what());
    }
    if (watch) end_watch_in(c, mid, *watch);
    const VersionStatus demoted =
        reject_current ? VersionStatus::kRejected : VersionStatus::kArchived;
    set_status(c, mid, *current, demoted,
               "rolled back to version " + std::to_string(target) + ": " + change.reason);
    cancel_watches(c, mid, *current, "rolled back");
    write_audit(c, mid, *current, "rolled_back", VersionStatus::kProduction, demoted, change,
                {{"rolled_back_to", target}});
    set_status(c, mid, target, VersionStatus::kProduction, "rollback: " + change.reason);
    move_alias(c, mid, "production", target, change, "rollback");
    write_audit(c, mid, target, "promoted", VersionStatus::kArchived, VersionStatus::kProduction,
                change, {{"rollback_from", *current}});
    notify(c, "rolled_back", model, target, current, l.sha256, artifacts_.uri(l.sha256), change);
    tx.commit();
  }
  publish_after_commit(model);
  return target;
}

std::vector<Watch> Registry::open_watches(const std::string& model) {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec(
      "SELECT w.watch_id, w.kind, w.version, w.baseline_version, w.seq_after, w.samples, "
      "(extract(epoch FROM w.deadline) * 1000)::bigint, w.state FROM model_watches w JOIN models "
      "m USING (model_id) WHERE m.name = $1 AND w.state = 'open' ORDER BY w.watch_id",
      {model});
  std::vector<Watch> out;
  for (int i = 0; i < r.rows(); ++i) {
    Watch w;
    w.watch_id = r.integer(i, 0);
    w.model = model;
    w.kind = r.text(i, 1) == "canary" ? WatchKind::kCanary : WatchKind::kGuardrail;
    w.version = static_cast<int>(r.integer(i, 2));
    w.baseline_version = optional_int(r, i, 3);
    w.seq_after = r.integer(i, 4);
    w.samples = r.integer(i, 5);
    if (!r.is_null(i, 6)) w.deadline_ms = r.integer(i, 6);
    w.state = std::string(r.text(i, 7));
    out.push_back(std::move(w));
  }
  return out;
}

void Registry::end_watch(const std::string& model, const WatchEnd& end) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  pg::Transaction tx(c);
  const auto m = c.exec("SELECT model_id FROM models WHERE name = $1 FOR UPDATE", {model});
  if (m.rows() == 0) throw not_found("unknown model '" + model + "'");
  const int mid = static_cast<int>(m.integer(0, 0));
  end_watch_in(c, mid, end);
  const auto w = c.exec("SELECT kind, version FROM model_watches WHERE watch_id = $1",
                        {std::to_string(end.watch_id)});
  write_audit(c, mid, static_cast<int>(w.integer(0, 1)),
              std::string(w.text(0, 0)) + "_" + end.state, std::nullopt, std::nullopt,
              Change{"ctd", "", nlohmann::json::object()}, {{"outcome", end.outcome}});
  tx.commit();
}

std::vector<AliasMove> Registry::alias_history(const std::string& model) {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec(
      "SELECT h.history_id, h.alias, h.from_version, h.to_version, h.actor, h.reason, "
      "h.changed_at FROM alias_history h JOIN models m USING (model_id) WHERE m.name = $1 "
      "ORDER BY h.history_id",
      {model});
  std::vector<AliasMove> out;
  for (int i = 0; i < r.rows(); ++i) {
    AliasMove a;
    a.history_id = r.integer(i, 0);
    a.alias = std::string(r.text(i, 1));
    a.from_version = optional_int(r, i, 2);
    a.to_version = optional_int(r, i, 3);
    a.actor = std::string(r.text(i, 4));
    a.reason = std::string(r.text(i, 5));
    a.changed_at = std::string(r.text(i, 6));
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<AuditEntry> Registry::audit(const std::string& model) {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec(
      "SELECT a.audit_id, a.version, a.action, a.from_status, a.to_status, a.actor, a.detail, "
      "a.at FROM registry_audit a JOIN models m USING (model_id) WHERE m.name = $1 ORDER BY "
      "a.audit_id",
      {model});
  std::vector<AuditEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    AuditEntry a;
    a.audit_id = r.integer(i, 0);
    a.version = optional_int(r, i, 1);
    a.action = std::string(r.text(i, 2));
    if (!r.is_null(i, 3)) a.from_status = std::string(r.text(i, 3));
    if (!r.is_null(i, 4)) a.to_status = std::string(r.text(i, 4));
    a.actor = std::string(r.text(i, 5));
    a.detail = nlohmann::json::parse(r.text(i, 6));
    a.at = std::string(r.text(i, 7));
    out.push_back(std::move(a));
  }
  return out;
}

nlohmann::json Registry::lineage(const std::string& model, int version) {
  const auto v = get(model, version);
  if (!v) throw not_found("unknown " + version_name(model, version));
  nlohmann::json out = {{"version", v->to_json()}};
  std::lock_guard lock(mutex_);
  auto& c = connection();
  out["snapshot"] = nullptr;
  if (v->snapshot_id) {
    const auto s = c.exec(
        "SELECT jsonb_build_object('id', snapshot_id, 'seq_first', seq_first, 'seq_last', "
        "seq_last, 'rows', row_count, 'sha256', content_sha256, 'event_time_from', "
        "event_time_from, 'event_time_to', event_time_to, 'created_at', created_at) FROM "
        "snapshots WHERE snapshot_id = $1",
        {std::to_string(*v->snapshot_id)});
    if (s.rows() == 1) out["snapshot"] = nlohmann::json::parse(s.text(0, 0));
  }
  out["run"] = nullptr;
  if (v->run_id) {
    const auto r = c.exec(
        "SELECT jsonb_build_object('id', run_id, 'status', status, 'reason', reason, "
        "'requested_by', requested_by, 'run_dir', run_dir, 'created_at', created_at, "
        "'started_at', started_at, 'finished_at', finished_at) FROM training_runs WHERE run_id = "
        "$1",
        {std::to_string(*v->run_id)});
    if (r.rows() == 1) out["run"] = nlohmann::json::parse(r.text(0, 0));
  }
  out["trigger"] = v->trigger;
  out["code_version"] = v->code_version;
  out["samples"] = {{"seq_first", v->seq_first}, {"seq_last", v->seq_last}, {"rows", v->row_count}};
  out["parent"] = nullptr;
  if (v->parent_version) {
    const auto p = c.exec(
        "SELECT jsonb_build_object('version', v.version, 'status', v.status, 'artifact_sha256', "
        "v.artifact_sha256, 'run_id', v.run_id) FROM model_versions v JOIN models m USING "
        "(model_id) WHERE m.name = $1 AND v.version = $2",
        {model, std::to_string(*v->parent_version)});
    if (p.rows() == 1) out["parent"] = nlohmann::json::parse(p.text(0, 0));
  }
  return out;
}

std::vector<ModelVersion> Registry::trained_on(const std::string& model, std::int64_t seq_first,
                                               std::int64_t seq_last) {
  std::lock_guard lock(mutex_);
  const auto r = connection().exec(
      "SELECT " + kVersionColumns +
          " FROM model_versions v JOIN models m USING (model_id) WHERE m.name = $1 AND "
          "v.seq_first <= $3 AND v.seq_last >= $2 ORDER BY v.version",
      {model, std::to_string(seq_first), std::to_string(seq_last)});
  return versions_from(model, r);
}

void Registry::publish_after_commit(const std::string& model) {
  // The change is committed whatever happens here; a failure leaves the current link (or the
  // Triton copy) behind until the next change or start-up republishes it.
  try {
    publish_production(model);
  } catch (const std::exception& e) {
    spdlog::error("{}: production changed, but publishing its model failed: {}", model, e.what());
  }
}

std::filesystem::path Registry::verified_artifact(const ModelVersion& v) {
  try {
    return artifacts_.verified_path(v.artifact_sha256);
  } catch (const ArtifactError& e) {
    throw RegistryError(
        RegistryError::Code::kArtifact,
        "the artifact of " + version_name(v.model, v.version) + " is unusable: " + e.what());
  }
}

void Registry::publish_production(const std::string& model) {
  // Under the model's row lock, so that two publishers after two changes cannot leave the
  // link at the older production: the last to take the lock reads the newest state.
  std::lock_guard lock(mutex_);
  auto& c = connection();
  pg::Transaction tx(c);
  const auto m = c.exec("SELECT model_id FROM models WHERE name = $1 FOR UPDATE", {model});
  if (m.rows() == 0) return;
  const auto versions =
      versions_from(model, c.exec("SELECT " + kVersionColumns +
                                      " FROM model_versions v WHERE v.model_id = $1 AND v.status = "
                                      "'production'",
                                  {std::string(m.text(0, 0))}));
  if (versions.empty()) return;
  const ModelVersion& v = versions.front();
  artifacts_.set_current(model, v.artifact_sha256);
  if (triton_) {
    const auto& input = v.manifest.at("input");
    TritonModel t;
    t.name = model;
    t.version = v.version;
    t.task = v.manifest.at("task").get<std::string>();
    t.num_classes = v.manifest.value("num_classes", 2);
    t.input_width = static_cast<int>(input.at("numeric_features").size() +
                                     input.at("categorical_features").size());
    t.max_batch_size = triton_->max_batch_size;
    publish_to_triton(triton_->repository, t, artifacts_.verified_path(v.artifact_sha256));
  }
  tx.commit();
}

std::vector<std::string> Registry::collect_garbage(std::chrono::seconds min_age) {
  std::set<std::string> referenced;
  {
    std::lock_guard lock(mutex_);
    const auto r = connection().exec("SELECT DISTINCT artifact_sha256 FROM model_versions");
    for (int i = 0; i < r.rows(); ++i) referenced.emplace(r.text(i, 0));
  }
  return artifacts_.collect_garbage(referenced, min_age);
}

}  // namespace ctd::registry

// The model registry in PostgreSQL (migrations/0003_registry.sql): one model per pipeline,
// numbered versions with their lineage, the `production` and `staging` aliases with their
// history, an audit log, and the watches (canary, guardrail) that follow a version after the
// gate. Artifacts live in an ArtifactStore; rows only point at them by hash.
//
// Every state change is one transaction that takes the model's row lock first, so changes of
// one model are serialised across threads and processes; partial unique indexes make a second
// production or staging version impossible whatever happens. A change to the production alias
// ends with NOTIFY ctd_model_events (JSON payload, delivered at commit), and after commit the
// store's current/<model>.pt link (and the Triton repository, when configured) is pointed at
// the new production artifact (a failure there is logged: the change stands, and the next
// change or publish_production() at start-up repairs the link).
//
// Errors that leave no state changed: RegistryError (unknown model or version, a version in
// the wrong state, no previous version to roll back to, a missing or corrupted artifact).
// Database failures come out as pg::PgError.
//
// Thread-safety: all methods may be called from any thread (one connection, one mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/pg.h"
#include "registry/artifact_store.h"

namespace ctd::registry {

enum class VersionStatus { kCandidate, kStaging, kProduction, kArchived, kRejected, kFailed };
std::string_view status_name(VersionStatus status);
VersionStatus parse_status(std::string_view name);  // throws std::invalid_argument

class RegistryError : public std::runtime_error {
 public:
  enum class Code { kNotFound, kInvalidState, kArtifact, kConflict };
  RegistryError(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

// What a finished training run contributes as a new version.
struct NewVersion {
  std::string model;               // the pipeline's name
  std::filesystem::path artifact;  // the run's model.pt, copied into the artifact store
  nlohmann::json manifest;         // the run's manifest.json
  nlohmann::json metrics;          // the run's metrics.json
  nlohmann::json training_params;  // the run spec
  std::optional<std::int64_t> snapshot_id;
  std::int64_t seq_first = 0, seq_last = 0, row_count = 0;
  std::string snapshot_sha256;
  std::string code_version, device;
  std::optional<std::int64_t> run_id, trigger_event_id;
  nlohmann::json trigger;  // reason and evidence of the trigger; null when none
  std::optional<int> parent_version;
  std::string actor = "ctd";
};

struct ModelVersion {
  std::string model;
  int version = 0;
  VersionStatus status = VersionStatus::kCandidate;
  std::string status_reason;
  std::string artifact_uri, artifact_sha256;
  std::int64_t artifact_size = 0;
  nlohmann::json metrics, gate, training_params, manifest, trigger;
  std::optional<std::int64_t> snapshot_id, run_id, trigger_event_id;
  std::int64_t seq_first = 0, seq_last = 0, row_count = 0;
  std::string snapshot_sha256, code_version, device, created_at;
  std::optional<int> parent_version;

  nlohmann::json to_json() const;
};

// Who changes what and why; recorded in the alias history and the audit log.
struct Change {
  std::string actor = "ctd";
  std::string reason;
  nlohmann::json detail = nlohmann::json::object();  // added to the audit rows
  // When not null, stored as the version's gate decision in the same transaction.
  nlohmann::json gate = nullptr;
};

struct AliasMove {
  std::int64_t history_id = 0;
  std::string alias;
  std::optional<int> from_version, to_version;
  std::string actor, reason, changed_at;
};

struct AuditEntry {
  std::int64_t audit_id = 0;
  std::optional<int> version;
  std::string action;
  std::optional<std::string> from_status, to_status;
  std::string actor;
  nlohmann::json detail;
  std::string at;
};

enum class WatchKind { kCanary, kGuardrail };
std::string_view watch_kind_name(WatchKind kind);

struct Watch {
  std::int64_t watch_id = 0;
  std::string model;
  WatchKind kind = WatchKind::kCanary;
  int version = 0;
  std::optional<int> baseline_version;
  std::int64_t seq_after = 0, samples = 0;
  std::optional<std::int64_t> deadline_ms;  // epoch milliseconds
  std::string state;                        // open, passed, failed, expired, cancelled
  nlohmann::json outcome;
};

// Ends a watch in the same transaction as the change that decides it.
struct WatchEnd {
  std::int64_t watch_id = 0;
  std::string state;  // passed, failed, expired, cancelled
  nlohmann::json outcome;
};

// A guardrail to open on a version as it is promoted (when it replaces one): judged on
// `samples` samples after `seq_after`, ending unjudged at `deadline_ms` (epoch ms).
struct GuardrailStart {
  std::int64_t seq_after = 0, samples = 0, deadline_ms = 0;
};

struct PromoteOptions {
  std::optional<WatchEnd> end_watch;  // the watch this promotion decides
  // Refuse (kConflict) unless production is still this version (nullopt: none), so a decision
  // made against a champion is not applied after another change of production.
  bool check_production = false;
  std::optional<int> expected_production;
  std::optional<GuardrailStart> guardrail;
};

// Where production models are also published for Triton (registry/triton.h).
struct TritonPublishing {
  std::filesystem::path repository;
  int max_batch_size = 256;
};

class Registry {
 public:
  Registry(std::string dsn, ArtifactStore& artifacts,
           std::optional<TritonPublishing> triton = std::nullopt);

  // Stores the artifact (first), then records the version as a candidate (second); returns its
  // number. A run registers once: registering the same run_id again returns its version.
  int register_version(const NewVersion& version);

  std::optional<ModelVersion> get(const std::string& model, int version);
  std::vector<ModelVersion> versions(const std::string& model);  // newest first
  std::optional<ModelVersion> production(const std::string& model);
  std::optional<ModelVersion> staging(const std::string& model);
  std::vector<std::string> models();

  // Makes `version` (candidate, staging or archived) production; the previous production
  // version is archived. Checks the artifact first. Returns the previous production version.
  std::optional<int> promote(const std::string& model, int version, const Change& change,
                             const PromoteOptions& options = {});
  // candidate -> staging (and the staging alias); opens a canary watch of `samples` samples
  // after `seq_after` against the current production version.
  void stage(const std::string& model, int version, std::int64_t seq_after, std::int64_t samples,
             const Change& change);
  // candidate or staging -> rejected, with the reason.
  void reject(const std::string& model, int version, const Change& change,
              const std::optional<WatchEnd>& watch = std::nullopt);
  // candidate -> failed (its evaluation could not be done).
  void mark_failed(const std::string& model, int version, const Change& change);
  // Moves production back: to `to_version` (archived) when given, else to the newest archived
  // version promoted before the current one's promotion (so rolling back twice goes back two
  // promotions). The current one becomes archived, or rejected when `reject_current` (a
  // guardrail rollback). Returns the new production version.
  int rollback(const std::string& model, std::optional<int> to_version, const Change& change,
               bool reject_current = false, const std::optional<WatchEnd>& watch = std::nullopt);

  std::vector<Watch> open_watches(const std::string& model);
  // Ends an open watch without another change (guardrail passed or expired).
  void end_watch(const std::string& model, const WatchEnd& end);

  std::vector<AliasMove> alias_history(const std::string& model);  // oldest first
  std::vector<AuditEntry> audit(const std::string& model);         // oldest first

  // A version's lineage: the version, its snapshot, the run (reason, spec, times), its trigger
  // and the parent version's summary. Throws RegistryError(kNotFound).
  nlohmann::json lineage(const std::string& model, int version);
  // The versions whose training samples' sequence range overlaps [seq_first, seq_last].
  std::vector<ModelVersion> trained_on(const std::string& model, std::int64_t seq_first,
                                       std::int64_t seq_last);

  // The version's artifact file after checking its hash; RegistryError(kArtifact) when it is
  // missing or corrupt.
  std::filesystem::path verified_artifact(const ModelVersion& version);

  // Points current/<model>.pt (and the Triton repository) at the production version. Done
  // after every change of production; call at start-up to repair a crash in between.
  void publish_production(const std::string& model);

  // Removes artifacts no version references (older than min_age). Returns their hashes.
  std::vector<std::string> collect_garbage(std::chrono::seconds min_age);

 private:
  pg::PgConnection& connection();  // REQUIRES: mutex_ held
  int model_id(pg::PgConnection& c, const std::string& model, bool create);
  void publish_after_commit(const std::string& model);  // logs failures; never throws

  std::string dsn_;
  ArtifactStore& artifacts_;
  std::optional<TritonPublishing> triton_;
  std::mutex mutex_;
  std::unique_ptr<pg::PgConnection> connection_;
};

}  // namespace ctd::registry

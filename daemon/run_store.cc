#include "daemon/run_store.h"

#include <unistd.h>

#include <stdexcept>

namespace ctd::training {
namespace {

constexpr const char* kLockClass = "1668576370";  // 'ctdr'

constexpr const char* kRunColumns =
    "run_id, pipeline_id, status, reason, requested_by, run_dir, supervisor, snapshot_id, pid, "
    "exit_code, signal, spec, progress, metrics, manifest, progress_lines, "
    "coalesce(failure_reason, ''), coalesce(last_log, ''), started_at IS NOT NULL, "
    "finished_at IS NOT NULL";

std::optional<int> optional_int(const pg::PgResult& r, int row, int column) {
  if (r.is_null(row, column)) return std::nullopt;
  return static_cast<int>(r.integer(row, column));
}

nlohmann::json optional_json(const pg::PgResult& r, int row, int column) {
  if (r.is_null(row, column)) return nullptr;
  return nlohmann::json::parse(r.text(row, column));
}

RunRow row_of(const pg::PgResult& r, int i) {
  RunRow row;
  row.run_id = r.integer(i, 0);
  row.pipeline_id = static_cast<int>(r.integer(i, 1));
  row.status = r.text(i, 2);
  row.reason = r.text(i, 3);
  row.requested_by = r.text(i, 4);
  row.run_dir = r.text(i, 5);
  row.supervisor = r.text(i, 6);
  if (!r.is_null(i, 7)) row.snapshot_id = r.integer(i, 7);
  row.pid = optional_int(r, i, 8);
  row.exit_code = optional_int(r, i, 9);
  row.signal = optional_int(r, i, 10);
  row.spec = optional_json(r, i, 11);
  row.progress = optional_json(r, i, 12);
  row.metrics = optional_json(r, i, 13);
  row.manifest = optional_json(r, i, 14);
  row.progress_lines = r.integer(i, 15);
  row.failure_reason = r.text(i, 16);
  row.last_log = r.text(i, 17);
  row.started = r.text(i, 18) == "t";
  row.finished = r.text(i, 19) == "t";
  return row;
}

pg::Param optional_param(const std::optional<int>& v) {
  return v ? pg::Param(std::to_string(*v)) : std::nullopt;
}

pg::Param json_param(const nlohmann::json& j) {
  return j.is_null() ? std::nullopt
                     : pg::Param(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

std::string_view run_state_name(RunState state) {
  switch (state) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kSucceeded:
      return "succeeded";
    case RunState::kFailed:
      return "failed";
    case RunState::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::string this_supervisor() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

RunStore::RunStore(std::string dsn, std::string supervisor)
    : dsn_(pg::with_liveness_checks(dsn, 10)), supervisor_(std::move(supervisor)) {}

pg::PgConnection& RunStore::connection() {
  if (connection_ && connection_->healthy()) return *connection_;
  connection_ = std::make_unique<pg::PgConnection>(dsn_);
  // A new session holds no locks: take those of the runs still supervised here.
  for (std::int64_t run_id : locked_)
    connection_->exec(std::string("SELECT pg_advisory_lock(") + kLockClass + ", $1::int)",
                      {std::to_string(run_id)});
  return *connection_;
}

int RunStore::pipeline_id(const std::string& pipeline) {
  std::lock_guard lock(mutex_);
  return static_cast<int>(
      connection()
          .exec("WITH ins AS (INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) DO "
                "NOTHING RETURNING pipeline_id) SELECT pipeline_id FROM ins UNION ALL "
                "SELECT pipeline_id FROM pipelines WHERE name = $1",
                {pipeline})
          .integer(0, 0));
}

std::pair<std::int64_t, std::string> RunStore::create_run(const NewRun& run) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  const pg::PgResult inserted = c.exec(
      "WITH id AS (SELECT nextval('training_runs_run_id_seq') AS run_id) "
      "INSERT INTO training_runs (run_id, pipeline_id, status, reason, requested_by, spec, "
      "run_dir, supervisor) SELECT id.run_id, $1, 'queued', $2, $3, $4::jsonb, "
      "$5 || '/run-' || id.run_id, $6 FROM id RETURNING run_id, run_dir",
      {std::to_string(run.pipeline_id), run.reason, run.requested_by, json_param(run.spec),
       run.run_root, supervisor_});
  const std::int64_t run_id = inserted.integer(0, 0);
  std::string run_dir(inserted.text(0, 1));
  c.exec(std::string("SELECT pg_advisory_lock(") + kLockClass + ", $1::int)",
         {std::to_string(run_id)});
  locked_.insert(run_id);
  return {run_id, run_dir};
}

std::int64_t RunStore::record_snapshot(std::int64_t run_id, int pipeline_id,
                                       const trainers::SnapshotInfo& info) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  auto ms_param = [](const std::optional<std::int64_t>& ms) {
    return ms ? pg::Param(std::to_string(*ms)) : std::nullopt;
  };
  const std::int64_t snapshot_id =
      c.exec(
           "INSERT INTO snapshots (pipeline_id, seq_first, seq_last, event_time_from, "
           "event_time_to, row_count, content_sha256, schema) VALUES ($1, $2, $3, "
           "to_timestamp($4::bigint / 1000.0), to_timestamp($5::bigint / 1000.0), $6, $7, "
           "$8::jsonb) RETURNING snapshot_id",
           {std::to_string(pipeline_id), std::to_string(info.seq_first),
            std::to_string(info.seq_last), ms_param(info.event_time_from_ms),
            ms_param(info.event_time_to_ms), std::to_string(info.rows), info.content_sha256,
            info.schema_json().dump()})
          .integer(0, 0);
  c.exec("UPDATE training_runs SET snapshot_id = $2 WHERE run_id = $1",
         {std::to_string(run_id), std::to_string(snapshot_id)});
  return snapshot_id;
}

void RunStore::record_spec(std::int64_t run_id, const nlohmann::json& spec) {
  std::lock_guard lock(mutex_);
  connection().exec("UPDATE training_runs SET spec = $2::jsonb WHERE run_id = $1",
                    {std::to_string(run_id), json_param(spec)});
}

void RunStore::mark_running(std::int64_t run_id, int pid) {
  std::lock_guard lock(mutex_);
  connection().exec(
      "UPDATE training_runs SET status = 'running', pid = $2, started_at = now() "
      "WHERE run_id = $1 AND status = 'queued'",
      {std::to_string(run_id), std::to_string(pid)});
}

void RunStore::record_progress(std::int64_t run_id, const nlohmann::json& line) {
  std::lock_guard lock(mutex_);
  connection().exec(
      "UPDATE training_runs SET progress = $2::jsonb, progress_lines = progress_lines + 1 "
      "WHERE run_id = $1",
      {std::to_string(run_id), json_param(line)});
}

void RunStore::finish(std::int64_t run_id, const FinishedRun& f) {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  c.exec(
      "UPDATE training_runs SET status = $2, exit_code = $3, signal = $4, failure_reason = "
      "nullif($5, ''), last_log = nullif($6, ''), metrics = $7::jsonb, manifest = $8::jsonb, "
      "finished_at = now(), started_at = coalesce(started_at, now()) "
      "WHERE run_id = $1 AND status IN ('queued', 'running')",
      {std::to_string(run_id), std::string(run_state_name(f.state)), optional_param(f.exit_code),
       optional_param(f.signal), f.failure_reason, f.last_log, json_param(f.metrics),
       json_param(f.manifest)});
  c.exec(std::string("SELECT pg_advisory_unlock(") + kLockClass + ", $1::int)",
         {std::to_string(run_id)});
  locked_.erase(run_id);
}

std::vector<std::int64_t> RunStore::recover_abandoned() {
  std::lock_guard lock(mutex_);
  auto& c = connection();
  std::vector<std::int64_t> recovered;
  const pg::PgResult unfinished = c.exec(
      "SELECT run_id, supervisor FROM training_runs WHERE status IN ('queued', 'running') "
      "ORDER BY run_id");
  for (int i = 0; i < unfinished.rows(); ++i) {
    const std::int64_t run_id = unfinished.integer(i, 0);
    if (locked_.count(run_id)) continue;  // ours, alive
    const std::string id = std::to_string(run_id);
    if (c.exec(std::string("SELECT pg_try_advisory_lock(") + kLockClass + ", $1::int)", {id})
            .text(0, 0) != "t")
      continue;  // another live daemon supervises it
    const auto updated = c.exec(
        "UPDATE training_runs SET status = 'failed', finished_at = now(), failure_reason = "
        "'abandoned: the daemon supervising it (' || supervisor || ') stopped before the run "
        "ended' WHERE run_id = $1 AND status IN ('queued', 'running')",
        {id});
    c.exec(std::string("SELECT pg_advisory_unlock(") + kLockClass + ", $1::int)", {id});
    if (updated.affected() == 1) recovered.push_back(run_id);
  }
  return recovered;
}

std::optional<RunRow> RunStore::get(std::int64_t run_id) {
  std::lock_guard lock(mutex_);
  const pg::PgResult r = connection().exec(
      std::string("SELECT ") + kRunColumns + " FROM training_runs WHERE run_id = $1",
      {std::to_string(run_id)});
  if (r.rows() == 0) return std::nullopt;
  return row_of(r, 0);
}

std::vector<RunRow> RunStore::list(int pipeline_id, int limit) {
  std::lock_guard lock(mutex_);
  const pg::PgResult r = connection().exec(
      std::string("SELECT ") + kRunColumns +
          " FROM training_runs WHERE pipeline_id = $1 ORDER BY run_id DESC LIMIT $2",
      {std::to_string(pipeline_id), std::to_string(limit)});
  std::vector<RunRow> rows;
  for (int i = 0; i < r.rows(); ++i) rows.push_back(row_of(r, i));
  return rows;
}

}  // namespace ctd::training

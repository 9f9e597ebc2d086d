// Training runs and dataset snapshots in PostgreSQL (migrations/0002_training.sql).
//
// The store owns one connection. While a run is supervised, that connection holds a session
// advisory lock on it (key 1668576370, run_id): a run that is queued or running but whose lock
// is free has lost its daemon, and recover_abandoned() marks it failed. If the connection
// breaks, the store reconnects on its next call and takes the locks of its live runs again.
//
// Thread-safety: every method may be called from any thread (one mutex; calls are short).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/pg.h"
#include "trainers/snapshot.h"

namespace ctd::training {

enum class RunState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
std::string_view run_state_name(RunState state);

struct NewRun {
  int pipeline_id = 0;
  std::string reason;
  std::string requested_by;
  nlohmann::json spec;
  std::string run_root;  // the run's directory becomes <run_root>/run-<run_id>
};

struct FinishedRun {
  RunState state = RunState::kFailed;
  std::optional<int> exit_code, signal;
  std::string failure_reason;  // empty for a succeeded run
  std::string last_log;
  nlohmann::json metrics, manifest;  // null unless succeeded
};

struct RunRow {
  std::int64_t run_id = 0;
  int pipeline_id = 0;
  std::string status, reason, requested_by, run_dir, supervisor;
  std::optional<std::int64_t> snapshot_id;
  std::optional<int> pid, exit_code, signal;
  nlohmann::json spec, progress, metrics, manifest;
  std::int64_t progress_lines = 0;
  std::string failure_reason, last_log;
  bool started = false, finished = false;
};

// This process as a supervisor name: "host:pid".
std::string this_supervisor();

class RunStore {
 public:
  // `supervisor` names this daemon in the runs it creates (e.g. "host:pid").
  RunStore(std::string dsn, std::string supervisor);

  // Inserts a queued run and takes its lock; returns its id and directory.
  std::pair<std::int64_t, std::string> create_run(const NewRun& run);
  // Records the snapshot and links it to the run; returns the snapshot id.
  std::int64_t record_snapshot(std::int64_t run_id, int pipeline_id,
                               const trainers::SnapshotInfo& info);
  void record_spec(std::int64_t run_id, const nlohmann::json& spec);
  void mark_running(std::int64_t run_id, int pid);
  void record_progress(std::int64_t run_id, const nlohmann::json& line);
  // Ends the run (a no-op for a run that has already ended) and releases its lock.
  void finish(std::int64_t run_id, const FinishedRun& finished);

  // Marks failed every queued or running run whose supervisor is gone; returns their ids.
  std::vector<std::int64_t> recover_abandoned();

  std::optional<RunRow> get(std::int64_t run_id);
  std::vector<RunRow> list(int pipeline_id, int limit);

  // The pipeline's id in the catalog (registering it if new).
  int pipeline_id(const std::string& pipeline);

 private:
  pg::PgConnection& connection();  // REQUIRES: mutex_ held
  std::string dsn_, supervisor_;
  std::mutex mutex_;
  std::unique_ptr<pg::PgConnection> connection_;
  std::set<std::int64_t> locked_;  // runs whose lock this store holds
};

}  // namespace ctd::training

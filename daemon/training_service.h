// Runs training: for each request, a run row, a dataset snapshot exported from PostgreSQL, a
// run directory with spec.json, and ctd-train launched and supervised as a child process until
// the run succeeds, fails or is cancelled. Whatever the trainer does (crash, hang, OOM), only
// its run fails, with the reason; the daemon goes on.
//
// Each run is driven by its own thread; at most `max_concurrent_runs` trainers run at once,
// the rest wait queued. The service never includes LibTorch: the trainer is another process.
//
// With TrainingMetrics (the daemon's), every run that got a slot is observed in
// ctd_training_duration_seconds when it ends, and the trainer's throughput of each run that
// completed an epoch sets ctd_training_samples_per_second.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/options.h"
#include "daemon/launcher.h"
#include "daemon/metrics.h"
#include "daemon/run_store.h"
#include "daemon/snapshot_export.h"
#include "trainers/run_spec.h"

namespace ctd::training {

struct TrainingSettings {
  std::filesystem::path trainer;  // the ctd-train executable
  std::filesystem::path run_root;
  std::chrono::milliseconds timeout{std::chrono::hours(1)};
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  std::uint64_t memory_limit_bytes = 0;
  int max_concurrent_runs = 2;
  std::string code_version;  // recorded in every spec and manifest
};

// The samples a training run of `pipeline` uses by its `dataset` settings (newest N, last D
// days counted from now); no sequence bounds.
DatasetSelection dataset_selection(const config::PipelineOptions& pipeline);

struct WarmStart {
  std::filesystem::path model_path;                              // the production model artifact
  std::map<std::string, std::vector<std::string>> vocabularies;  // from its snapshot
};

struct RunRequest {
  config::PipelineOptions pipeline;  // features and label define the snapshot's layout
  trainers::RunSpec spec;            // the run's training settings
  DatasetSelection selection;
  std::string reason = "manual";
  std::string requested_by = "ctd";
  std::optional<WarmStart> warm_start;  // required when spec.init is production
};

struct RunResult {
  std::int64_t run_id = 0;
  RunState state = RunState::kFailed;
  std::string failure_reason;
  std::filesystem::path run_dir;
  nlohmann::json metrics;  // metrics.json of a succeeded run
};

// The service's Prometheus families (the daemon's; `ctd train` runs without them).
struct TrainingMetrics {
  explicit TrainingMetrics(metrics::Registry& registry);
  // {pipeline,status}: seconds from the run getting a slot (so its snapshot export included,
  // its wait in the queue not) to its end; status succeeded, failed or cancelled.
  metrics::Family<metrics::Histogram>& duration;
  // {pipeline}: the trainer's samples per second in the last run that completed an epoch, over
  // its epochs' training steps (validation excluded), as ctd-train's epoch lines report them.
  metrics::Family<metrics::Gauge>& samples_per_second;
};

// Samples per second over whole epochs from each epoch's rate: every epoch trains on the same
// samples, so the total over the total time is the rates' harmonic mean. Rates that are not
// finite and positive are ignored; nullopt when none is left.
std::optional<double> epochs_throughput(const std::vector<double>& epoch_rates);

class TrainingService {
 public:
  // `metrics` (optional) must outlive the service.
  TrainingService(TrainingSettings settings, std::string dsn, Launcher& launcher, RunStore& store,
                  TrainingMetrics* metrics = nullptr);
  ~TrainingService();  // shutdown("the daemon is stopping")
  TrainingService(const TrainingService&) = delete;
  TrainingService& operator=(const TrainingService&) = delete;

  // Creates the run (queued) and starts driving it; returns its id. Throws pg::PgError if the
  // run row cannot be created.
  std::int64_t start(RunRequest request);

  // Cancels a run that has not ended: false if it is unknown here or already over.
  bool cancel(std::int64_t run_id, const std::string& why);

  // Blocks until the run ends. REQUIRES: start() returned run_id.
  RunResult wait(std::int64_t run_id);

  // Runs started here that have not ended.
  std::size_t active() const;

  // For a drain: from now on no run gets a slot. Runs still waiting for one (their trainer has
  // not started) and runs started later end cancelled with `why`; returns how many were
  // waiting. Runs that hold a slot go on. Irreversible.
  std::size_t refuse_new_runs(const std::string& why);

  // Cancels every unfinished run with `why` and waits for them all to end.
  void shutdown(const std::string& why);

 private:
  struct Run;
  void drive(Run& run);
  RunResult execute(Run& run);
  bool acquire_slot(Run& run);
  void release_slot();
  void record_metrics(const Run& run, RunState state) const;

  TrainingSettings settings_;
  std::string dsn_;
  Launcher& launcher_;
  RunStore& store_;
  TrainingMetrics* metrics_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::int64_t, std::unique_ptr<Run>> runs_;
  int running_ = 0;
  std::optional<std::string> refusing_;  // why, once refuse_new_runs() was called
};

}  // namespace ctd::training

#include "daemon/training_service.h"

#include <cmath>
#include <fstream>

#include <spdlog/spdlog.h>

namespace ctd::training {
namespace {

constexpr const char* kSnapshotFile = "snapshot.safetensors";
constexpr const char* kInitModelFile = "init_model.pt";
// Trainings take from seconds (a linear model on a small window) to hours.
const std::vector<double> kDurationBuckets = {1,   5,    15,   30,   60,   120,   300,
                                              600, 1200, 1800, 3600, 7200, 14400, 28800};

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("the trainer left no " + path.filename().string());
  return nlohmann::json::parse(in);
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << '\n';
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace

struct TrainingService::Run {
  RunRequest request;
  std::int64_t run_id = 0;
  std::filesystem::path run_dir;
  std::thread thread;
  // Guarded by TrainingService::mutex_.
  std::optional<std::string> cancelled;  // why, once cancel() was called
  RunHandle* handle = nullptr;           // while the trainer runs
  bool has_slot = false;                 // past the max_concurrent_runs queue
  bool done = false;
  RunResult result;
  // Written by the run's threads before it ends, read when it has: when it got its slot, and
  // the samples_per_s of each of the trainer's epoch lines.
  std::optional<std::chrono::steady_clock::time_point> slot_at;
  std::vector<double> epoch_rates;
};

TrainingMetrics::TrainingMetrics(metrics::Registry& registry)
    : duration(registry.histogram(
          "ctd_training_duration_seconds",
          "Seconds a training run took from getting a slot (snapshot export included) to its "
          "end, by final status; observed by the daemon that drove it.",
          kDurationBuckets, {"pipeline", "status"})),
      samples_per_second(registry.gauge(
          "ctd_training_samples_per_second",
          "Training samples per second of the last run that completed an epoch, over its "
          "epochs' training steps (ctd-train's epoch lines; validation excluded).",
          {"pipeline"})) {}

std::optional<double> epochs_throughput(const std::vector<double>& epoch_rates) {
  double inverse_sum = 0;
  std::size_t epochs = 0;
  for (const double rate : epoch_rates) {
    if (!std::isfinite(rate) || rate <= 0) continue;
    inverse_sum += 1 / rate;
    ++epochs;
  }
  if (epochs == 0) return std::nullopt;
  return static_cast<double>(epochs) / inverse_sum;
}

DatasetSelection dataset_selection(const config::PipelineOptions& p) {
  DatasetSelection s;
  if (p.dataset.last_samples) s.last_samples = *p.dataset.last_samples;
  if (p.dataset.last_days) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    s.event_time_from_ms = now_ms - *p.dataset.last_days * 86'400'000LL;
  }
  return s;
}

TrainingService::TrainingService(TrainingSettings settings, std::string dsn, Launcher& launcher,
                                 RunStore& store, TrainingMetrics* metrics)
    : settings_(std::move(settings)),
      dsn_(std::move(dsn)),
      launcher_(launcher),
      store_(store),
      metrics_(metrics) {}

TrainingService::~TrainingService() { shutdown("the daemon is stopping"); }

std::int64_t TrainingService::start(RunRequest request) {
  const int pipeline_id = store_.pipeline_id(request.pipeline.name);
  const auto [run_id, run_dir] =
      store_.create_run({pipeline_id, request.reason, request.requested_by, request.spec.to_json(),
                         (settings_.run_root / request.pipeline.name).string()});
  auto run = std::make_unique<Run>();
  run->request = std::move(request);
  run->run_id = run_id;
  run->run_dir = run_dir;
  run->result.run_id = run_id;
  run->result.run_dir = run_dir;
  Run& ref = *run;
  std::lock_guard lock(mutex_);
  if (refusing_) run->cancelled = *refusing_;  // it ends before taking a slot
  runs_[run_id] = std::move(run);
  ref.thread = std::thread([this, &ref] { drive(ref); });
  return run_id;
}

bool TrainingService::cancel(std::int64_t run_id, const std::string& why) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second->done || it->second->cancelled) return false;
  it->second->cancelled = why;
  if (it->second->handle) it->second->handle->cancel(why);
  changed_.notify_all();  // a run waiting for a slot gives up
  return true;
}

std::size_t TrainingService::refuse_new_runs(const std::string& why) {
  std::lock_guard lock(mutex_);
  refusing_ = why;
  std::size_t cancelled = 0;
  for (auto& [id, run] : runs_) {
    if (run->done || run->has_slot || run->cancelled) continue;
    run->cancelled = why;
    ++cancelled;
  }
  if (cancelled > 0) changed_.notify_all();  // they give up waiting for a slot
  return cancelled;
}

RunResult TrainingService::wait(std::int64_t run_id) {
  std::unique_lock lock(mutex_);
  Run& run = *runs_.at(run_id);
  changed_.wait(lock, [&] { return run.done; });
  return run.result;
}

std::size_t TrainingService::active() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, run] : runs_) n += run->done ? 0 : 1;
  return n;
}

void TrainingService::shutdown(const std::string& why) {
  std::vector<std::int64_t> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, run] : runs_) ids.push_back(id);
  }
  for (auto id : ids) cancel(id, why);
  for (auto id : ids) {
    std::thread thread;
    {
      std::lock_guard lock(mutex_);
      thread = std::move(runs_.at(id)->thread);
    }
    if (thread.joinable()) thread.join();
  }
}

bool TrainingService::acquire_slot(Run& run) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return running_ < settings_.max_concurrent_runs || run.cancelled; });
  if (run.cancelled) return false;
  ++running_;
  run.has_slot = true;
  return true;
}

void TrainingService::release_slot() {
  std::lock_guard lock(mutex_);
  --running_;
  changed_.notify_all();
}

void TrainingService::drive(Run& run) {
  RunResult result;
  try {
    result = execute(run);
  } catch (const std::exception& e) {
    result.run_id = run.run_id;
    result.run_dir = run.run_dir;
    result.state = RunState::kFailed;
    result.failure_reason = std::string("could not run: ") + e.what();
    try {
      store_.finish(run.run_id, {RunState::kFailed, std::nullopt, std::nullopt,
                                 result.failure_reason, "", nullptr, nullptr});
    } catch (const std::exception& store_error) {
      spdlog::error("training run {}: cannot record its failure: {}", run.run_id,
                    store_error.what());
    }
  }
  if (result.state == RunState::kSucceeded) {
    spdlog::info("training run {} ({}) succeeded", run.run_id, run.request.pipeline.name);
  } else {
    const std::string_view state = run_state_name(result.state);
    const bool named = result.failure_reason.rfind(state, 0) == 0;  // "cancelled: ..."
    spdlog::warn("training run {} ({}) {}{}", run.run_id, run.request.pipeline.name,
                 named ? "" : std::string(state) + ": ", result.failure_reason);
  }
  record_metrics(run, result.state);  // before wait() returns, so its caller sees them
  std::lock_guard lock(mutex_);
  run.result = std::move(result);
  run.done = true;
  changed_.notify_all();
}

void TrainingService::record_metrics(const Run& run, RunState state) const {
  if (metrics_ == nullptr) return;
  const std::string& pipeline = run.request.pipeline.name;
  if (run.slot_at) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - *run.slot_at;
    metrics_->duration.with({pipeline, std::string(run_state_name(state))}).observe(took.count());
  }
  if (const std::optional<double> rate = epochs_throughput(run.epoch_rates))
    metrics_->samples_per_second.with({pipeline}).set(*rate);
}

RunResult TrainingService::execute(Run& run) {
  RunResult result;
  result.run_id = run.run_id;
  result.run_dir = run.run_dir;
  auto end = [&](RunState state, std::string reason, FinishedRun finished = {}) {
    finished.state = state;
    finished.failure_reason = reason;
    store_.finish(run.run_id, finished);
    result.state = state;
    result.failure_reason = std::move(reason);
    return result;
  };
  auto cancelled = [&]() -> std::optional<std::string> {
    std::lock_guard lock(mutex_);
    return run.cancelled;
  };

  if (!acquire_slot(run)) return end(RunState::kCancelled, "cancelled: " + *cancelled());
  struct SlotGuard {
    TrainingService* service;
    ~SlotGuard() { service->release_slot(); }
  } slot{this};
  run.slot_at = std::chrono::steady_clock::now();

  const RunRequest& request = run.request;
  std::filesystem::create_directories(run.run_dir);

  // The dataset snapshot.
  pg::PgConnection connection(pg::with_liveness_checks(dsn_, 10));
  const int pipeline_id = store_.pipeline_id(request.pipeline.name);
  const auto selection = resolve_selection(connection, pipeline_id, request.selection);
  if (!selection) return end(RunState::kFailed, "no labeled samples in the dataset selection");
  ExportOptions export_options;
  if (request.warm_start) export_options.base_vocabularies = request.warm_start->vocabularies;
  const trainers::SnapshotInfo snapshot =
      export_snapshot(connection, request.pipeline, pipeline_id, *selection, export_options,
                      run.run_dir / kSnapshotFile);
  store_.record_snapshot(run.run_id, pipeline_id, snapshot);
  if (auto why = cancelled()) return end(RunState::kCancelled, "cancelled: " + *why);

  // The spec.
  trainers::RunSpec spec = request.spec;
  spec.run_id = std::to_string(run.run_id);
  spec.pipeline = request.pipeline.name;
  spec.snapshot = kSnapshotFile;
  spec.code_version = settings_.code_version;
  if (spec.init == trainers::InitKind::kProduction) {
    if (!request.warm_start)
      return end(RunState::kFailed, "init is production but there is no production model");
    std::filesystem::copy_file(request.warm_start->model_path, run.run_dir / kInitModelFile,
                               std::filesystem::copy_options::overwrite_existing);
    spec.init_model_path = kInitModelFile;
  }
  const nlohmann::json spec_json = spec.to_json();
  write_json_file(run.run_dir / "spec.json", spec_json);
  store_.record_spec(run.run_id, spec_json);

  // The trainer.
  LaunchRequest launch;
  launch.run_id = std::to_string(run.run_id);
  launch.argv = {settings_.trainer.string(), "train", "--run-dir", run.run_dir.string()};
  launch.run_dir = run.run_dir;
  launch.timeout = settings_.timeout;
  launch.kill_grace = settings_.kill_grace;
  launch.memory_limit_bytes = settings_.memory_limit_bytes;
  nlohmann::json failure_line;  // the trainer's own account of a failure
  auto on_line = [&](std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return;
    if (j.value("phase", "") == "failed") failure_line = j;
    if (j.value("phase", "") == "epoch" && j.contains("samples_per_s") &&
        j["samples_per_s"].is_number())
      run.epoch_rates.push_back(j["samples_per_s"].get<double>());
    try {
      store_.record_progress(run.run_id, j);
    } catch (const std::exception& e) {
      spdlog::warn("training run {}: progress not recorded: {}", run.run_id, e.what());
    }
  };
  std::unique_ptr<RunHandle> handle = launcher_.launch(launch, on_line);
  {
    std::lock_guard lock(mutex_);
    run.handle = handle.get();
    if (run.cancelled) handle->cancel(*run.cancelled);
  }
  if (handle->pid() > 0) store_.mark_running(run.run_id, handle->pid());
  const RunOutcome outcome = handle->wait();
  {
    std::lock_guard lock(mutex_);
    run.handle = nullptr;
  }

  FinishedRun finished;
  if (outcome.exit_code >= 0) finished.exit_code = outcome.exit_code;
  if (outcome.signal > 0) finished.signal = outcome.signal;
  finished.last_log = join_lines(outcome.last_lines);
  switch (outcome.status) {
    case RunStatus::kSucceeded: {
      finished.metrics = read_json_file(run.run_dir / "metrics.json");
      finished.manifest = read_json_file(run.run_dir / "manifest.json");
      if (!std::filesystem::exists(run.run_dir / "model.pt"))
        return end(RunState::kFailed, "the trainer exited 0 without writing model.pt", finished);
      result.metrics = finished.metrics;
      return end(RunState::kSucceeded, "", finished);
    }
    case RunStatus::kCancelled:
      return end(RunState::kCancelled, outcome.reason, finished);
    case RunStatus::kTimedOut:
    case RunStatus::kFailed: {
      std::string reason = outcome.reason;
      if (failure_line.is_object())
        reason += ": " + failure_line.value("code", std::string("error")) + ": " +
                  failure_line.value("reason", std::string());
      return end(RunState::kFailed, reason, finished);
    }
  }
  return end(RunState::kFailed, outcome.reason, finished);
}

}  // namespace ctd::training

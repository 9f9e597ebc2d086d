// The promotion gate in action: turns a succeeded training run into a registered candidate,
// scores it and the production version on the same held-out samples (the newest labeled
// samples the candidate did not train on), and promotes, stages (canary) or rejects it by the
// pipeline's `promotion` rules (registry/gate.h). Later, as labeled samples arrive, it judges
// the open canaries (staging vs production) and guardrails (a new production version vs the
// one it replaced, rolled back automatically when it falls behind).
//
// Models are scored by `ctd-train evaluate` in a supervised child process, so the daemon never
// loads LibTorch and a model that crashes its scorer fails only its own evaluation. The samples
// of a judgement are exported once, in the pipeline's current layout; the scorer matches them
// to each model's own feature list and vocabulary (values a model never saw are "unknown" to
// it), and slices are formed from the samples' own values.
//
// Blocking calls; one caller per pipeline at a time (the orchestration loop). Thread-safe
// across pipelines (the Registry serialises its changes per model).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/options.h"
#include "daemon/launcher.h"
#include "daemon/snapshot_export.h"
#include "registry/gate.h"
#include "registry/registry.h"

namespace ctd::promotion {

struct PromotionSettings {
  std::filesystem::path trainer;    // ctd-train
  std::filesystem::path work_root;  // evaluation directories are made under it
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};  // per evaluation
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  bool keep_work_dirs = false;  // keep evaluation directories (snapshots, logs) for debugging
};

enum class Verdict { kPromoted, kStaged, kRejected, kFailed };
std::string_view verdict_name(Verdict verdict);

struct Outcome {
  int version = 0;
  Verdict verdict = Verdict::kFailed;
  std::string reason;                   // for people: why, with the numbers
  std::optional<int> previous_version;  // the production version it replaced
  nlohmann::json gate;                  // the gate decision as recorded on the version
};

// Held-out samples for the gate: the newest `holdout_samples` after the candidate's training
// range. Training runs leave them out: when a pipeline has at least 2 * holdout_samples
// samples, its training data end holdout_samples before the newest; with fewer, at least
// 2 * min_holdout_samples, min_holdout_samples are left out; otherwise nothing is.
std::optional<std::int64_t> training_seq_last(pg::PgConnection& connection, int pipeline_id,
                                              const config::PromotionOptions& promotion);

// The categorical vocabularies a model was trained with, from its manifest.
std::map<std::string, std::vector<std::string>> vocabularies_of(const nlohmann::json& manifest);

struct WatchResult {
  std::int64_t watch_id = 0;
  registry::WatchKind kind = registry::WatchKind::kCanary;
  int version = 0;
  std::string state;  // passed, failed, expired, or "waiting" (not enough samples yet)
  std::string reason;
};

class PromotionService {
 public:
  PromotionService(PromotionSettings settings, std::string dsn, training::Launcher& launcher,
                   registry::Registry& registry);

  // Registers the model of succeeded run `run_id` as a candidate (once: a second call finds the
  // same version) and gates it. `trigger` (reason and evidence) and `parent_version` (the
  // version it was warm-started from) go into its lineage. Throws registry::RegistryError or
  // pg::PgError when the run cannot be registered.
  Outcome consider_run(const config::PipelineOptions& pipeline, std::int64_t run_id,
                       const nlohmann::json& trigger = nullptr,
                       std::optional<int> parent_version = std::nullopt,
                       std::optional<std::int64_t> trigger_event_id = std::nullopt);

  // Gates a registered candidate version. If the candidate cannot be scored because of the
  // model, it is marked failed; if scoring fails for other reasons (including production's
  // model failing to score), this throws EvaluationError or pg::PgError and the version stays
  // a candidate, to be gated again (`ctd registry gate`).
  Outcome gate(const config::PipelineOptions& pipeline, int version);

  // Judges the pipeline's open canary and guardrail watches that have their samples (or whose
  // window has passed, for a guardrail). A watch that cannot be judged for reasons outside the
  // models (database, scorer start, timeout, production moved meanwhile) stays open and is
  // tried again next time.
  std::vector<WatchResult> check_watches(const config::PipelineOptions& pipeline);

  // Cancels the scorers running now and makes later calls fail fast (EvaluationError), for
  // shutdown. Irreversible.
  void stop(const std::string& why);

 private:
  struct Samples;
  std::unique_ptr<Samples> export_samples(const config::PipelineOptions& pipeline, int pipeline_id,
                                          const training::ResolvedSelection& selection,
                                          const std::string& purpose);
  registry::EvalReport score(const config::PipelineOptions& pipeline, const Samples& samples,
                             const registry::ModelVersion& version, const std::string& purpose);
  Outcome gate_once(const config::PipelineOptions& pipeline, int version);
  WatchResult judge(const config::PipelineOptions& pipeline, const registry::Watch& watch);

  PromotionSettings settings_;
  std::string dsn_;
  training::Launcher& launcher_;
  registry::Registry& registry_;
  std::mutex mutex_;
  std::set<training::RunHandle*> running_;  // scorers to cancel on stop()
  std::string stopped_;                     // why, once stop() was called
};

// An evaluation that could not be done. `model_fault`: the model itself is to blame (its
// artifact is missing or corrupt, or the scorer exited with an error or crashed on it), as
// opposed to the surroundings (the scorer could not start, timed out, was cancelled).
class EvaluationError : public std::runtime_error {
 public:
  EvaluationError(const std::string& message, bool model_fault)
      : std::runtime_error(message), model_fault_(model_fault) {}
  bool model_fault() const { return model_fault_; }

 private:
  bool model_fault_;
};

}  // namespace ctd::promotion

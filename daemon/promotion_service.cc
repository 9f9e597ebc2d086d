#include "daemon/promotion_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ctd::promotion {
namespace {

using registry::Change;
using registry::EvalReport;
using registry::ModelVersion;
using registry::WatchEnd;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int pipeline_id_of(pg::PgConnection& c, const std::string& name) {
  const auto r = c.exec("SELECT pipeline_id FROM pipelines WHERE name = $1", {name});
  if (r.rows() == 0) throw EvaluationError("unknown pipeline '" + name + "'", false);
  return static_cast<int>(r.integer(0, 0));
}

std::int64_t newest_seq(pg::PgConnection& c, int pipeline_id) {
  return c
      .exec("SELECT coalesce(max(seq), 0) FROM samples WHERE pipeline_id = $1",
            {std::to_string(pipeline_id)})
      .integer(0, 0);
}

std::string format_value(const std::optional<double>& v) {
  return v ? fmt::format("{:.4f}", *v) : std::string("n/a");
}

std::string summary_of(const registry::GateDecision& d, std::int64_t rows) {
  std::string s =
      fmt::format("{} {} on {} held-out samples", d.metric, format_value(d.candidate_value), rows);
  if (d.champion_value) s += fmt::format(" (production {})", format_value(d.champion_value));
  return s;
}

}  // namespace

std::map<std::string, std::vector<std::string>> vocabularies_of(const nlohmann::json& manifest) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& c : manifest.at("input").at("categorical_features"))
    out[c.at("name").get<std::string>()] = c.at("vocabulary").get<std::vector<std::string>>();
  return out;
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPromoted:
      return "promoted";
    case Verdict::kStaged:
      return "staged";
    case Verdict::kRejected:
      return "rejected";
    case Verdict::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<std::int64_t> training_seq_last(pg::PgConnection& c, int pipeline_id,
                                              const config::PromotionOptions& promotion) {
  const std::int64_t count =
      c.exec("SELECT count(*) FROM samples WHERE pipeline_id = $1", {std::to_string(pipeline_id)})
          .integer(0, 0);
  std::int64_t reserve = 0;
  if (count >= 2 * promotion.holdout_samples)
    reserve = promotion.holdout_samples;
  else if (count >= 2 * promotion.min_holdout_samples)
    reserve = promotion.min_holdout_samples;
  if (reserve == 0) return std::nullopt;
  // The seq with `reserve` samples after it (seqs are dense per pipeline, but count anyway).
  const auto s =
      c.exec("SELECT seq FROM samples WHERE pipeline_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1",
             {std::to_string(pipeline_id), std::to_string(reserve)});
  if (s.rows() == 0) return std::nullopt;
  return s.integer(0, 0);
}

PromotionService::PromotionService(PromotionSettings settings, std::string dsn,
                                   training::Launcher& launcher, registry::Registry& registry)
    : settings_(std::move(settings)),
      dsn_(std::move(dsn)),
      launcher_(launcher),
      registry_(registry) {}

// The samples of one judgement, exported once in the pipeline's current layout, in a work
// directory of their own (removed afterwards unless keep_work_dirs). Every model is scored on
// the same file: `ctd-train evaluate` matches it to each model's own input layout.
struct PromotionService::Samples {
  std::filesystem::path dir;
  bool keep = false;
  std::filesystem::path file() const { return dir / "samples.safetensors"; }
  ~Samples() {
    std::error_code ec;
    if (!keep) std::filesystem::remove_all(dir, ec);
  }
};

std::unique_ptr<PromotionService::Samples> PromotionService::export_samples(
    const config::PipelineOptions& pipeline, int pipeline_id,
    const training::ResolvedSelection& selection, const std::string& purpose) {
  static std::atomic<std::uint64_t> counter{0};
  auto samples = std::make_unique<Samples>();
  samples->dir = settings_.work_root /
                 fmt::format("{}-{}-{}-{}", purpose, pipeline.name, ::getpid(), ++counter);
  samples->keep = settings_.keep_work_dirs;
  std::filesystem::create_directories(samples->dir);
  pg::PgConnection c(pg::with_connect_timeout(dsn_, 10));
  training::export_snapshot(c, pipeline, pipeline_id, selection, {}, samples->file());
  return samples;
}

EvalReport PromotionService::score(const config::PipelineOptions& pipeline, const Samples& samples,
                                   const ModelVersion& v, const std::string& purpose) {
  const auto output = samples.dir / fmt::format("evaluation-v{}-{}.json", v.version, purpose);
  // The artifact as stored: a missing or changed file fails here, before any scoring.
  std::filesystem::path model;
  try {
    model = registry_.verified_artifact(v);
  } catch (const registry::RegistryError& e) {
    throw EvaluationError(e.what(), true);
  }
  std::string slices;
  for (const auto& s : pipeline.promotion.slices) slices += (slices.empty() ? "" : ",") + s;
  training::LaunchRequest request;
  request.run_id = fmt::format("evaluate {} v{} ({})", pipeline.name, v.version, purpose);
  request.argv = {
      settings_.trainer.string(), "evaluate", "--model",      model.string(), "--snapshot",
      samples.file().string(),    "--output", output.string()};
  if (!slices.empty()) {
    request.argv.push_back("--slices");
    request.argv.push_back(slices);
  }
  request.run_dir = samples.dir;
  request.timeout = settings_.timeout;
  request.kill_grace = settings_.kill_grace;
  std::unique_ptr<training::RunHandle> handle;
  {
    std::lock_guard lock(mutex_);
    if (!stopped_.empty()) throw EvaluationError("not scoring: " + stopped_, false);
    handle = launcher_.launch(request, [](std::string_view) {});
    running_.insert(handle.get());
  }
  const training::RunOutcome outcome = handle->wait();
  {
    std::lock_guard lock(mutex_);
    running_.erase(handle.get());
  }
  if (outcome.status != training::RunStatus::kSucceeded) {
    std::string tail;
    for (const auto& line : outcome.last_lines) tail += "\n  " + line;
    // The model is to blame when the scorer ran and failed on it: it exited with an error or
    // died of a signal. Not when it could not start, timed out or was cancelled.
    const bool model_fault = outcome.status == training::RunStatus::kFailed &&
                             (outcome.exit_code > 0 || outcome.signal > 0);
    throw EvaluationError(fmt::format("scoring {} version {} failed: {}{}", pipeline.name,
                                      v.version, outcome.reason, tail),
                          model_fault);
  }
  std::ifstream in(output);
  try {
    return EvalReport::from_json(nlohmann::json::parse(in));
  } catch (const std::exception& e) {
    throw EvaluationError(fmt::format("scoring {} version {} gave an unreadable result: {}",
                                      pipeline.name, v.version, e.what()),
                          true);
  }
}

void PromotionService::stop(const std::string& why) {
  std::lock_guard lock(mutex_);
  stopped_ = why.empty() ? "stopping" : why;
  for (auto* handle : running_) handle->cancel(stopped_);
}

Outcome PromotionService::consider_run(const config::PipelineOptions& pipeline, std::int64_t run_id,
                                       const nlohmann::json& trigger,
                                       std::optional<int> parent_version,
                                       std::optional<std::int64_t> trigger_event_id) {
  registry::NewVersion nv;
  {
    pg::PgConnection c(pg::with_connect_timeout(dsn_, 10));
    const auto r = c.exec(
        "SELECT status, run_dir, spec, metrics, manifest, snapshot_id FROM training_runs WHERE "
        "run_id = $1",
        {std::to_string(run_id)});
    if (r.rows() == 0)
      throw registry::RegistryError(registry::RegistryError::Code::kNotFound,
                                    "unknown training run " + std::to_string(run_id));
    if (r.text(0, 0) != "succeeded")
      throw registry::RegistryError(
          registry::RegistryError::Code::kInvalidState,
          fmt::format("training run {} is {}; only a succeeded run has a model", run_id,
                      r.text(0, 0)));
    const std::filesystem::path run_dir(std::string(r.text(0, 1)));
    nv.model = pipeline.name;
    nv.artifact = run_dir / "model.pt";
    nv.training_params = nlohmann::json::parse(r.text(0, 2));
    nv.metrics = nlohmann::json::parse(r.text(0, 3));
    nv.manifest = nlohmann::json::parse(r.text(0, 4));
    if (!r.is_null(0, 5)) nv.snapshot_id = r.integer(0, 5);
    const auto& snap = nv.manifest.at("snapshot");
    nv.seq_first = snap.at("seq_first").get<std::int64_t>();
    nv.seq_last = snap.at("seq_last").get<std::int64_t>();
    nv.row_count = snap.at("rows").get<std::int64_t>();
    nv.snapshot_sha256 = snap.at("sha256").get<std::string>();
    nv.code_version = nv.manifest.value("code_version", "");
    nv.device = nv.manifest.value("device", "");
    nv.run_id = run_id;
    nv.trigger = trigger;
    nv.parent_version = parent_version;
    nv.trigger_event_id = trigger_event_id;
  }
  const int version = registry_.register_version(nv);
  const auto v = registry_.get(pipeline.name, version);
  if (v && v->status != registry::VersionStatus::kCandidate) {
    // Registered and decided before (e.g. a restart after the decision): report it again.
    Outcome o;
    o.version = version;
    o.verdict = v->status == registry::VersionStatus::kStaging    ? Verdict::kStaged
                : v->status == registry::VersionStatus::kFailed   ? Verdict::kFailed
                : v->status == registry::VersionStatus::kRejected ? Verdict::kRejected
                                                                  : Verdict::kPromoted;
    o.reason = v->status_reason;
    o.gate = v->gate;
    return o;
  }
  return gate(pipeline, version);
}

Outcome PromotionService::gate(const config::PipelineOptions& pipeline, int version) {
  // A decision is applied only if production is still the champion it was made against; if
  // production moved meanwhile (a canary, a person), judge again against the new one.
  for (int attempt = 1;; ++attempt) {
    try {
      return gate_once(pipeline, version);
    } catch (const registry::RegistryError& e) {
      if (e.code() != registry::RegistryError::Code::kConflict || attempt == 3) throw;
      spdlog::info("{} version {}: {}; judging again", pipeline.name, version, e.what());
    }
  }
}

Outcome PromotionService::gate_once(const config::PipelineOptions& pipeline, int version) {
  using registry::RegistryError;
  const auto& rules = pipeline.promotion;
  Outcome out;
  out.version = version;
  const auto candidate = registry_.get(pipeline.name, version);
  if (!candidate)
    throw RegistryError(RegistryError::Code::kNotFound,
                        fmt::format("unknown version {} of {}", version, pipeline.name));
  if (candidate->status != registry::VersionStatus::kCandidate)
    throw RegistryError(RegistryError::Code::kInvalidState,
                        fmt::format("{} version {} is {}; only a candidate is gated", pipeline.name,
                                    version, registry::status_name(candidate->status)));
  const auto champion = registry_.production(pipeline.name);

  int pipeline_id = 0;
  std::optional<training::ResolvedSelection> holdout;
  std::int64_t newest = 0;
  {
    pg::PgConnection c(pg::with_connect_timeout(dsn_, 10));
    pipeline_id = pipeline_id_of(c, pipeline.name);
    training::DatasetSelection s;
    s.seq_first = candidate->seq_last + 1;
    s.last_samples = rules.holdout_samples;
    holdout = training::resolve_selection(c, pipeline_id, s);
    newest = newest_seq(c, pipeline_id);
  }
  const registry::PromoteOptions guarded{
      std::nullopt, true, champion ? std::optional<int>(champion->version) : std::nullopt,
      rules.guardrail ? std::optional<registry::GuardrailStart>(registry::GuardrailStart{
                            newest, rules.guardrail->samples,
                            now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                           rules.guardrail->window)
                                           .count()})
                      : std::nullopt};
  auto reject = [&](const std::string& why, const nlohmann::json& gate) {
    registry::Change change{"ctd", why, {}, gate};
    registry_.reject(pipeline.name, version, change);
    out.verdict = Verdict::kRejected;
    out.reason = why;
    out.gate = gate;
    return out;
  };
  if (!holdout)
    return reject(fmt::format("no held-out samples: none stored after the training range (seq "
                              "{}); need at least min_holdout_samples {}",
                              candidate->seq_last, rules.min_holdout_samples),
                  nullptr);

  const auto samples = export_samples(pipeline, pipeline_id, *holdout, "gate");
  EvalReport candidate_report, champion_report;
  try {
    candidate_report = score(pipeline, *samples, *candidate, "candidate");
  } catch (const EvaluationError& e) {
    if (!e.model_fault()) throw;
    const std::string why = std::string("held-out evaluation failed: ") + e.what();
    registry_.mark_failed(pipeline.name, version, registry::Change{"ctd", why, {}, nullptr});
    out.verdict = Verdict::kFailed;
    out.reason = why;
    return out;
  }
  if (champion) {
    try {
      champion_report = score(pipeline, *samples, *champion, "production");
    } catch (const EvaluationError& e) {
      // No comparison without the champion's score; the candidate is not to blame.
      throw EvaluationError(
          fmt::format("cannot judge {} version {}: production version {} could not be scored "
                      "({}); the version stays a candidate",
                      pipeline.name, version, champion->version, e.what()),
          false);
    }
  }
  const registry::GateDecision d =
      registry::decide(rules, candidate_report, champion ? &champion_report : nullptr);
  nlohmann::json gate = d.to_json();
  gate["kind"] = "holdout";
  gate["samples"] = {{"seq_first", holdout->seq_first},
                     {"seq_last", holdout->seq_last},
                     {"rows", candidate_report.rows}};
  gate["candidate_evaluation"] = candidate_report.to_json();
  if (champion) {
    gate["champion_version"] = champion->version;
    gate["champion_evaluation"] = champion_report.to_json();
  }
  out.gate = gate;
  if (!d.passed) return reject("gate failed: " + d.reasons(), gate);

  const std::string summary = summary_of(d, candidate_report.rows);
  if (rules.canary && champion) {
    registry_.stage(pipeline.name, version, newest, rules.canary->samples,
                    registry::Change{"ctd",
                                     "gate passed: " + summary + "; canary on the next " +
                                         std::to_string(rules.canary->samples) + " samples",
                                     {},
                                     gate});
    out.verdict = Verdict::kStaged;
    out.reason = "canary: " + summary;
    return out;
  }
  out.previous_version =
      registry_.promote(pipeline.name, version,
                        registry::Change{"ctd", "gate passed: " + summary, {}, gate}, guarded);
  out.verdict = Verdict::kPromoted;
  out.reason = summary;
  return out;
}

std::vector<WatchResult> PromotionService::check_watches(const config::PipelineOptions& pipeline) {
  std::vector<WatchResult> out;
  for (const auto& w : registry_.open_watches(pipeline.name)) {
    {
      std::lock_guard lock(mutex_);
      if (!stopped_.empty()) break;
    }
    try {
      out.push_back(judge(pipeline, w));
    } catch (const registry::RegistryError& e) {
      if (e.code() == registry::RegistryError::Code::kConflict) {
        out.push_back({w.watch_id, w.kind, w.version, "waiting", e.what()});
        continue;
      }
      // The decision could not be applied (the version or its baseline moved meanwhile, an
      // artifact went missing): end the watch with why, rather than retry it forever; a canary
      // still in staging is rejected so that it does not stay there unwatched.
      const std::string why = std::string("could not apply the decision: ") + e.what();
      try {
        const auto v = registry_.get(pipeline.name, w.version);
        const registry::WatchEnd end{w.watch_id, "cancelled", {{"reason", why}}};
        if (w.kind == registry::WatchKind::kCanary && v &&
            v->status == registry::VersionStatus::kStaging)
          registry_.reject(pipeline.name, w.version, registry::Change{"ctd", why, {}, nullptr},
                           end);
        else
          registry_.end_watch(pipeline.name, end);
      } catch (const registry::RegistryError&) {
        // Already ended with the version it watched.
      }
      out.push_back({w.watch_id, w.kind, w.version, "cancelled", why});
    }
  }
  return out;
}

WatchResult PromotionService::judge(const config::PipelineOptions& pipeline,
                                    const registry::Watch& w) {
  using registry::Change;
  const auto& rules = pipeline.promotion;
  WatchResult result{w.watch_id, w.kind, w.version, "waiting", ""};
  int pipeline_id = 0;
  std::optional<std::int64_t> last;  // the seq of the watch's last sample, once it has arrived
  std::int64_t arrived = 0;
  {
    pg::PgConnection c(pg::with_connect_timeout(dsn_, 10));
    pipeline_id = pipeline_id_of(c, pipeline.name);
    const auto r = c.exec(
        "SELECT seq FROM samples WHERE pipeline_id = $1 AND seq > $2 ORDER BY seq OFFSET $3 "
        "LIMIT 1",
        {std::to_string(pipeline_id), std::to_string(w.seq_after), std::to_string(w.samples - 1)});
    if (r.rows() == 1) last = r.integer(0, 0);
    if (!last)
      arrived = c.exec("SELECT count(*) FROM samples WHERE pipeline_id = $1 AND seq > $2",
                       {std::to_string(pipeline_id), std::to_string(w.seq_after)})
                    .integer(0, 0);
  }
  if (!last) {
    if (w.kind == registry::WatchKind::kGuardrail && w.deadline_ms && now_ms() >= *w.deadline_ms) {
      result.state = "expired";
      result.reason =
          fmt::format("the guard window ended after {} of {} samples", arrived, w.samples);
      registry_.end_watch(pipeline.name,
                          registry::WatchEnd{w.watch_id, "expired", {{"reason", result.reason}}});
    }
    return result;
  }
  const training::ResolvedSelection selection{w.seq_after + 1, *last, std::nullopt, std::nullopt};
  const nlohmann::json window = {{"seq_first", selection.seq_first},
                                 {"seq_last", selection.seq_last}};
  const auto watched = registry_.get(pipeline.name, w.version);
  if (!watched)
    throw registry::RegistryError(registry::RegistryError::Code::kNotFound,
                                  fmt::format("version {} is gone", w.version));

  const auto samples =
      export_samples(pipeline, pipeline_id, selection, std::string(watch_kind_name(w.kind)));
  if (w.kind == registry::WatchKind::kCanary) {
    const auto production = registry_.production(pipeline.name);
    EvalReport staged_report, production_report;
    try {
      staged_report = score(pipeline, *samples, *watched, "canary");
    } catch (const EvaluationError& e) {
      if (!e.model_fault()) throw;  // tried again next time
      result.state = "failed";
      result.reason = std::string("canary evaluation failed: ") + e.what();
      registry_.reject(pipeline.name, w.version, Change{"ctd", result.reason, {}, nullptr},
                       registry::WatchEnd{w.watch_id, "failed", {{"reason", result.reason}}});
      return result;
    }
    if (production)  // a production model that cannot be scored is no reason to judge: retry
      production_report = score(pipeline, *samples, *production, "production");
    // The canary's sample count is its own (canary.samples), not the held-out minimum.
    config::PromotionOptions canary_rules = rules;
    canary_rules.min_holdout_samples = std::min(rules.min_holdout_samples, w.samples);
    const auto d =
        registry::decide(canary_rules, staged_report, production ? &production_report : nullptr);
    nlohmann::json outcome = d.to_json();
    outcome["kind"] = "canary";
    outcome["samples"] = window;
    outcome["samples"]["rows"] = staged_report.rows;
    if (production) outcome["champion_version"] = production->version;
    const registry::WatchEnd end{w.watch_id, d.passed ? "passed" : "failed", outcome};
    if (d.passed) {
      result.state = "passed";
      result.reason = "canary passed: " + summary_of(d, staged_report.rows);
      registry_.promote(
          pipeline.name, w.version, Change{"ctd", result.reason, {}, outcome},
          registry::PromoteOptions{
              end, true, production ? std::optional<int>(production->version) : std::nullopt,
              std::nullopt});
    } else {
      result.state = "failed";
      result.reason = "canary failed: " + d.reasons();
      registry_.reject(pipeline.name, w.version, Change{"ctd", result.reason, {}, outcome}, end);
    }
    return result;
  }

  // Guardrail: the promoted version against the one it replaced, on the samples since.
  if (!rules.guardrail) {
    result.state = "cancelled";
    result.reason = "the pipeline no longer configures a guardrail";
    registry_.end_watch(pipeline.name,
                        registry::WatchEnd{w.watch_id, "cancelled", {{"reason", result.reason}}});
    return result;
  }
  const auto baseline = registry_.get(pipeline.name, w.baseline_version.value_or(0));
  if (!baseline) {
    result.state = "expired";
    result.reason = "the replaced version no longer exists";
    registry_.end_watch(pipeline.name,
                        registry::WatchEnd{w.watch_id, "expired", {{"reason", result.reason}}});
    return result;
  }
  EvalReport promoted_report, baseline_report;
  std::optional<std::string> promoted_failure;
  try {
    promoted_report = score(pipeline, *samples, *watched, "guardrail");
  } catch (const EvaluationError& e) {
    if (!e.model_fault()) throw;
    promoted_failure = e.what();  // the new production model fails on live data: roll back
  }
  try {
    baseline_report = score(pipeline, *samples, *baseline, "baseline");
  } catch (const EvaluationError& e) {
    if (!e.model_fault() || promoted_failure) throw;
    // Nothing to compare with: keep the new version, record why the guard ended.
    result.state = "expired";
    result.reason = std::string("the replaced version could not be scored: ") + e.what();
    registry_.end_watch(pipeline.name,
                        registry::WatchEnd{w.watch_id, "expired", {{"reason", result.reason}}});
    return result;
  }
  registry::GuardDecision guard;
  if (promoted_failure) {
    guard.rollback = true;
    guard.detail = "the promoted version could not be scored: " + *promoted_failure;
  } else {
    guard = registry::judge_guardrail(rules, *rules.guardrail, promoted_report, baseline_report);
  }
  nlohmann::json outcome = {{"kind", "guardrail"},
                            {"detail", guard.detail},
                            {"values", guard.values},
                            {"samples", window}};
  outcome["samples"]["rows"] = baseline_report.rows;
  if (guard.rollback) {
    result.state = "failed";
    result.reason = "guardrail: " + guard.detail;
    registry_.rollback(pipeline.name, baseline->version, Change{"ctd", result.reason, outcome},
                       /*reject_current=*/true, registry::WatchEnd{w.watch_id, "failed", outcome});
  } else {
    result.state = "passed";
    result.reason = "guardrail passed: " + guard.detail;
    registry_.end_watch(pipeline.name, registry::WatchEnd{w.watch_id, "passed", outcome});
  }
  return result;
}

}  // namespace ctd::promotion

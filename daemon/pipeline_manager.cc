#include "daemon/pipeline_manager.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "daemon/snapshot_export.h"
#include "triggers/factory.h"
#include "triggers/time_format.h"

namespace ctd::loop {
namespace {

using triggers::TimePoint;

// Samples as the trigger engine reads them: doubles and strings, row-major, owned here.
struct OwnedBatch {
  std::vector<double> numeric;
  std::vector<std::string> categorical;
  std::vector<std::uint8_t> set;
  std::vector<double> labels;
  triggers::FeatureBatchView view;

  explicit OwnedBatch(const trainers::Dataset& d) {
    const std::size_t n = d.rows(), dn = d.numeric_width(), dc = d.categorical_width();
    numeric.assign(d.numeric.begin(), d.numeric.end());
    categorical.resize(n * dc);
    set.assign(n * dc, 0);
    for (std::size_t i = 0; i < n * dc; ++i) {
      const std::int64_t code = d.categorical[i];
      if (code <= 0) continue;
      categorical[i] = d.info.categorical_features[i % dc].vocabulary[code - 1];
      set[i] = 1;
    }
    labels.assign(d.labels.begin(), d.labels.end());
    view.rows = n;
    view.numeric_width = dn;
    view.categorical_width = dc;
    view.numeric = numeric;
    view.categorical = categorical;
    view.categorical_set = set;
  }
};

std::string epoch_ms(TimePoint t) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::optional<TimePoint> time_of(const pg::PgResult& r, int row, int column) {
  if (r.is_null(row, column)) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(r.integer(row, column)));
}

// The pipeline's features by type, in configuration order: the columns of load_dataset.
triggers::FeatureLayout layout_of(const config::PipelineOptions& pipeline) {
  triggers::FeatureLayout layout;
  for (const auto& f : pipeline.features)
    (f.type == config::FeatureType::kNumeric ? layout.numeric : layout.categorical)
        .push_back(f.name);
  return layout;
}

}  // namespace

LoopMetrics::LoopMetrics(metrics::Registry& registry)
    : scored_samples(registry.counter(
          "ctd_prequential_samples_total",
          "Labeled samples scored by the production model before any training used them.",
          {"pipeline"})),
      scored_errors(registry.counter(
          "ctd_prequential_errors_total",
          "Sum of the production model's prequential errors (misclassified samples, or absolute "
          "errors for regression); divided by ctd_prequential_samples_total, the error rate.",
          {"pipeline"})),
      scoring_failures(registry.counter(
          "ctd_prequential_failures_total",
          "Batches of labeled samples the production model could not score (they reach the "
          "triggers without errors).",
          {"pipeline"})),
      scoring_version(registry.gauge(
          "ctd_prequential_model_version",
          "The production version loaded for prequential scoring; 0 when none is loaded.",
          {"pipeline"})),
      triggers(registry) {}

PipelineManager::PipelineManager(const config::PipelineOptions& pipeline, std::string dsn,
                                 training::TrainingService& training, training::RunStore& runs,
                                 int retry_abandoned, promotion::PromotionService& promotion,
                                 registry::Registry& registry, LoopMetrics& metrics)
    : pipeline_(pipeline),
      dsn_(std::move(dsn)),
      training_(training),
      runs_(runs),
      retry_abandoned_(retry_abandoned),
      promotion_(promotion),
      registry_(registry),
      layout_(layout_of(pipeline)),
      scored_samples_(metrics.scored_samples.with({pipeline.name})),
      scored_errors_(metrics.scored_errors.with({pipeline.name})),
      scoring_failures_(metrics.scoring_failures.with({pipeline.name})),
      scoring_version_(metrics.scoring_version.with({pipeline.name})),
      evaluations_(metrics.triggers.evaluations),
      drift_export_(metrics.triggers, pipeline.name) {
  // From 0, so that a trigger's first evaluations are an increase rate() sees.
  for (const auto& t : pipeline.triggers.triggers)
    evaluations_.with({pipeline.name, t.name(), std::string(triggers::to_string(t.kind()))});
}

PipelineManager::~PipelineManager() {
  if (runner_.joinable()) runner_.join();
}

void PipelineManager::reset() {
  if (control_) control_->publish(false, false, nullptr);
  engine_.reset();
  held_.clear();
  connection_.reset();
  production_model_.reset();
  engine_version_.reset();
  scoring_version_.set(0);
  drift_export_.clear();  // the new leader exports them
}

void PipelineManager::start() {
  connection_ = std::make_unique<pg::PgConnection>(pg::with_liveness_checks(dsn_, 10));
  auto& c = *connection_;
  pipeline_id_ = static_cast<int>(
      c.exec("WITH ins AS (INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) DO NOTHING "
             "RETURNING pipeline_id) SELECT pipeline_id FROM ins UNION ALL SELECT pipeline_id "
             "FROM pipelines WHERE name = $1",
             {pipeline_.name})
          .integer(0, 0));
  const std::string id = std::to_string(pipeline_id_);

  // Schedules resume from their last recorded fire, so a missed slot fires once.
  triggers::ScheduleAnchors anchors;
  anchors.pipeline_start = clock_.now();
  const auto fires = c.exec(
      "SELECT trigger, (extract(epoch FROM max(fired_at)) * 1000)::bigint FROM trigger_events "
      "WHERE pipeline_id = $1 AND kind = 'schedule' GROUP BY trigger",
      {id});
  for (int i = 0; i < fires.rows(); ++i)
    anchors.last_fired[std::string(fires.text(i, 0))] = *time_of(fires, i, 1);
  auto built = triggers::build_triggers(pipeline_.triggers, anchors);
  if (!built) throw std::runtime_error("cannot build the triggers: " + built.error().message);

  // Rate limits hold across restarts: the last training's start and end, and the failures in
  // a row since the last success (abandoned runs are the daemon's fault, not the training's).
  triggers::EngineHistory history;
  const auto runs = c.exec(
      "SELECT (extract(epoch FROM max(created_at)) * 1000)::bigint, (extract(epoch FROM "
      "max(finished_at)) * 1000)::bigint, count(*) FILTER (WHERE status = 'failed' AND "
      "coalesce(failure_reason, '') NOT LIKE 'abandoned:%' AND run_id > coalesce((SELECT "
      "max(run_id) FROM "
      "training_runs WHERE pipeline_id = $1 AND status = 'succeeded'), 0)) FROM training_runs "
      "WHERE pipeline_id = $1",
      {id});
  history.last_training_started = time_of(runs, 0, 0);
  history.last_training_finished = time_of(runs, 0, 1);
  history.consecutive_failures = static_cast<int>(runs.integer(0, 2));
  auto engine = triggers::Engine::create(pipeline_.name, clock_, built.value().limits,
                                         std::move(built.value().triggers), history);
  if (!engine)
    throw std::runtime_error("cannot create the trigger engine: " + engine.error().message);
  engine_ = std::move(engine.value());
  engine_->set_evaluation_listener([this](const triggers::Trigger& trigger, const triggers::Fire*) {
    evaluations_.with({pipeline_.name, trigger.name(), std::string(trigger.kind())}).inc();
  });
  retry_abandoned();

  // New samples are counted from the end of the newest training's snapshot.
  const auto last = c.exec(
      "SELECT coalesce(max(s.seq_last), 0) FROM training_runs r JOIN snapshots s USING "
      "(snapshot_id) WHERE r.pipeline_id = $1",
      {id});
  last_seq_ = last.integer(0, 0);
  // ... or from where the events a previous leader held had got to, which they account for.
  last_seq_ = std::max<std::int64_t>(
      last_seq_, c.exec("SELECT coalesce(max(fed_seq), 0) FROM trigger_events WHERE "
                        "pipeline_id = $1 AND status = 'held'",
                        {id})
                     .integer(0, 0));
  last_inference_seq_ = std::max<std::int64_t>(
      0, c.exec("SELECT coalesce(max(seq), 0) FROM inferences WHERE pipeline_id = $1", {id})
                 .integer(0, 0) -
             kMaxSamplesPerStep);
  last_metric_seq_ =
      c.exec("SELECT coalesce(max(seq), 0) FROM metric_points WHERE pipeline_id = $1", {id})
          .integer(0, 0);
  scored_seq_ =
      c.exec("SELECT coalesce(max(seq_last), 0) FROM prequential_scores WHERE pipeline_id = $1",
             {id})
          .integer(0, 0);
  // Production moves before this leader took over were someone else's to report.
  alerted_history_id_ =
      c.exec(
           "SELECT coalesce(max(h.history_id), 0) FROM alias_history h JOIN models m USING "
           "(model_id) WHERE m.name = $1 AND h.alias = 'production'",
           {pipeline_.name})
          .integer(0, 0);
  production_model_ =
      std::make_unique<scoring::ProductionModel>(registry_, pipeline_.name, layout_);
  if (const auto production = registry_.production(pipeline_.name))
    promoted(production->version, std::nullopt);

  // Fires a previous leader held (rate limits, a training in flight) are held again here and
  // start a training once the restored limits allow.
  const auto held = c.exec(
      "SELECT event_id, trigger, kind, reason, evidence, (extract(epoch FROM fired_at) * "
      "1000)::bigint FROM trigger_events WHERE pipeline_id = $1 AND status = 'held' ORDER BY "
      "event_id",
      {id});
  std::vector<triggers::Fire> resumed;
  for (int i = 0; i < held.rows(); ++i) {
    triggers::Fire f{std::string(held.text(i, 1)), std::string(held.text(i, 2)),
                     std::string(held.text(i, 3)), nlohmann::json::parse(held.text(i, 4)),
                     *time_of(held, i, 5)};
    held_.push_back({held.integer(i, 0), f.trigger, f.at});
    resumed.push_back(std::move(f));
  }
  if (!resumed.empty()) {
    spdlog::info("{}: resuming {} held trigger event(s)", pipeline_.name, resumed.size());
    handle(engine_->resume_held(std::move(resumed)));
  }
  spdlog::info("{}: trigger engine started ({} trigger(s)); samples after seq {} count as new",
               pipeline_.name, pipeline_.triggers.triggers.size(), last_seq_);
}

void PipelineManager::retry_abandoned() {
  // A leader that took over from a daemon that died recovers that daemon's runs here (the
  // start-up recovery of a replica that was already running has not seen them).
  for (const std::int64_t run_id : runs_.recover_abandoned())
    spdlog::warn("training run {} was left unfinished by a stopped daemon; marked failed", run_id);
  const auto retried = connection_->exec(
      "UPDATE trigger_events e SET status = 'held', deferred_by = 'retry', run_id = NULL, "
      "abandoned_runs = e.abandoned_runs || e.run_id, updated_at = now() FROM training_runs r "
      "WHERE r.run_id = e.run_id AND e.pipeline_id = $1 AND e.status = 'started' AND r.status = "
      "'failed' AND r.failure_reason LIKE 'abandoned:%' AND e.attempts <= $2 AND NOT EXISTS "
      "(SELECT 1 FROM training_runs later WHERE later.pipeline_id = $1 AND later.run_id > "
      "r.run_id) RETURNING e.event_id, r.run_id, e.attempts",
      {std::to_string(pipeline_id_), std::to_string(retry_abandoned_)});
  for (int i = 0; i < retried.rows(); ++i)
    spdlog::warn(
        "{}: trigger event {} is retried: its training run {} was abandoned (attempt {} "
        "of {})",
        pipeline_.name, retried.integer(i, 0), retried.integer(i, 1), retried.integer(i, 2) + 1,
        retry_abandoned_ + 1);
}

void PipelineManager::promoted(int version, std::optional<triggers::TrainingOutcome> finished) {
  engine_version_ = version;
  const auto v = registry_.get(pipeline_.name, version);
  if (!v) {
    if (finished) handle(engine_->training_finished(*finished));
    return;
  }
  triggers::ModelContext model;
  model.version = v->version;
  model.training_rows = v->row_count;
  if (v->metrics.contains("validation"))
    for (const auto& [name, value] : v->metrics["validation"].items())
      if (value.is_number()) model.baseline_metrics[name] = value.get<double>();
  // In the units of the prequential errors (0/1 per sample), so a decay trigger can judge them
  // against the model's own validation: `baseline_metric: error_rate` (regression: `mae`).
  if (const auto accuracy = model.baseline_metrics.find("accuracy");
      accuracy != model.baseline_metrics.end())
    model.baseline_metrics.emplace("error_rate", 1.0 - accuracy->second);
  model.promoted_at = clock_.now();
  // The drift reference: the model's training samples (the newest 200,000 of its range).
  constexpr std::int64_t kMaxReferenceRows = 200'000;
  std::optional<OwnedBatch> reference;
  try {
    training::ResolvedSelection range{std::max(v->seq_first, v->seq_last - kMaxReferenceRows + 1),
                                      v->seq_last, std::nullopt, std::nullopt};
    reference.emplace(training::load_dataset(*connection_, pipeline_, pipeline_id_, range, {}));
    model.reference = &reference->view;
  } catch (const std::exception& e) {
    spdlog::warn("{}: no drift reference for version {}: {}", pipeline_.name, version, e.what());
  }
  handle(finished ? engine_->training_finished(*finished, &model)
                  : engine_->on_model_promoted(model));
}

void PipelineManager::step() {
  if (!engine_) start();
  finish_training();
  const scoring::RefreshResult production = production_model_->refresh();
  const auto loaded = production_model_->current();
  scoring_version_.set(loaded ? loaded->version : 0);
  // Production moved by someone else (`ctd registry promote` or `rollback`, `ctd train`, a
  // guardrail's rollback): the triggers get the new model as their reference and baseline. A
  // training of the loop's own reports its promotion when it finishes (finish_training).
  if (production.version && production.version != engine_version_ &&
      !engine_->training_in_flight()) {
    spdlog::info("{}: production is now version {} (changed outside the loop)", pipeline_.name,
                 *production.version);
    promoted(*production.version, std::nullopt);
  }
  alert_production_moves();
  const bool paused = serve_control();
  if (!paused) {  // paused: the triggers wait (manual requests were served)
    feed_samples();
    if (pipeline_.topics.inferences) feed_inferences();
    if (pipeline_.topics.metrics) feed_metrics();
    handle(engine_->tick());
  }
  // The round's state, once: for the API and for the drift metrics.
  nlohmann::json state = engine_->describe();
  drift_export_.update(state);
  if (control_) control_->publish(true, paused, std::move(state));
}

void PipelineManager::feed_inferences() {
  for (std::int64_t fed = 0; fed < kMaxSamplesPerStep;) {
    training::DatasetSelection s;
    s.inferences = true;
    s.seq_first = last_inference_seq_ + 1;
    s.seq_last = last_inference_seq_ + std::min<std::int64_t>(10'000, kMaxSamplesPerStep - fed);
    const auto range = training::resolve_selection(*connection_, pipeline_id_, s);
    if (!range) return;
    const trainers::Dataset data =
        training::load_dataset(*connection_, pipeline_, pipeline_id_, *range, {});
    OwnedBatch batch(data);
    triggers::InferenceBatch inferences;
    inferences.features = batch.view;
    inferences.at = clock_.now();
    last_inference_seq_ = range->seq_last;
    fed += static_cast<std::int64_t>(data.rows());
    handle(engine_->on_inferences(inferences));
  }
}

void PipelineManager::feed_metrics() {
  const auto r = connection_->exec(
      "SELECT seq, model, model_version, metric, value, coalesce(sample_count, -1), "
      "(extract(epoch FROM event_time) * 1000)::bigint FROM metric_points WHERE pipeline_id = "
      "$1 AND seq > $2 ORDER BY seq LIMIT 10000",
      {std::to_string(pipeline_id_), std::to_string(last_metric_seq_)});
  for (int i = 0; i < r.rows(); ++i) {
    const std::string model(r.text(i, 1)), name(r.text(i, 3));
    triggers::MetricPoint point;
    point.model = model;
    point.version = r.integer(i, 2);
    point.name = name;
    point.value = std::stod(std::string(r.text(i, 4)));
    point.count = r.integer(i, 5);
    point.event_time = TimePoint(std::chrono::milliseconds(r.integer(i, 6)));
    last_metric_seq_ = r.integer(i, 0);
    handle(engine_->on_metric(point));
  }
}

void PipelineManager::feed_samples() {
  for (std::int64_t fed = 0; fed < kMaxSamplesPerStep;) {
    training::DatasetSelection s;
    s.seq_first = last_seq_ + 1;
    s.seq_last = last_seq_ + std::min<std::int64_t>(10'000, kMaxSamplesPerStep - fed);
    const auto range = training::resolve_selection(*connection_, pipeline_id_, s);
    if (!range) return;
    const trainers::Dataset data =
        training::load_dataset(*connection_, pipeline_, pipeline_id_, *range, {});
    OwnedBatch batch(data);
    const std::vector<double> errors = score(data, batch.view);
    triggers::LabeledBatch labeled;
    labeled.first_seq = range->seq_first;
    labeled.features = batch.view;
    labeled.labels = batch.labels;
    labeled.errors = errors;
    labeled.at = clock_.now();
    last_seq_ = range->seq_last;
    fed += static_cast<std::int64_t>(data.rows());
    handle(engine_->on_labels(labeled));
  }
}

std::vector<double> PipelineManager::score(const trainers::Dataset& data,
                                           const triggers::FeatureBatchView& view) {
  const auto model = production_model_->current();
  if (!model || data.rows() == 0) return {};
  std::vector<double> errors;
  try {
    const std::vector<double> labels(data.labels.begin(), data.labels.end());
    errors = model->scorer.score(view, labels).errors;
  } catch (const scoring::ScoringError& e) {
    scoring_failures_.inc();
    spdlog::warn("{}: production version {} cannot score samples {}..{}: {}", pipeline_.name,
                 model->version, data.seqs.front(), data.seqs.back(), e.what());
    return {};
  }
  double sum = 0;
  for (double e : errors) sum += e;
  scored_samples_.inc(static_cast<double>(errors.size()));
  scored_errors_.inc(sum);
  store_scores(data, errors, model->version);
  return errors;
}

void PipelineManager::store_scores(const trainers::Dataset& data, const std::vector<double>& errors,
                                   int version) {
  // Windows cut at multiples of kScoreWindow; samples stored before (a restart re-feeds the
  // samples after the newest training) are not stored again.
  std::string rows;
  std::size_t i = 0;
  while (i < errors.size()) {
    const std::int64_t window = (data.seqs[i] - 1) / kScoreWindow;
    std::size_t end = i, samples = 0;
    double sum = 0;
    std::int64_t first = 0, last = 0;
    for (; end < errors.size() && (data.seqs[end] - 1) / kScoreWindow == window; ++end) {
      if (data.seqs[end] <= scored_seq_) continue;
      if (samples++ == 0) first = data.seqs[end];
      last = data.seqs[end];
      sum += errors[end];
    }
    i = end;
    if (samples == 0) continue;
    rows += fmt::format("{}({},{},{},{},{},{:.17g})", rows.empty() ? "" : ",", pipeline_id_, first,
                        last, version, samples, sum);
    scored_seq_ = last;
  }
  if (rows.empty()) return;
  // A window the previous round began is continued in a row of its own (a later seq_first).
  connection_->exec(
      "INSERT INTO prequential_scores (pipeline_id, seq_first, seq_last, version, model, "
      "samples, error_sum) SELECT v.p, v.f, v.l, v.v, $1, v.n, v.e FROM (VALUES " +
          rows + ") AS v(p, f, l, v, n, e) ON CONFLICT DO NOTHING",
      {pipeline_.name});
}

std::vector<std::int64_t> PipelineManager::record(const std::vector<triggers::Fire>& fires,
                                                  const std::string& status,
                                                  std::optional<std::string> deferred_by,
                                                  std::optional<std::int64_t> run_id) {
  std::vector<std::int64_t> ids;
  for (const auto& f : fires) {
    // A fire held earlier already has its row: it moves on instead of being written again.
    const auto held = std::find_if(held_.begin(), held_.end(), [&](const Held& h) {
      return h.trigger == f.trigger && h.at == f.at;
    });
    if (held != held_.end()) {
      connection_->exec(
          "UPDATE trigger_events SET status = $2, deferred_by = $3, run_id = $4, attempts = "
          "attempts + (CASE WHEN $2 = 'started' THEN 1 ELSE 0 END), updated_at = now() WHERE "
          "event_id = $1",
          {std::to_string(held->event_id), status, deferred_by,
           run_id ? pg::Param(std::to_string(*run_id)) : std::nullopt});
      ids.push_back(held->event_id);
      if (status != "held") held_.erase(held);
      continue;
    }
    const std::int64_t event_id =
        connection_
            ->exec(
                "INSERT INTO trigger_events (pipeline_id, trigger, kind, reason, evidence, "
                "fired_at, status, deferred_by, run_id, fed_seq, attempts) VALUES ($1, $2, $3, "
                "$4, $5::jsonb, to_timestamp($6::bigint / 1000.0), $7, $8, $9, $10, CASE WHEN "
                "$7 = 'started' THEN 1 ELSE 0 END) RETURNING event_id",
                {std::to_string(pipeline_id_), f.trigger, f.kind, f.reason,
                 f.evidence.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                 epoch_ms(f.at), status, deferred_by,
                 run_id ? pg::Param(std::to_string(*run_id)) : std::nullopt,
                 std::to_string(last_seq_)})
            .integer(0, 0);
    ids.push_back(event_id);
    if (status == "held") held_.push_back({event_id, f.trigger, f.at});
    alert("CtdTriggerFired", "info",
          {{"trigger", f.trigger}, {"kind", f.kind}, {"event_id", std::to_string(event_id)}},
          fmt::format("trigger {} fired: {}", f.trigger, f.reason),
          status == "held" ? "held: " + deferred_by.value_or("deferred") : "training started");
  }
  return ids;
}

void PipelineManager::handle(const triggers::Decision& d) {
  if (!d.superseded.empty()) record(d.superseded, "superseded", std::nullopt, std::nullopt);
  if (d.kind == triggers::DecisionKind::kDeferred && !d.fires.empty()) {
    record(d.fires, "held",
           d.deferred_by ? std::optional<std::string>(triggers::to_string(*d.deferred_by))
                         : std::nullopt,
           std::nullopt);
    for (const auto& f : d.fires)
      spdlog::info("{}: trigger {} fired ({}); held: {}", pipeline_.name, f.trigger, f.reason,
                   d.deferred_by ? triggers::to_string(*d.deferred_by) : "deferred");
  }
  if (d.start_training()) start_training(d);
}

void PipelineManager::start_training(const triggers::Decision& d) {
  training::RunRequest request;
  request.pipeline = pipeline_;
  request.spec = pipeline_.training;
  request.selection = training::dataset_selection(pipeline_);
  request.selection.seq_last =
      promotion::training_seq_last(*connection_, pipeline_id_, pipeline_.promotion);
  std::string reasons;
  nlohmann::json fires = nlohmann::json::array();
  for (const auto& f : d.fires) {
    reasons += (reasons.empty() ? "" : "; ") + f.trigger + ": " + f.reason;
    fires.push_back({{"trigger", f.trigger},
                     {"kind", f.kind},
                     {"reason", f.reason},
                     {"evidence", f.evidence},
                     {"at", triggers::format_utc(f.at)}});
  }
  request.reason = "trigger: " + reasons;
  // A person's request (a manual fire) names who asked; the triggers' own fires are ctd's.
  request.requested_by = "ctd";
  for (const auto& f : d.fires) {
    if (f.kind != "manual" || !f.evidence.contains("requests")) continue;
    for (const auto& r : f.evidence["requests"])
      if (r.contains("requested_by") && r["requested_by"].is_string())
        request.requested_by = r["requested_by"].get<std::string>();
    break;
  }
  std::optional<int> parent;
  if (request.spec.init == trainers::InitKind::kProduction) {
    if (const auto production = registry_.production(pipeline_.name)) {
      request.warm_start = training::WarmStart{registry_.verified_artifact(*production),
                                               promotion::vocabularies_of(production->manifest)};
      parent = production->version;
    } else {
      request.spec.init = trainers::InitKind::kScratch;
    }
  }
  if (runner_.joinable()) runner_.join();  // the previous one has reported (finish_training)
  std::int64_t run_id = 0;
  try {
    run_id = training_.start(request);
  } catch (const std::exception& e) {
    spdlog::error("{}: cannot start a training run: {}", pipeline_.name, e.what());
    alert("CtdTrainingFailed", "warning", {}, "a training run could not be started", e.what());
    handle(engine_->training_finished(triggers::TrainingOutcome::kFailed));
    return;
  }
  const auto ids = record(d.fires, "started", std::nullopt, run_id);
  spdlog::info("{}: training run {} started by {}", pipeline_.name, run_id, request.reason);
  const nlohmann::json trigger = {{"fires", fires}, {"event_ids", ids}};
  const std::optional<std::int64_t> event_id =
      ids.empty() ? std::nullopt : std::optional<std::int64_t>(ids.front());
  runner_done_ = false;
  runner_ = std::thread([this, run_id, trigger, parent, event_id] {
    Finished finished;
    finished.run_id = run_id;
    try {
      const training::RunResult result = training_.wait(run_id);
      if (result.state == training::RunState::kSucceeded) {
        finished.outcome = triggers::TrainingOutcome::kSucceeded;
        const auto o = promotion_.consider_run(pipeline_, run_id, trigger, parent, event_id);
        spdlog::info("{}: version {} {}: {}", pipeline_.name, o.version,
                     promotion::verdict_name(o.verdict), o.reason);
        if (o.verdict == promotion::Verdict::kPromoted) finished.promoted_version = o.version;
        if (o.verdict == promotion::Verdict::kRejected) {
          finished.rejected_version = o.version;
          finished.rejection = o.reason;
        }
      } else {
        finished.outcome = result.state == training::RunState::kCancelled
                               ? triggers::TrainingOutcome::kCancelled
                               : triggers::TrainingOutcome::kFailed;
        finished.failure = result.failure_reason;
        spdlog::warn("{}: training run {} {}: {}", pipeline_.name, run_id,
                     training::run_state_name(result.state), result.failure_reason);
      }
    } catch (const std::exception& e) {
      finished.failure = e.what();
      spdlog::error("{}: training run {} could not be completed: {}", pipeline_.name, run_id,
                    e.what());
    }
    std::lock_guard lock(mutex_);
    finished_ = finished;
    runner_done_ = true;
  });
}

void PipelineManager::finish_training() {
  std::optional<Finished> finished;
  {
    std::lock_guard lock(mutex_);
    finished.swap(finished_);
  }
  if (!finished) return;
  if (runner_.joinable()) runner_.join();
  alert_finished(*finished);
  if (finished->promoted_version)
    promoted(*finished->promoted_version, finished->outcome);  // the triggers' new model
  else
    handle(engine_->training_finished(finished->outcome));
}

void PipelineManager::alert(std::string name, std::string severity,
                            std::map<std::string, std::string> labels, std::string summary,
                            std::string description) {
  if (notifier_ == nullptr) return;
  labels["pipeline"] = pipeline_.name;
  notifier_->notify(alerts::event(std::move(name), std::move(severity), std::move(labels),
                                  std::move(summary), std::move(description), alerts::Clock::now(),
                                  event_ttl_));
}

void PipelineManager::alert_finished(const Finished& finished) {
  const std::string run = std::to_string(finished.run_id);
  if (finished.outcome == triggers::TrainingOutcome::kFailed) {
    alert("CtdTrainingFailed", "warning", {{"run_id", run}},
          fmt::format("training run {} failed; production is unchanged", run), finished.failure);
  }
  if (finished.rejected_version) {
    alert("CtdCandidateRejected", "warning",
          {{"run_id", run}, {"version", std::to_string(*finished.rejected_version)}},
          fmt::format("candidate version {} was rejected by the promotion gate",
                      *finished.rejected_version),
          finished.rejection);
  }
}

void PipelineManager::alert_production_moves() {
  if (notifier_ == nullptr) return;
  const auto moves = connection_->exec(
      "SELECT h.history_id, h.kind, h.from_version, h.to_version, h.actor, h.reason FROM "
      "alias_history h JOIN models m USING (model_id) WHERE m.name = $1 AND h.alias = "
      "'production' AND h.history_id > $2 ORDER BY h.history_id",
      {pipeline_.name, std::to_string(alerted_history_id_)});
  for (int i = 0; i < moves.rows(); ++i) {
    alerted_history_id_ = moves.integer(i, 0);
    const bool rollback = moves.text(i, 1) == "rollback";
    const std::string from = moves.is_null(i, 2) ? "none" : "v" + std::string(moves.text(i, 2));
    const std::string to = moves.is_null(i, 3) ? "none" : "v" + std::string(moves.text(i, 3));
    alert(rollback ? "CtdModelRolledBack" : "CtdModelPromoted", rollback ? "warning" : "info",
          {{"version", std::string(moves.text(i, 3))}, {"actor", std::string(moves.text(i, 4))}},
          fmt::format("production {} from {} to {} by {}", rollback ? "rolled back" : "moved", from,
                      to, moves.text(i, 4)),
          std::string(moves.text(i, 5)));
  }
}

}  // namespace ctd::loop

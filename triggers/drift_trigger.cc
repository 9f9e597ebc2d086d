#include "triggers/drift_trigger.h"

#include <cstdio>

namespace ctd::triggers {
namespace {

std::string_view to_string(DriftSource source) {
  return source == DriftSource::kInferences ? "inferences" : "labels";
}

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f%%", share * 100);
  return text;
}

// Each feature's decision in a check: what describe() keeps of it (the full statistics are in
// a fire's evidence).
nlohmann::json feature_summaries(const drift::DriftReport& report) {
  nlohmann::json features = nlohmann::json::array();
  for (const drift::FeatureDrift& f : report.features) {
    features.push_back({{"feature", f.feature},
                        {"metric", drift::to_string(f.metric)},
                        {"evaluated", f.evaluated},
                        {"value", f.value},
                        {"threshold", f.threshold},
                        {"drifted", f.drifted}});
  }
  return features;
}

}  // namespace

std::string validate(const DriftTriggerOptions& options) {
  if (options.name.empty()) return "drift trigger: name is empty";
  if (options.refit_after_samples < 0) {
    return "drift trigger " + options.name + ": refit_after_samples must be >= 0";
  }
  for (const std::string& problem :
       {drift::validate(options.summary), drift::validate(options.window),
        drift::validate(options.decision)}) {
    if (!problem.empty()) return "drift trigger " + options.name + ": " + problem;
  }
  std::vector<std::string> unknown;
  const drift::FeatureColumns columns =
      drift::FeatureColumns::select(options.layout, options.features, &unknown);
  if (!unknown.empty()) {
    return "drift trigger " + options.name + ": unknown feature '" + unknown.front() + "'";
  }
  if (columns.size() == 0) return "drift trigger " + options.name + ": no features to watch";
  return {};
}

std::variant<std::unique_ptr<DriftTrigger>, std::string> DriftTrigger::create(
    DriftTriggerOptions options) {
  const std::string problem = validate(options);
  if (!problem.empty()) return problem;
  drift::FeatureColumns columns =
      drift::FeatureColumns::select(options.layout, options.features, nullptr);
  // An exact KS test compares the window's sample with the reference's.
  if (options.window.ks_sample > 0) options.summary.keep_sample = true;
  return std::unique_ptr<DriftTrigger>(new DriftTrigger(std::move(options), std::move(columns)));
}

DriftTrigger::DriftTrigger(DriftTriggerOptions options, drift::FeatureColumns columns)
    : options_(std::move(options)),
      columns_(std::move(columns)),
      refit_(options_.refit_after_samples) {}

void DriftTrigger::on_model_promoted(const ModelContext& model) {
  window_.reset();
  pending_.reset();
  model_version_ = model.version;
  refit_.promoted(model.version);  // the countdown itself survives the promotion
  const FeatureBatchView* snapshot = model.reference;
  if (snapshot == nullptr || snapshot->rows == 0 ||
      snapshot->numeric_width != options_.layout.numeric.size() ||
      snapshot->categorical_width != options_.layout.categorical.size()) {
    reference_.reset();  // no usable reference: warming up until a model brings one
    return;
  }
  reference_ = std::make_unique<const drift::ReferenceSummary>(
      drift::build_reference(*snapshot, columns_, options_.summary));
  reference_rows_ = static_cast<std::int64_t>(snapshot->rows);
  window_.emplace(options_.window, *reference_);
  history_.reset(columns_.size());
}

void DriftTrigger::on_labels(const LabeledBatch& batch) {
  refit_.labels(batch);
  if (options_.source != DriftSource::kLabels) return;
  feed(batch.features, batch.first_seq, batch.at);
}

void DriftTrigger::on_inferences(const InferenceBatch& batch) {
  const std::int64_t first_row = inference_rows_;
  inference_rows_ += static_cast<std::int64_t>(batch.features.rows);
  if (options_.source != DriftSource::kInferences) return;
  feed(batch.features, first_row, batch.at);
}

void DriftTrigger::feed(const FeatureBatchView& batch, std::int64_t first_row, TimePoint at) {
  if (reference_ == nullptr) return;
  if (batch.numeric_width != options_.layout.numeric.size() ||
      batch.categorical_width != options_.layout.categorical.size()) {
    ++rejected_batches_;
    return;
  }
  std::size_t row = 0;
  while (row < batch.rows) {
    row = window_->add(batch, row, first_row, at);
    if (window_->complete()) run_check();
  }
}

void DriftTrigger::run_check() {
  const drift::FeatureCounts counts = window_->counts();
  const drift::WindowBounds bounds = window_->bounds();
  const std::vector<std::vector<double>> samples = window_->ks_samples();
  window_->advance();
  const drift::DriftReport report =
      drift::check(*reference_, counts, options_.decision, &history_,
                   drift::KsSamples{samples.empty() ? nullptr : &samples});
  ++checks_;
  last_check_ = {{"window", drift::to_json(bounds)},
                 {"drifted", report.dataset.drifted},
                 {"drifted_features", report.dataset.drifted_features},
                 {"evaluated_features", report.dataset.evaluated_features},
                 {"share", report.dataset.share},
                 {"features", feature_summaries(report)}};
  if (!report.dataset.drifted) return;
  Fire fire;
  fire.trigger = options_.name;
  fire.kind = "drift";
  fire.reason = "drift: " + std::to_string(report.dataset.drifted_features) + " of " +
                std::to_string(report.dataset.evaluated_features) + " features drifted (" +
                percent(report.dataset.share) + ") in rows " + std::to_string(bounds.first_row) +
                ".." + std::to_string(bounds.last_row) + " against model " +
                std::to_string(model_version_);
  fire.evidence = evidence(report, bounds);
  fire.at = bounds.last_at;
  pending_ = std::move(fire);  // a newer drifted window replaces an unconsumed older one
}

nlohmann::json DriftTrigger::evidence(const drift::DriftReport& report,
                                      const drift::WindowBounds& bounds) const {
  nlohmann::json out = drift::to_json(report);
  out["trigger"] = options_.name;
  out["source"] = to_string(options_.source);
  nlohmann::json window = drift::to_json(bounds);
  window["kind"] = options_.window.kind == drift::WindowKind::kTumbling ? "tumbling" : "sliding";
  if (options_.window.duration.count() > 0) {
    window["duration_ms"] = options_.window.duration.count();
  } else {
    window["size"] = options_.window.size;
  }
  if (options_.window.kind == drift::WindowKind::kSliding) window["panes"] = options_.window.panes;
  out["window"] = window;
  out["reference"] = {{"model_version", model_version_}, {"rows", reference_rows_}};
  return out;
}

std::optional<Fire> DriftTrigger::evaluate(TimePoint now) {
  // A time-based window whose period has ended is checked even if no later batch came.
  if (window_ && window_->close_if_ended(now)) run_check();
  if (!pending_) return refit_.take(options_.name, "drift", now);
  Fire fire = std::move(*pending_);
  pending_.reset();
  fire.at = now;
  ++fires_;
  if (refit_.pending()) {  // the new detection's training answers the refit too
    refit_.drop_pending();
    fire.evidence["replaces_refit"] = true;
  }
  refit_.fired(fire);
  return fire;
}

nlohmann::json DriftTrigger::describe() const {
  nlohmann::json out = {{"ready", ready()},
                        {"source", to_string(options_.source)},
                        {"model_version", model_version_},
                        {"checks", checks_},
                        {"fires", fires_},
                        {"pending", pending_.has_value()},
                        {"rejected_batches", rejected_batches_},
                        {"features", columns_.size()}};
  if (reference_ == nullptr) out["waiting_for"] = "a promoted model with a reference snapshot";
  if (window_) out["window_rows"] = window_->rows();
  if (!last_check_.is_null()) out["last_check"] = last_check_;
  if (refit_.enabled()) out["refit"] = refit_.describe();
  return out;
}

}  // namespace ctd::triggers

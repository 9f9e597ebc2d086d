#include "bench/scenario/runner.h"

#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "daemon/prequential_scorer.h"
#include "triggers/factory.h"

namespace ctd::bench {
namespace {

using triggers::Decision;
using triggers::TimePoint;

constexpr std::size_t kReasonsKept = 6;
const TimePoint kEpoch = TimePoint{} + std::chrono::hours(24 * 20454);  // 2026-01-01

TimePoint time_of(std::int64_t sample) { return kEpoch + std::chrono::seconds(sample); }

class Walker {
 public:
  Walker(const StreamData& data, const PolicySpec& policy, Trainer& trainer,
         const WalkOptions& options)
      : data_(data),
        policy_(policy),
        trainer_(trainer),
        options_(options),
        clock_(time_of(options.train_window)) {}

  WalkResult run() {
    const auto started = std::chrono::steady_clock::now();
    build_engine();
    result_.prequential.first = options_.train_window;
    promote(trainer_.train(data_, 0, options_.train_window), options_.train_window, false);
    for (std::int64_t at = options_.train_window; at < data_.rows(); at += options_.batch)
      step(at, std::min(at + options_.batch, data_.rows()));
    result_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return std::move(result_);
  }

 private:
  void build_engine() {
    triggers::ScheduleAnchors anchors{.pipeline_start = clock_.now(), .last_fired = {}};
    auto built = triggers::build_triggers(policy_.engine, anchors);
    if (!built) throw std::runtime_error(policy_.name + ": " + built.error().message);
    auto engine = triggers::Engine::create(policy_.name, clock_, built.value().limits,
                                           std::move(built.value().triggers));
    if (!engine) throw std::runtime_error(policy_.name + ": " + engine.error().message);
    engine_ = std::move(engine.value());
  }

  // Puts `model`, trained on the rows up to `end`, in production; returns the engine's answer
  // (training_finished when a training produced it, else on_model_promoted).
  Decision promote(const TrainedModel& model, std::int64_t end, bool finished_training) {
    scorer_ = std::make_unique<scoring::PrequentialScorer>(model.model, data_.layout,
                                                           scoring::ScorerOptions{.threads = 1});
    triggers::ModelContext context;
    context.version = ++version_;
    context.training_rows = model.rows;
    for (const auto& [key, value] : model.validation.items())
      if (value.is_number()) context.baseline_metrics[key] = value.get<double>();
    const triggers::FeatureBatchView reference = data_.view(end - model.rows, end);
    context.reference = &reference;
    context.promoted_at = clock_.now();
    return finished_training
               ? engine_->training_finished(triggers::TrainingOutcome::kSucceeded, &context)
               : engine_->on_model_promoted(context);
  }

  void step(std::int64_t from, std::int64_t to) {
    const triggers::FeatureBatchView features = data_.view(from, to);
    const std::span<const double> labels = data_.labels_of(from, to);
    const scoring::Scores scores = scorer_->score(features, labels);
    std::int64_t right = 0;
    for (double error : scores.errors) {
      const bool correct = error == 0;
      result_.prequential.correct.push_back(correct ? 1 : 0);
      right += correct ? 1 : 0;
    }
    clock_.set(time_of(to));
    triggers::LabeledBatch batch{.first_seq = from,
                                 .features = features,
                                 .labels = labels,
                                 .errors = scores.errors,
                                 .at = clock_.now()};
    handle(engine_->on_labels(batch), to);
    if (!options_.accuracy_metric) return;
    triggers::MetricPoint point{
        .model = policy_.name,
        .version = version_,
        .name = "accuracy",
        .value = static_cast<double>(right) / static_cast<double>(to - from),
        .count = to - from,
        .event_time = clock_.now()};
    handle(engine_->on_metric(point), to);
  }

  // Acts on a decision at stream position `at`, and on the decisions training_finished returns.
  void handle(Decision decision, std::int64_t at) {
    while (decision.start_training()) {
      result_.training_starts.push_back(at);
      result_.fires += static_cast<std::int64_t>(decision.fires.size()) + decision.omitted_fires;
      for (const triggers::Fire& fire : decision.fires)
        if (result_.reasons.size() < kReasonsKept) {
          std::ostringstream line;  // (not operator+: GCC 12's -Wrestrict false positive)
          line << "@" << at << " " << fire.trigger << ": " << fire.reason;
          result_.reasons.push_back(line.str());
        }
      // Without retraining (stable streams), or at the stream's end where no sample is left
      // for a new model to score, the start is counted and answered without a new model.
      if (!options_.retrain || at >= data_.rows()) {
        decision = engine_->training_finished(triggers::TrainingOutcome::kSucceeded);
        continue;
      }
      const std::int64_t from = std::max<std::int64_t>(0, at - options_.train_window);
      decision = promote(trainer_.train(data_, from, at), at, true);
    }
  }

  const StreamData& data_;
  const PolicySpec& policy_;
  Trainer& trainer_;
  const WalkOptions& options_;
  triggers::ManualClock clock_;
  std::unique_ptr<triggers::Engine> engine_;
  std::unique_ptr<scoring::PrequentialScorer> scorer_;
  std::int64_t version_ = 0;
  WalkResult result_;
};

}  // namespace

WalkResult walk(const StreamData& data, const PolicySpec& policy, Trainer& trainer,
                const WalkOptions& options) {
  return Walker(data, policy, trainer, options).run();
}

}  // namespace ctd::bench

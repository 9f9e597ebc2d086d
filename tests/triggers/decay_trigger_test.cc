#include "triggers/decay_trigger.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/triggers/test_events.h"
#include "tests/triggers/test_time.h"

namespace ctd::triggers {
namespace {

using std::chrono::minutes;
using testing::metric;
using testing::model;
using testing::OwnedLabels;
using testing::utc;

const TimePoint kStart = utc(2026, 11, 22, 8);

// `count` errors, `wrong` of them 1 (spread evenly), starting at sequence `first_seq`.
OwnedLabels errors_with_rate(std::int64_t first_seq, int count, int wrong, TimePoint at = kStart) {
  std::vector<double> errors(count, 0.0);
  for (int i = 0; i < wrong; ++i) errors[i * count / wrong] = 1.0;
  return OwnedLabels(first_seq, std::move(errors), at);
}

DecayOptions options(std::string name, DecayCriterion criterion) {
  DecayOptions o;
  o.name = std::move(name);
  o.criterion = criterion;
  return o;
}

std::unique_ptr<DecayTrigger> make(const DecayOptions& o) {
  auto created = DecayTrigger::create(o);
  EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
  return std::move(created).value();
}

TEST(DecayTrigger, StaticThresholdOnPrequentialErrorWindows) {
  DecayOptions o = options("error-rate", DecayCriterion::kStaticThreshold);
  o.window_samples = 100;
  o.threshold = 0.2;
  auto trigger = make(o);
  EXPECT_FALSE(trigger->ready());
  trigger->on_labels(*errors_with_rate(1, 100, 50));  // no model yet: ignored
  trigger->on_model_promoted(model(4, 10'000));
  EXPECT_TRUE(trigger->ready());
  trigger->on_labels(*errors_with_rate(101, 100, 10));
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*errors_with_rate(201, 60, 18));
  EXPECT_FALSE(trigger->evaluate(kStart));  // window still open
  trigger->on_labels(*errors_with_rate(261, 40, 12));
  std::optional<Fire> fire = trigger->evaluate(kStart + minutes(1));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->kind, "decay");
  EXPECT_DOUBLE_EQ(fire->evidence["value"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(fire->evidence["threshold"].get<double>(), 0.2);
  EXPECT_EQ(fire->evidence["statistic"], "window_mean_prequential_error");
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 201);
  EXPECT_EQ(fire->evidence["window"]["last_seq"], 300);
  EXPECT_EQ(fire->evidence["window"]["values"], 100);
  EXPECT_EQ(fire->evidence["model_version"], 4);
  EXPECT_EQ(fire->reason, "window_mean_prequential_error = 0.3 > 0.2 (static_threshold)");
  // Consumed: no second fire for the same window; a new bad window fires again.
  EXPECT_FALSE(trigger->evaluate(kStart + minutes(1)));
  trigger->on_labels(*errors_with_rate(301, 100, 40));
  fire = trigger->evaluate(kStart + minutes(2));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 301);
  // A training start discards the open window: evidence after it is fresh.
  trigger->on_labels(*errors_with_rate(401, 50, 50));
  trigger->on_training_started(kStart + minutes(3));
  trigger->on_labels(*errors_with_rate(451, 50, 0));
  EXPECT_FALSE(trigger->evaluate(kStart + minutes(3)));
  trigger->on_labels(*errors_with_rate(501, 50, 50));  // window 451-550: 0.5
  fire = trigger->evaluate(kStart + minutes(4));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 451);
}

TEST(DecayTrigger, BaselineDropFromPromotionMetrics) {
  DecayOptions o = options("accuracy-drop", DecayCriterion::kBaselineDrop);
  o.signal = DecaySignal::kMetric;
  o.metric = "accuracy";
  o.higher_is_better = true;
  o.baseline_metric = "accuracy";
  o.drop = 0.05;
  auto trigger = make(o);
  trigger->on_model_promoted(model(7, 1000, {{"accuracy", 0.9}}));
  ASSERT_TRUE(trigger->ready());
  trigger->on_metric(metric("accuracy", 0.86, kStart, 7));
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_metric(metric("latency", 0.1, kStart, 7));   // another metric
  trigger->on_metric(metric("accuracy", 0.5, kStart, 6));  // another model version
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_metric(metric("accuracy", 0.84, kStart + minutes(5)));  // no version: counts
  std::optional<Fire> fire = trigger->evaluate(kStart + minutes(5));
  ASSERT_TRUE(fire);
  EXPECT_DOUBLE_EQ(fire->evidence["baseline"].get<double>(), 0.9);
  EXPECT_EQ(fire->evidence["baseline_source"], "baseline_metrics.accuracy");
  EXPECT_NEAR(fire->evidence["threshold"].get<double>(), 0.85, 1e-12);
  EXPECT_NEAR(fire->evidence["degradation"].get<double>(), 0.06, 1e-12);
  EXPECT_EQ(fire->evidence["window"]["first_at"], "2026-11-22T08:05:00Z");
}

TEST(DecayTrigger, RelativeDropAgainstTheFirstWindowWhenNoBaselineMetric) {
  DecayOptions o = options("ctr-drop", DecayCriterion::kBaselineDrop);
  o.signal = DecaySignal::kMetric;
  o.metric = "ctr";
  o.higher_is_better = true;
  o.window_points = 2;
  o.drop = 0.2;
  o.drop_mode = DropMode::kRelative;
  auto trigger = make(o);
  trigger->on_model_promoted(model(1, 1000, {{"auc", 0.8}}));
  EXPECT_FALSE(trigger->ready());  // baseline not known yet
  // First window, weighted by count: (0.06 * 100 + 0.04 * 300) / 400 = 0.045.
  trigger->on_metric(metric("ctr", 0.06, kStart, -1, 100));
  trigger->on_metric(metric("ctr", 0.04, kStart, -1, 300));
  ASSERT_TRUE(trigger->ready());
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_NEAR(trigger->describe()["baseline"].get<double>(), 0.045, 1e-12);
  trigger->on_metric(metric("ctr", 0.037, kStart));
  trigger->on_metric(metric("ctr", 0.037, kStart));  // 0.037 > 0.036 = 0.045 * 0.8
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_metric(metric("ctr", 0.035, kStart));
  trigger->on_metric(metric("ctr", 0.035, kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["baseline_source"], "first_window");
  EXPECT_NEAR(fire->evidence["threshold"].get<double>(), 0.036, 1e-12);
  // A new model brings a new baseline: warming up again.
  trigger->on_model_promoted(model(2, 2000));
  EXPECT_FALSE(trigger->ready());
}

TEST(DecayTrigger, QuantileOfPastWindows) {
  DecayOptions o = options("p90", DecayCriterion::kQuantile);
  o.window_samples = 50;
  o.history = 10;
  o.min_history = 5;
  o.quantile = 0.9;
  auto trigger = make(o);
  trigger->on_model_promoted(model(1, 1000));
  // Past windows: 0.06, 0.08, 0.10, 0.12, 0.14 -> 90th percentile (type 7) = 0.132.
  std::int64_t seq = 1;
  for (int wrong : {3, 4, 5, 6, 7}) {
    EXPECT_FALSE(trigger->ready());
    trigger->on_labels(*errors_with_rate(seq, 50, wrong));
    seq += 50;
  }
  ASSERT_TRUE(trigger->ready());
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*errors_with_rate(seq, 50, 7));  // 0.14 > 0.132
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_NEAR(fire->evidence["threshold"].get<double>(), 0.132, 1e-12);
  EXPECT_DOUBLE_EQ(fire->evidence["quantile"].get<double>(), 0.9);
  EXPECT_EQ(fire->evidence["history_windows"], 5);
}

TEST(DecayTrigger, RollingAverageBand) {
  DecayOptions o = options("rolling", DecayCriterion::kRollingAverage);
  o.signal = DecaySignal::kMetric;
  o.metric = "accuracy";
  o.higher_is_better = true;
  o.history = 4;
  o.min_history = 4;
  o.sigmas = 2;
  o.margin = 0.01;
  auto trigger = make(o);
  trigger->on_model_promoted(model(1, 1000));
  for (double v : {0.90, 0.92, 0.90, 0.92}) trigger->on_metric(metric("accuracy", v, kStart));
  ASSERT_TRUE(trigger->ready());
  // mean 0.91, sample sd 0.011547; band 2 * 0.011547 + 0.01 -> threshold 0.876906.
  trigger->on_metric(metric("accuracy", 0.88, kStart));
  EXPECT_FALSE(trigger->evaluate(kStart));
  // History now 0.92, 0.90, 0.92, 0.88: mean 0.905, sd 0.019149 -> threshold 0.856703.
  trigger->on_metric(metric("accuracy", 0.85, kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_NEAR(fire->evidence["rolling_mean"].get<double>(), 0.905, 1e-12);
  EXPECT_NEAR(fire->evidence["threshold"].get<double>(), 0.905 - 2 * 0.0191485 - 0.01, 1e-6);
}

TEST(DecayTrigger, PageHinkleyOnRegressionErrors) {
  DecayOptions o = options("ph", DecayCriterion::kPageHinkley);
  auto trigger = make(o);
  trigger->on_model_promoted(model(1, 1000));
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.05);
  std::vector<double> stable(5000);
  for (double& e : stable) e = 0.5 + noise(rng);
  trigger->on_labels(*OwnedLabels(1, stable, kStart));
  ASSERT_TRUE(trigger->ready());
  EXPECT_FALSE(trigger->evaluate(kStart));
  std::vector<double> worse(500);
  for (double& e : worse) e = 1.0 + noise(rng);
  trigger->on_labels(*OwnedLabels(5001, worse, kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  const std::int64_t last_seq = fire->evidence["window"]["last_seq"];
  EXPECT_GT(last_seq, 5000);
  EXPECT_LT(last_seq, 5000 + 130);
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 1);
  EXPECT_GT(fire->evidence["detector"]["statistic"].get<double>(), 50);
  EXPECT_GT(fire->evidence["value"].get<double>(), fire->evidence["threshold"].get<double>());
  EXPECT_DOUBLE_EQ(fire->evidence["threshold"].get<double>(), 50);
  EXPECT_EQ(fire->evidence["detector"]["detector"], "page_hinkley");
}

TEST(DecayTrigger, AdwinFiresOnWorseNotOnBetter) {
  auto trigger = make(options("adwin", DecayCriterion::kAdwin));
  trigger->on_model_promoted(model(1, 1000));
  trigger->on_labels(*errors_with_rate(1, 5000, 1500));                   // 0.3
  trigger->on_labels(*errors_with_rate(5001, 5000, 250));                 // 0.05: better
  EXPECT_EQ(trigger->describe()["detector"].contains("last_cut"), true);  // it did cut
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*errors_with_rate(10'001, 2000, 800));  // 0.4: worse
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  const auto& cut = fire->evidence["detector"]["last_cut"];
  EXPECT_GT(fire->evidence["value"].get<double>(), fire->evidence["threshold"].get<double>());
  EXPECT_GT(cut["recent_mean"].get<double>(), cut["older_mean"].get<double>());
  // The recent sub-window starts at a bucket boundary near the change at 10,001.
  EXPECT_GT(fire->evidence["window"]["first_seq"].get<std::int64_t>(), 9'000);
  EXPECT_GT(fire->evidence["window"]["last_seq"].get<std::int64_t>(), 10'000);
}

TEST(DecayTrigger, DdmOnClassificationErrorsSkipsValuesOutsideZeroOne) {
  auto trigger = make(options("ddm", DecayCriterion::kDdm));
  trigger->on_model_promoted(model(1, 1000));
  trigger->on_labels(*OwnedLabels(1, {2.5, -1.0}, kStart));
  EXPECT_EQ(trigger->describe()["values_skipped"], 2);
  EXPECT_FALSE(trigger->ready());
  trigger->on_labels(*errors_with_rate(3, 20'000, 2000));
  ASSERT_TRUE(trigger->ready());
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*errors_with_rate(20'003, 3000, 1500));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["detector"]["detector"], "ddm");
  EXPECT_GT(fire->evidence["value"].get<double>(), fire->evidence["threshold"].get<double>());
}

TEST(DecayTrigger, InvalidOptionsAreNamed) {
  DecayOptions ddm_on_metric = options("d", DecayCriterion::kDdm);
  ddm_on_metric.signal = DecaySignal::kMetric;
  ddm_on_metric.metric = "accuracy";
  EXPECT_EQ(DecayTrigger::create(ddm_on_metric).error().message,
            "decay trigger \"d\": ddm: ddm needs the prequential 0/1 error signal");
  DecayOptions no_metric = options("m", DecayCriterion::kStaticThreshold);
  no_metric.signal = DecaySignal::kMetric;
  EXPECT_EQ(DecayTrigger::create(no_metric).error().message,
            "decay trigger \"m\": the metric signal needs a metric name");
  DecayOptions no_drop = options("b", DecayCriterion::kBaselineDrop);
  EXPECT_EQ(DecayTrigger::create(no_drop).error().message,
            "decay trigger \"b\": baseline_drop: drop must be > 0");
  DecayOptions bad_quantile = options("q", DecayCriterion::kQuantile);
  bad_quantile.quantile = 1;
  EXPECT_EQ(DecayTrigger::create(bad_quantile).error().message,
            "decay trigger \"q\": quantile: quantile must be in (0, 1)");
  DecayOptions bad_ph = options("p", DecayCriterion::kPageHinkley);
  bad_ph.page_hinkley.alpha = 1.5;
  EXPECT_EQ(DecayTrigger::create(bad_ph).error().message,
            "decay trigger \"p\": page_hinkley: page_hinkley.alpha must be in (0, 1]");
  DecayOptions upside_down = options("u", DecayCriterion::kStaticThreshold);
  upside_down.higher_is_better = true;
  EXPECT_FALSE(DecayTrigger::create(upside_down).ok());
}

TEST(DecayTrigger, IgnoresMissingErrorsAndEmptyMetricPoints) {
  DecayOptions o = options("nan", DecayCriterion::kStaticThreshold);
  o.window_samples = 4;
  o.threshold = 0.5;
  auto trigger = make(o);
  trigger->on_model_promoted(model(1, 10));
  trigger->on_labels(*OwnedLabels(1, {1.0, std::nan(""), 1.0, 1.0}, kStart));
  EXPECT_EQ(trigger->describe()["open_window_values"], 3);
  EXPECT_FALSE(trigger->evaluate(kStart));

  DecayOptions m = options("empty", DecayCriterion::kStaticThreshold);
  m.signal = DecaySignal::kMetric;
  m.metric = "accuracy";
  m.higher_is_better = true;
  m.threshold = 0.8;
  auto metric_trigger = make(m);
  metric_trigger->on_model_promoted(model(1, 10));
  metric_trigger->on_metric(metric("accuracy", 0.1, kStart, 1, 0));  // count 0: no observations
  EXPECT_FALSE(metric_trigger->evaluate(kStart));
  metric_trigger->on_metric(metric("accuracy", 0.1, kStart, 1, 5));
  EXPECT_TRUE(metric_trigger->evaluate(kStart));
}

// refit_after_samples: baseline_drop on 100-sample windows (baseline: first window), so the
// trigger is warming up after each promotion until a window closes.
DecayOptions refit_options(std::int64_t refit_after_samples) {
  DecayOptions o = options("refit", DecayCriterion::kBaselineDrop);
  o.window_samples = 100;
  o.drop = 0.1;
  o.refit_after_samples = refit_after_samples;
  return o;
}

// Promotes v1, closes a baseline window (10% errors) and a bad one (50%): the fire comes out.
std::optional<Fire> detect(DecayTrigger& trigger) {
  trigger.on_model_promoted(model(1, 5000));
  trigger.on_labels(*errors_with_rate(1, 100, 10));
  trigger.on_labels(*errors_with_rate(101, 100, 50));
  return trigger.evaluate(kStart);
}

TEST(DecayTrigger, RefitFiresOnceExactlyNLabeledSamplesAfterTheTrainingThatAnsweredItsFire) {
  auto trigger = make(refit_options(150));
  ASSERT_TRUE(detect(*trigger));
  trigger->on_training_started(kStart + minutes(1));
  EXPECT_EQ(trigger->describe()["refit"]["remaining_samples"], 150);
  trigger->on_labels(*errors_with_rate(201, 100, 0));
  EXPECT_FALSE(trigger->evaluate(kStart + minutes(2)));
  // The training's model is promoted: the detector warms up again, the countdown goes on.
  trigger->on_model_promoted(model(2, 5000));
  EXPECT_FALSE(trigger->ready());
  trigger->on_labels(*errors_with_rate(301, 49, 0));
  EXPECT_FALSE(trigger->ready());
  EXPECT_FALSE(trigger->evaluate(kStart + minutes(3)));
  EXPECT_EQ(trigger->describe()["refit"]["remaining_samples"], 1);
  EXPECT_EQ(trigger->describe()["refit"]["armed"], true);
  trigger->on_labels(*errors_with_rate(350, 1, 0));  // the 150th sample
  EXPECT_TRUE(trigger->ready());  // ready to hand out the refit, though still warming up
  std::optional<Fire> refit = trigger->evaluate(kStart + minutes(4));
  ASSERT_TRUE(refit);
  EXPECT_EQ(refit->trigger, "refit");
  EXPECT_EQ(refit->kind, "decay");
  EXPECT_EQ(refit->at, kStart + minutes(4));
  EXPECT_EQ(refit->evidence["refit"], true);
  EXPECT_EQ(refit->evidence["after_samples"], 150);
  EXPECT_EQ(refit->evidence["reached_at_seq"], 350);
  EXPECT_FALSE(refit->evidence.contains("model_version"));  // never superseded
  EXPECT_EQ(refit->evidence["refit_of"]["model_version"], 1);
  EXPECT_EQ(refit->evidence["refit_of"]["detected_at"], "2026-11-22T08:00:00Z");
  EXPECT_EQ(refit->reason,
            "refit: 150 labeled samples since the training started at 2026-11-22T08:01:00Z for "
            "the change detected at 2026-11-22T08:00:00Z");
  EXPECT_FALSE(trigger->evaluate(kStart + minutes(4)));  // once
  EXPECT_FALSE(trigger->ready());
  EXPECT_EQ(trigger->describe()["refit"]["fires"], 1);
  EXPECT_EQ(trigger->describe()["refit"]["armed"], false);
  // No chain: the refit's training arms nothing.
  trigger->on_training_started(kStart + minutes(5));
  trigger->on_labels(*errors_with_rate(351, 1000, 0));
  EXPECT_FALSE(trigger->evaluate(kStart + minutes(6)));
  EXPECT_EQ(trigger->describe()["refit"]["armed"], false);
}

TEST(DecayTrigger, NoRefitWithoutAFireOfThisTrigger) {
  auto trigger = make(refit_options(100));
  trigger->on_model_promoted(model(1, 5000));
  trigger->on_labels(*errors_with_rate(1, 100, 10));
  trigger->on_training_started(kStart);  // another trigger's training
  trigger->on_labels(*errors_with_rate(101, 1000, 10));
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_EQ(trigger->describe()["refit"]["armed"], false);
  // A fire the engine drops as superseded (a newer model came first) arms nothing either.
  auto superseded = make(refit_options(100));
  ASSERT_TRUE(detect(*superseded));
  superseded->on_model_promoted(model(2, 5000));
  superseded->on_training_started(kStart);
  superseded->on_labels(*errors_with_rate(201, 1000, 10));
  EXPECT_FALSE(superseded->evaluate(kStart));
  EXPECT_EQ(superseded->describe()["refit"]["armed"], false);
}

TEST(DecayTrigger, ANewDetectionReplacesAPendingRefitAndRearms) {
  auto trigger = make(refit_options(100));
  ASSERT_TRUE(detect(*trigger));
  trigger->on_training_started(kStart);
  // The countdown ends inside a window that is bad again: one fire, the detection.
  trigger->on_labels(*errors_with_rate(201, 100, 50));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_FALSE(fire->evidence.contains("refit"));
  EXPECT_EQ(fire->evidence["replaces_refit"], true);
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_training_started(kStart + minutes(1));
  EXPECT_EQ(trigger->describe()["refit"]["remaining_samples"], 100);
}

TEST(DecayTrigger, RefitZeroIsOffAndNegativeIsRejected) {
  auto trigger = make(refit_options(0));
  ASSERT_TRUE(detect(*trigger));
  trigger->on_training_started(kStart);
  trigger->on_labels(*errors_with_rate(201, 1000, 10));
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_FALSE(trigger->describe().contains("refit"));
  EXPECT_FALSE(DecayTrigger::create(refit_options(-1)).ok());
}

}  // namespace
}  // namespace ctd::triggers

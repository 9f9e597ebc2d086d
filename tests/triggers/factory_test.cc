// build_triggers: an EngineSpec (as config/ reads it from a pipeline's `triggers` section)
// becomes the triggers and rate limits of a working Engine. Outcomes are asserted through the
// engine on a ManualClock: a new_data trigger fires at its sample count, a schedule at its cron
// time (or from its persisted anchor), a composite all-of once every child fired.
#include "triggers/factory.h"

#include <gtest/gtest.h>

#include "tests/triggers/test_events.h"
#include "tests/triggers/test_time.h"

namespace ctd::triggers {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::OwnedLabels;
using testing::utc;

const TimePoint kStart = utc(2026, 11, 22, 8);

FeatureLayout layout() {
  FeatureLayout l;
  l.numeric = {"tenure"};
  l.categorical = {"plan"};
  return l;
}

// Anchors with no persisted fires: every schedule starts at the pipeline's start.
ScheduleAnchors starting_at(TimePoint start) {
  ScheduleAnchors anchors;
  anchors.pipeline_start = start;
  return anchors;
}

TriggerSpec new_data(std::string name, std::int64_t min_samples) {
  NewDataOptions options;
  options.name = std::move(name);
  options.min_samples = min_samples;
  return TriggerSpec{options};
}

TriggerSpec cron(std::string name, std::string expression) {
  ScheduleOptions options;
  options.name = std::move(name);
  options.cron = std::move(expression);
  return TriggerSpec{options};
}

TriggerSpec every(std::string name, std::chrono::seconds interval) {
  ScheduleOptions options;
  options.name = std::move(name);
  options.interval = interval;
  return TriggerSpec{options};
}

TriggerSpec error_above(std::string name, double threshold, std::int64_t window_samples) {
  DecayOptions decay;
  decay.name = std::move(name);
  decay.criterion = DecayCriterion::kStaticThreshold;
  decay.threshold = threshold;
  decay.window_samples = window_samples;
  return TriggerSpec{decay};
}

TriggerSpec composite(std::string name, CompositeMode mode, std::vector<TriggerSpec> children) {
  CompositeSpec spec;
  spec.options.name = std::move(name);
  spec.options.mode = mode;
  spec.children = std::move(children);
  return TriggerSpec{std::move(spec)};
}

// One trigger of every kind, as a configuration would describe them.
EngineSpec one_of_each() {
  EngineSpec spec;
  spec.limits = {.cooldown = seconds(1800), .min_interval = seconds(600)};
  spec.triggers.push_back(TriggerSpec{ManualOptions{.name = "ask"}});
  spec.triggers.push_back(cron("nightly", "0 2 * * *"));
  spec.triggers.push_back(new_data("fresh", 100));
  DecayOptions page_hinkley;
  page_hinkley.name = "errors";
  page_hinkley.criterion = DecayCriterion::kPageHinkley;
  page_hinkley.page_hinkley.threshold = 25;
  spec.triggers.push_back(TriggerSpec{page_hinkley});
  DriftTriggerOptions drift;
  drift.name = "features";
  drift.layout = layout();
  spec.triggers.push_back(TriggerSpec{drift});
  spec.triggers.push_back(composite("both", CompositeMode::kAll,
                                    {new_data("more", 1000), error_above("bad", 0.2, 100)}));
  return spec;
}

// An engine over the triggers `spec` describes, on `clock`.
std::unique_ptr<Engine> engine_of(const EngineSpec& spec, const Clock& clock,
                                  const ScheduleAnchors& anchors) {
  Result<BuiltTriggers> built = build_triggers(spec, anchors);
  if (!built) {
    ADD_FAILURE() << built.error().message;
    return nullptr;
  }
  auto engine =
      Engine::create("churn", clock, built.value().limits, std::move(built.value().triggers));
  if (!engine) {
    ADD_FAILURE() << engine.error().message;
    return nullptr;
  }
  return std::move(engine).value();
}

std::string build_error(const EngineSpec& spec) {
  Result<BuiltTriggers> built = build_triggers(spec, starting_at(kStart));
  return built ? std::string("(built)") : built.error().message;
}

TEST(TriggerFactory, OneTriggerOfEveryKindBuildsAnEngine) {
  const EngineSpec spec = one_of_each();
  Result<BuiltTriggers> built = build_triggers(spec, starting_at(kStart));
  ASSERT_TRUE(built) << built.error().message;
  EXPECT_EQ(built.value().limits.cooldown, seconds(1800));
  EXPECT_EQ(built.value().limits.min_interval, seconds(600));
  std::vector<std::string> kinds, names;
  for (const auto& trigger : built.value().triggers) {
    kinds.emplace_back(trigger->kind());
    names.push_back(trigger->name());
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"manual", "schedule", "new_data", "decay", "drift",
                                             "composite"}));
  EXPECT_EQ(names,
            (std::vector<std::string>{"ask", "nightly", "fresh", "errors", "features", "both"}));
  for (std::size_t i = 0; i < spec.triggers.size(); ++i) {
    EXPECT_EQ(to_string(spec.triggers[i].kind()), kinds[i]);
    EXPECT_EQ(spec.triggers[i].name(), names[i]);
  }

  ManualClock clock(kStart);
  std::unique_ptr<Engine> engine = engine_of(spec, clock, starting_at(kStart));
  ASSERT_NE(engine, nullptr);
  // Without a production model, decay and drift are warming up, and so is the composite (its
  // decay child is).
  EXPECT_EQ(engine->describe()["warming_up"], (nlohmann::json{"errors", "features", "both"}));
  // The manual trigger is reachable by name, and its fire starts a training.
  Result<Decision> asked = engine->request_manual("ask", "new features shipped", "ops");
  ASSERT_TRUE(asked) << asked.error().message;
  EXPECT_TRUE(asked.value().start_training());
}

TEST(TriggerFactory, NewDataFiresAfterItsMinSamples) {
  EngineSpec spec;
  spec.triggers.push_back(new_data("fresh", 100));
  ManualClock clock(kStart);
  std::unique_ptr<Engine> engine = engine_of(spec, clock, starting_at(kStart));
  ASSERT_NE(engine, nullptr);

  OwnedLabels first = OwnedLabels::unscored(1, 60, kStart);
  EXPECT_EQ(engine->on_labels(*first).kind, DecisionKind::kNone);
  clock.advance(minutes(1));
  OwnedLabels second = OwnedLabels::unscored(61, 39, clock.now());
  EXPECT_EQ(engine->on_labels(*second).kind, DecisionKind::kNone);  // 99 samples
  OwnedLabels third = OwnedLabels::unscored(100, 1, clock.now());
  const Decision decision = engine->on_labels(*third);
  ASSERT_TRUE(decision.start_training());
  ASSERT_EQ(decision.fires.size(), 1u);
  EXPECT_EQ(decision.fires[0].trigger, "fresh");
  EXPECT_EQ(decision.fires[0].kind, "new_data");
  EXPECT_EQ(decision.fires[0].evidence["value"], 100);
  EXPECT_EQ(decision.fires[0].evidence["window"]["first_seq"], 1);
  EXPECT_EQ(decision.fires[0].evidence["window"]["last_seq"], 100);
}

TEST(TriggerFactory, CronScheduleFiresAtItsTime) {
  EngineSpec spec;
  spec.triggers.push_back(cron("nightly", "30 2 * * *"));
  ManualClock clock(kStart);
  std::unique_ptr<Engine> engine = engine_of(spec, clock, starting_at(kStart));
  ASSERT_NE(engine, nullptr);

  clock.set(utc(2026, 11, 23, 2, 29));
  EXPECT_EQ(engine->tick().kind, DecisionKind::kNone);
  clock.set(utc(2026, 11, 23, 2, 30));
  const Decision decision = engine->tick();
  ASSERT_TRUE(decision.start_training());
  ASSERT_EQ(decision.fires.size(), 1u);
  EXPECT_EQ(decision.fires[0].trigger, "nightly");
  EXPECT_EQ(decision.fires[0].evidence["slot"], "2026-11-23T02:30:00Z");
  EXPECT_EQ(decision.fires[0].evidence["next_due"], "2026-11-24T02:30:00Z");
}

TEST(TriggerFactory, ScheduleSlotsStartAtTheirPersistedLastFire) {
  EngineSpec spec;
  spec.triggers.push_back(every("hourly", hours(1)));
  spec.triggers.push_back(every("daily", hours(24)));
  ScheduleAnchors anchors = starting_at(kStart);
  anchors.last_fired["hourly"] = kStart - minutes(40);
  EXPECT_EQ(anchors.anchor_of("hourly"), kStart - minutes(40));
  EXPECT_EQ(anchors.anchor_of("daily"), kStart);

  ManualClock clock(kStart + minutes(19));
  std::unique_ptr<Engine> engine = engine_of(spec, clock, anchors);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->tick().kind, DecisionKind::kNone);
  clock.set(kStart + minutes(20));  // an hour after the persisted fire, not after the start
  const Decision decision = engine->tick();
  ASSERT_TRUE(decision.start_training());
  EXPECT_EQ(decision.fires[0].trigger, "hourly");
}

TEST(TriggerFactory, CompositeAllOfFiresOnceEveryChildHasFired) {
  EngineSpec spec;
  spec.triggers.push_back(composite("fresh-and-bad", CompositeMode::kAll,
                                    {new_data("fresh", 100), error_above("bad", 0.3, 50)}));
  ManualClock clock(kStart);
  std::unique_ptr<Engine> engine = engine_of(spec, clock, starting_at(kStart));
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->on_model_promoted(testing::model(1, 10000)).kind, DecisionKind::kNone);

  // 100 good samples: new data fires inside the composite, decay does not; no training.
  OwnedLabels good(1, std::vector<double>(100, 0.0), kStart);
  EXPECT_EQ(engine->on_labels(*good).kind, DecisionKind::kNone);
  // A window of 50 errors: decay fires too, and the composite with both.
  clock.advance(minutes(5));
  OwnedLabels bad(101, std::vector<double>(50, 1.0), clock.now());
  const Decision decision = engine->on_labels(*bad);
  ASSERT_TRUE(decision.start_training());
  ASSERT_EQ(decision.fires.size(), 1u);
  const Fire& fire = decision.fires[0];
  EXPECT_EQ(fire.trigger, "fresh-and-bad");
  EXPECT_EQ(fire.kind, "composite");
  EXPECT_EQ(fire.evidence["mode"], "all");
  ASSERT_EQ(fire.evidence["children"].size(), 2u);
  EXPECT_EQ(fire.evidence["children"][0]["trigger"], "bad");
  EXPECT_EQ(fire.evidence["children"][1]["trigger"], "fresh");
}

TEST(TriggerFactory, RateLimitsReachTheEngine) {
  EngineSpec spec;
  spec.limits.cooldown = hours(1);
  spec.triggers.push_back(new_data("fresh", 10));
  ManualClock clock(kStart);
  std::unique_ptr<Engine> engine = engine_of(spec, clock, starting_at(kStart));
  ASSERT_NE(engine, nullptr);
  OwnedLabels first = OwnedLabels::unscored(1, 10, kStart);
  ASSERT_TRUE(engine->on_labels(*first).start_training());
  engine->training_finished(TrainingOutcome::kSucceeded);
  clock.advance(minutes(10));
  OwnedLabels second = OwnedLabels::unscored(11, 10, clock.now());
  const Decision deferred = engine->on_labels(*second);
  EXPECT_EQ(deferred.kind, DecisionKind::kDeferred);
  EXPECT_EQ(deferred.deferred_by, DeferReason::kCooldown);
  EXPECT_EQ(deferred.not_before, kStart + hours(1));  // an hour after the training finished
}

TEST(TriggerFactory, AnEmptySpecBuildsNoTriggers) {
  Result<BuiltTriggers> built = build_triggers(EngineSpec{}, ScheduleAnchors{});
  ASSERT_TRUE(built);
  EXPECT_TRUE(built.value().triggers.empty());
}

TEST(TriggerFactory, ErrorsNameTheTrigger) {
  EngineSpec bad_cron;
  bad_cron.triggers.push_back(cron("nightly", "0 25 * * *"));
  EXPECT_EQ(build_error(bad_cron),
            "schedule trigger \"nightly\": cron \"0 25 * * *\": hour field \"25\": value 25 is "
            "out of range 0-23");

  EngineSpec bad_drift;
  DriftTriggerOptions drift;
  drift.name = "features";
  drift.layout = layout();
  drift.features = {"tenur"};
  bad_drift.triggers.push_back(TriggerSpec{drift});
  EXPECT_EQ(build_error(bad_drift), "drift trigger features: unknown feature 'tenur'");

  EngineSpec bad_child;
  bad_child.triggers.push_back(
      composite("both", CompositeMode::kAll, {new_data("fresh", 0), new_data("more", 10)}));
  EXPECT_EQ(build_error(bad_child),
            "new_data trigger \"fresh\": set min_samples and/or min_fraction");
}

TEST(TriggerFactory, NamesAreUniqueAcrossCompositesAndManualTriggersStayOnTop) {
  EngineSpec duplicate;
  duplicate.triggers.push_back(new_data("fresh", 10));
  duplicate.triggers.push_back(
      composite("both", CompositeMode::kAny, {new_data("fresh", 20), cron("nightly", "@daily")}));
  EXPECT_EQ(build_error(duplicate), "two triggers are named \"fresh\"");

  EngineSpec nested_manual;
  nested_manual.triggers.push_back(composite(
      "both", CompositeMode::kAny, {new_data("fresh", 20), TriggerSpec{ManualOptions{"ask"}}}));
  EXPECT_EQ(build_error(nested_manual),
            "manual trigger \"ask\": a manual trigger cannot be part of a composite");
}

TEST(TriggerFactory, KindNames) {
  EXPECT_EQ(to_string(TriggerKind::kManual), "manual");
  EXPECT_EQ(to_string(TriggerKind::kSchedule), "schedule");
  EXPECT_EQ(to_string(TriggerKind::kNewData), "new_data");
  EXPECT_EQ(to_string(TriggerKind::kDecay), "decay");
  EXPECT_EQ(to_string(TriggerKind::kDrift), "drift");
  EXPECT_EQ(to_string(TriggerKind::kComposite), "composite");
  EXPECT_EQ(cron("nightly", "@daily").kind(), TriggerKind::kSchedule);
  EXPECT_EQ(composite("both", CompositeMode::kAny, {}).name(), "both");
}

}  // namespace
}  // namespace ctd::triggers

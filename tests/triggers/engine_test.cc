#include "triggers/engine.h"

#include <gtest/gtest.h>

#include "tests/triggers/fake_trigger.h"
#include "tests/triggers/test_events.h"
#include "tests/triggers/test_time.h"
#include "triggers/decay_trigger.h"
#include "triggers/manual_trigger.h"
#include "triggers/new_data_trigger.h"
#include "triggers/schedule_trigger.h"

namespace ctd::triggers {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeTrigger;
using testing::OwnedLabels;
using testing::utc;

const TimePoint kStart = utc(2026, 11, 22, 8);

// An engine over two fake triggers "a" and "b" (plus any extra), on a manual clock.
struct Fixture {
  ManualClock clock{kStart};
  FakeTrigger::Knobs a_knobs, b_knobs;
  FakeTrigger::Log a_log, b_log;
  std::unique_ptr<Engine> engine;

  explicit Fixture(RateLimits limits, EngineHistory history = {},
                   std::vector<std::unique_ptr<Trigger>> extra = {}) {
    std::vector<std::unique_ptr<Trigger>> triggers;
    triggers.push_back(std::make_unique<FakeTrigger>("a", a_knobs, a_log));
    triggers.push_back(std::make_unique<FakeTrigger>("b", b_knobs, b_log));
    for (auto& trigger : extra) triggers.push_back(std::move(trigger));
    auto created = Engine::create("churn", clock, limits, std::move(triggers), history);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    engine = std::move(created).value();
  }
};

std::vector<std::string> trigger_names(const Decision& decision) {
  std::vector<std::string> names;
  for (const Fire& fire : decision.fires) names.push_back(fire.trigger);
  return names;
}

std::unique_ptr<Trigger> manual_trigger() { return ManualTrigger::create({}).value(); }

TEST(Engine, AFireStartsATrainingAndTellsEveryTrigger) {
  Fixture f({});
  EXPECT_EQ(f.engine->tick().kind, DecisionKind::kNone);
  f.a_knobs.fire_next = true;
  OwnedLabels labels = OwnedLabels::unscored(1, 10, kStart);
  Decision decision = f.engine->on_labels(*labels);
  EXPECT_EQ(f.a_log.labels, 1);
  EXPECT_EQ(f.b_log.labels, 1);
  ASSERT_EQ(decision.kind, DecisionKind::kStartTraining);
  EXPECT_EQ(trigger_names(decision), std::vector<std::string>{"a"});
  EXPECT_FALSE(decision.follow_up);
  EXPECT_TRUE(f.engine->training_in_flight());
  EXPECT_EQ(f.a_log.trainings_started, 1);
  EXPECT_EQ(f.b_log.trainings_started, 1);
  const nlohmann::json json = decision.to_json();
  EXPECT_EQ(json["decision"], "start_training");
  EXPECT_EQ(json["fires"][0]["trigger"], "a");
  EXPECT_EQ(json["fires"][0]["evidence"]["statistic"], "fake");
  EXPECT_EQ(json["at"], "2026-11-22T08:00:00Z");
}

TEST(Engine, FiresDuringATrainingCoalesceIntoOneFollowUp) {
  Fixture f({});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.clock.advance(minutes(1));
  f.b_knobs.fire_next = true;
  Decision held = f.engine->tick();
  EXPECT_EQ(held.kind, DecisionKind::kDeferred);
  EXPECT_EQ(held.deferred_by, DeferReason::kInFlight);
  EXPECT_FALSE(held.not_before);
  EXPECT_EQ(trigger_names(held), std::vector<std::string>{"b"});
  f.clock.advance(minutes(1));
  f.a_knobs.fire_next = true;
  f.a_knobs.reason = "second reason";
  EXPECT_EQ(f.engine->on_metric(testing::metric("accuracy", 0.5, kStart)).deferred_by,
            DeferReason::kInFlight);
  EXPECT_EQ(f.engine->tick().kind, DecisionKind::kNone);  // nothing new
  EXPECT_EQ(f.engine->held_fires(), 2u);
  f.clock.advance(minutes(10));
  Decision follow_up = f.engine->training_finished(TrainingOutcome::kSucceeded);
  ASSERT_TRUE(follow_up.start_training());
  EXPECT_TRUE(follow_up.follow_up);
  EXPECT_EQ(trigger_names(follow_up), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(follow_up.fires[1].reason, "second reason");
  EXPECT_EQ(f.engine->held_fires(), 0u);
  // One follow-up only: finishing it with nothing held starts nothing.
  EXPECT_EQ(f.engine->training_finished(TrainingOutcome::kFailed).kind, DecisionKind::kNone);
  EXPECT_FALSE(f.engine->training_in_flight());
}

TEST(Engine, CooldownHoldsFiresUntilItEnds) {
  Fixture f({.cooldown = minutes(10), .min_interval = seconds(0)});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.clock.advance(minutes(30));
  ASSERT_EQ(f.engine->training_finished(TrainingOutcome::kSucceeded).kind, DecisionKind::kNone);
  f.clock.advance(minutes(5));
  f.b_knobs.fire_next = true;
  Decision held = f.engine->tick();
  EXPECT_EQ(held.kind, DecisionKind::kDeferred);
  EXPECT_EQ(held.deferred_by, DeferReason::kCooldown);
  EXPECT_EQ(held.not_before, kStart + minutes(40));
  EXPECT_EQ(held.to_json()["not_before"], "2026-11-22T08:40:00Z");
  EXPECT_EQ(f.engine->describe()["blocked_by"], "cooldown");
  f.clock.advance(minutes(4) + seconds(59));
  EXPECT_EQ(f.engine->tick().kind, DecisionKind::kNone);
  f.clock.advance(seconds(1));
  Decision released = f.engine->tick();
  ASSERT_TRUE(released.start_training());
  EXPECT_EQ(trigger_names(released), std::vector<std::string>{"b"});
  EXPECT_TRUE(released.follow_up);
}

TEST(Engine, HeldFiresResumedAfterARestartWaitForTheRestoredCooldown) {
  // The previous process finished a training 5 minutes ago and held one fire.
  EngineHistory history;
  history.last_training_started = kStart - minutes(20);
  history.last_training_finished = kStart - minutes(5);
  Fixture f({.cooldown = minutes(10), .min_interval = seconds(0)}, history);
  const Fire held{"a", "new_data", "1000 new samples", {{"samples", 1000}}, kStart - minutes(1)};
  const Decision waiting = f.engine->resume_held({held});
  EXPECT_EQ(waiting.kind, DecisionKind::kDeferred);
  EXPECT_EQ(waiting.deferred_by, DeferReason::kCooldown);
  EXPECT_EQ(waiting.not_before, kStart + minutes(5));
  EXPECT_EQ(f.engine->held_fires(), 1u);
  f.clock.advance(minutes(5));
  const Decision released = f.engine->tick();
  ASSERT_TRUE(released.start_training());
  ASSERT_EQ(released.fires.size(), 1u);
  EXPECT_EQ(released.fires[0].reason, "1000 new samples");
  EXPECT_EQ(released.fires[0].at, kStart - minutes(1));

  // Without limits in the way they start at once; nothing to resume is no decision.
  Fixture free({});
  EXPECT_TRUE(free.engine->resume_held({held}).start_training());
  EXPECT_EQ(free.engine->resume_held({}).kind, DecisionKind::kNone);
}

TEST(Engine, MinimumIntervalBetweenStarts) {
  Fixture f({.cooldown = seconds(0), .min_interval = hours(1)});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.clock.advance(minutes(5));
  f.engine->training_finished(TrainingOutcome::kSucceeded);
  f.clock.advance(minutes(5));
  f.a_knobs.fire_next = true;
  Decision held = f.engine->tick();
  EXPECT_EQ(held.deferred_by, DeferReason::kMinInterval);
  EXPECT_EQ(held.not_before, kStart + hours(1));
  f.clock.set(kStart + hours(1));
  EXPECT_TRUE(f.engine->tick().start_training());
}

// With no training in flight and a fire pending: `times` times, waits out the backoff, starts
// a training and fails it a minute later, with the trigger firing again; returns the last
// failure's decision.
Decision fail_repeatedly(Fixture& f, int times) {
  Decision last;
  for (int i = 0; i < times; ++i) {
    f.clock.advance(f.engine->failure_backoff());
    EXPECT_TRUE(f.engine->tick().start_training()) << "start " << i;
    f.clock.advance(minutes(1));
    last = f.engine->training_finished(TrainingOutcome::kFailed);
    f.a_knobs.fire_next = true;
  }
  return last;
}

TEST(Engine, RepeatedFailuresBackOffExponentiallyUpToTheCap) {
  Fixture f({.cooldown = seconds(30),
             .min_interval = seconds(0),
             .failure_backoff = minutes(1),
             .failure_backoff_max = minutes(5)});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.clock.advance(minutes(1));
  EXPECT_EQ(f.engine->training_finished(TrainingOutcome::kFailed).kind, DecisionKind::kNone);
  EXPECT_EQ(f.engine->consecutive_failures(), 1);
  EXPECT_EQ(f.engine->failure_backoff(), minutes(1));
  // A fire after the cooldown but within the backoff is held by the backoff.
  f.clock.advance(seconds(40));
  f.a_knobs.fire_next = true;
  const Decision held = f.engine->tick();
  EXPECT_EQ(held.deferred_by, DeferReason::kFailureBackoff);
  EXPECT_EQ(held.not_before, kStart + minutes(2));
  EXPECT_EQ(held.to_json()["deferred_by"], "failure_backoff");
  EXPECT_EQ(f.engine->describe()["blocked_by"], "failure_backoff");
  EXPECT_EQ(f.engine->describe()["consecutive_failures"], 1);
  f.clock.advance(seconds(19));
  EXPECT_EQ(f.engine->tick().kind, DecisionKind::kNone);
  f.clock.advance(seconds(1));
  ASSERT_TRUE(f.engine->tick().start_training());

  // 1, 2, 4, then capped at 5 minutes.
  f.clock.advance(minutes(1));
  EXPECT_EQ(f.engine->training_finished(TrainingOutcome::kFailed).kind, DecisionKind::kNone);
  EXPECT_EQ(f.engine->failure_backoff(), minutes(2));
  f.a_knobs.fire_next = true;
  fail_repeatedly(f, 2);
  EXPECT_EQ(f.engine->consecutive_failures(), 4);
  EXPECT_EQ(f.engine->failure_backoff(), minutes(5));
  fail_repeatedly(f, 40);
  EXPECT_EQ(f.engine->failure_backoff(), minutes(5));
  const Decision waiting = f.engine->tick();
  EXPECT_EQ(waiting.deferred_by, DeferReason::kFailureBackoff);
  EXPECT_EQ(waiting.not_before, f.clock.now() + minutes(5));
}

TEST(Engine, ASucceededTrainingResetsTheBackoffAndACancelledOneKeepsIt) {
  Fixture f({.cooldown = seconds(0),
             .min_interval = seconds(0),
             .failure_backoff = minutes(10),
             .failure_backoff_max = hours(1)});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.engine->training_finished(TrainingOutcome::kFailed);
  f.a_knobs.fire_next = true;
  fail_repeatedly(f, 1);
  EXPECT_EQ(f.engine->failure_backoff(), minutes(20));
  f.clock.advance(minutes(20));
  ASSERT_TRUE(f.engine->tick().start_training());
  f.engine->training_finished(TrainingOutcome::kCancelled);
  EXPECT_EQ(f.engine->consecutive_failures(), 2);
  f.a_knobs.fire_next = true;
  EXPECT_EQ(f.engine->tick().deferred_by, DeferReason::kFailureBackoff);
  f.clock.advance(minutes(20));
  ASSERT_TRUE(f.engine->tick().start_training());
  f.engine->training_finished(TrainingOutcome::kSucceeded);
  EXPECT_EQ(f.engine->consecutive_failures(), 0);
  EXPECT_EQ(f.engine->failure_backoff(), seconds(0));
  f.a_knobs.fire_next = true;
  EXPECT_TRUE(f.engine->tick().start_training());
}

TEST(Engine, ManualRequestsSkipTheFailureBackoff) {
  std::vector<std::unique_ptr<Trigger>> extra;
  extra.push_back(manual_trigger());
  Fixture f({.cooldown = seconds(0),
             .min_interval = seconds(0),
             .failure_backoff = hours(1),
             .failure_backoff_max = hours(1)},
            {}, std::move(extra));
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.engine->training_finished(TrainingOutcome::kFailed);
  Result<Decision> asked = f.engine->request_manual("manual", "fixed the trainer", "alice");
  ASSERT_TRUE(asked.ok());
  EXPECT_TRUE(asked.value().start_training());
}

TEST(Engine, DisabledBackoffRetriesAtOnce) {
  Fixture f({.cooldown = seconds(0),
             .min_interval = seconds(0),
             .failure_backoff = seconds(0),
             .failure_backoff_max = seconds(0)});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.a_knobs.fire_next = true;
  EXPECT_TRUE(f.engine->training_finished(TrainingOutcome::kFailed).start_training());
}

TEST(Engine, ManualRequestsSkipCooldownButNotAnInFlightTraining) {
  std::vector<std::unique_ptr<Trigger>> extra;
  extra.push_back(manual_trigger());
  Fixture f({.cooldown = hours(1), .min_interval = hours(6)}, {}, std::move(extra));
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  Result<Decision> during = f.engine->request_manual("manual", "hotfix labels", "alice");
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during.value().deferred_by, DeferReason::kInFlight);
  f.clock.advance(minutes(20));
  // The held manual fire goes as soon as the training ends, cooldown notwithstanding.
  Decision follow_up = f.engine->training_finished(TrainingOutcome::kFailed);
  ASSERT_TRUE(follow_up.start_training());
  EXPECT_EQ(follow_up.fires[0].reason, "requested by alice: hotfix labels");
  f.engine->training_finished(TrainingOutcome::kSucceeded);
  f.b_knobs.fire_next = true;
  EXPECT_EQ(f.engine->tick().deferred_by, DeferReason::kCooldown);
  Result<Decision> now = f.engine->request_manual("manual", "retry", "bob");
  ASSERT_TRUE(now.ok());
  ASSERT_TRUE(now.value().start_training());
  EXPECT_EQ(trigger_names(now.value()), (std::vector<std::string>{"b", "manual"}));
}

TEST(Engine, ManualRequestErrors) {
  std::vector<std::unique_ptr<Trigger>> extra;
  extra.push_back(manual_trigger());
  Fixture f({}, {}, std::move(extra));
  Result<Decision> unknown = f.engine->request_manual("ops", "why", "me");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "pipeline \"churn\" has no manual trigger named \"ops\"");
  EXPECT_FALSE(f.engine->request_manual("a", "not manual", "me").ok());
  Result<Decision> blank = f.engine->request_manual("manual", "", "me");
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.error().message, "manual trigger \"manual\": a reason is required");
}

TEST(Engine, TriggersWarmingUpAreSkippedAndReported) {
  Fixture f({});
  f.b_knobs.ready = false;
  f.b_knobs.fire_always = true;
  EXPECT_EQ(f.engine->tick().kind, DecisionKind::kNone);
  EXPECT_EQ(f.b_log.evaluations, 0);
  EXPECT_EQ(f.a_log.evaluations, 1);
  const nlohmann::json described = f.engine->describe();
  EXPECT_EQ(described["warming_up"], nlohmann::json::array({"b"}));
  EXPECT_FALSE(described["triggers"][1]["ready"].get<bool>());
  f.b_knobs.ready = true;
  EXPECT_TRUE(f.engine->tick().start_training());
}

TEST(Engine, DecayIsWarmingUpUntilAModelIsPromoted) {
  ManualClock clock(kStart);
  DecayOptions decay;
  decay.name = "error-rate";
  decay.window_samples = 100;
  decay.threshold = 0.2;
  std::vector<std::unique_ptr<Trigger>> triggers;
  triggers.push_back(DecayTrigger::create(decay).value());
  auto engine = Engine::create("churn", clock, {}, std::move(triggers)).value();
  std::vector<double> bad(100, 1.0);
  EXPECT_EQ(engine->on_labels(*OwnedLabels(1, bad, kStart)).kind, DecisionKind::kNone);
  EXPECT_EQ(engine->describe()["warming_up"], nlohmann::json::array({"error-rate"}));
  EXPECT_EQ(engine->on_model_promoted(testing::model(1, 1000)).kind, DecisionKind::kNone);
  EXPECT_TRUE(engine->describe()["warming_up"].empty());
  Decision decision = engine->on_labels(*OwnedLabels(101, bad, kStart));
  ASSERT_TRUE(decision.start_training());
  EXPECT_EQ(decision.fires[0].kind, "decay");
}

TEST(Engine, APromotionSupersedesHeldDecayFiresAboutTheOldModel) {
  DecayOptions decay;
  decay.name = "error-rate";
  decay.window_samples = 100;
  decay.threshold = 0.2;
  std::vector<std::unique_ptr<Trigger>> extra;
  extra.push_back(DecayTrigger::create(decay).value());
  Fixture f({}, {}, std::move(extra));
  f.engine->on_model_promoted(testing::model(1, 1000));
  const std::vector<double> bad(100, 1.0);
  ASSERT_TRUE(f.engine->on_labels(*OwnedLabels(1, bad, kStart)).start_training());
  // The old model keeps failing while its replacement trains: held, with the fake "a".
  EXPECT_EQ(f.engine->on_labels(*OwnedLabels(101, bad, kStart)).deferred_by,
            DeferReason::kInFlight);
  f.a_knobs.fire_next = true;
  f.engine->tick();
  ASSERT_EQ(f.engine->held_fires(), 2u);
  const ModelContext replacement = testing::model(2, 1200);
  Decision decision = f.engine->training_finished(TrainingOutcome::kSucceeded, &replacement);
  ASSERT_EQ(decision.superseded.size(), 1u);
  EXPECT_EQ(decision.superseded[0].trigger, "error-rate");
  ASSERT_TRUE(decision.start_training());  // "a" still asks for a training
  EXPECT_EQ(trigger_names(decision), std::vector<std::string>{"a"});
  EXPECT_EQ(decision.to_json()["superseded_fires"][0]["evidence"]["model_version"], 1);
  // Without other held fires the promotion leaves nothing to start.
  ASSERT_TRUE(f.engine->training_finished(TrainingOutcome::kSucceeded).kind == DecisionKind::kNone);
}

TEST(Engine, ARefitHeldDuringTheTrainingItFollowsIsNotSuperseded) {
  ManualClock clock(kStart);
  DecayOptions decay;
  decay.name = "error-rate";
  decay.window_samples = 100;
  decay.threshold = 0.2;
  decay.refit_after_samples = 200;
  std::vector<std::unique_ptr<Trigger>> triggers;
  triggers.push_back(DecayTrigger::create(decay).value());
  auto engine = Engine::create("churn", clock, {}, std::move(triggers)).value();
  engine->on_model_promoted(testing::model(1, 1000));
  const std::vector<double> bad(100, 1.0);
  const std::vector<double> good(100, 0.0);
  ASSERT_TRUE(engine->on_labels(*OwnedLabels(1, bad, kStart)).start_training());
  EXPECT_EQ(engine->describe()["triggers"][0]["state"]["refit"]["remaining_samples"], 200);
  EXPECT_EQ(engine->on_labels(*OwnedLabels(101, good, kStart)).kind, DecisionKind::kNone);
  // The 200th sample while the training is still running: the refit is held...
  Decision decision = engine->on_labels(*OwnedLabels(201, good, kStart));
  EXPECT_EQ(decision.deferred_by, DeferReason::kInFlight);
  ASSERT_EQ(decision.fires.size(), 1u);
  EXPECT_EQ(decision.fires[0].evidence["refit"], true);
  // ... and survives the promotion of that training's model.
  const ModelContext v2 = testing::model(2, 1000);
  decision = engine->training_finished(TrainingOutcome::kSucceeded, &v2);
  EXPECT_TRUE(decision.superseded.empty());
  ASSERT_TRUE(decision.start_training());
  ASSERT_EQ(decision.fires.size(), 1u);
  EXPECT_EQ(decision.fires[0].evidence["refit"], true);
  // No chain: after the refit's training, good samples start nothing.
  const ModelContext v3 = testing::model(3, 1000);
  EXPECT_EQ(engine->training_finished(TrainingOutcome::kSucceeded, &v3).kind, DecisionKind::kNone);
  for (std::int64_t seq = 301; seq < 1301; seq += 100) {
    EXPECT_EQ(engine->on_labels(*OwnedLabels(seq, good, kStart)).kind, DecisionKind::kNone);
  }
}

TEST(Engine, ScheduleFiresOnTickAndOnceAfterDowntime) {
  ManualClock clock(kStart);
  std::vector<std::unique_ptr<Trigger>> triggers;
  triggers.push_back(ScheduleTrigger::create(
                         {.name = "nightly", .cron = "0 2 * * *", .interval = seconds(0)}, kStart)
                         .value());
  auto engine = Engine::create("churn", clock, {}, std::move(triggers)).value();
  clock.set(utc(2026, 11, 23, 1, 59));
  EXPECT_EQ(engine->tick().kind, DecisionKind::kNone);
  // The daemon was down from 01:59 on the 23rd to 03:00 on the 26th: one training.
  clock.set(utc(2026, 11, 26, 3, 0));
  Decision decision = engine->tick();
  ASSERT_TRUE(decision.start_training());
  ASSERT_EQ(decision.fires.size(), 1u);
  EXPECT_EQ(decision.fires[0].evidence["missed_slots"], 3);
  engine->training_finished(TrainingOutcome::kSucceeded);
  EXPECT_EQ(engine->tick().kind, DecisionKind::kNone);
}

TEST(Engine, NewDataCountsRestartWithEachTraining) {
  ManualClock clock(kStart);
  std::vector<std::unique_ptr<Trigger>> triggers;
  triggers.push_back(
      NewDataTrigger::create({.name = "every-1k", .min_samples = 1000, .min_fraction = 0}).value());
  auto engine = Engine::create("churn", clock, {}, std::move(triggers)).value();
  EXPECT_TRUE(engine->on_labels(*OwnedLabels::unscored(1, 1200, kStart)).start_training());
  // 900 more while training: not enough for the follow-up; 100 more after: it fires.
  EXPECT_EQ(engine->on_labels(*OwnedLabels::unscored(1201, 900, kStart)).kind, DecisionKind::kNone);
  engine->training_finished(TrainingOutcome::kSucceeded);
  Decision decision = engine->on_labels(*OwnedLabels::unscored(2101, 100, kStart));
  ASSERT_TRUE(decision.start_training());
  EXPECT_EQ(decision.fires[0].evidence["window"]["first_seq"], 1201);
}

TEST(Engine, HeldFiresAreCappedAndCounted) {
  Fixture f({});
  f.a_knobs.fire_next = true;
  ASSERT_TRUE(f.engine->tick().start_training());
  f.b_knobs.fire_always = true;
  for (int i = 0; i < 300; ++i) f.engine->tick();
  EXPECT_EQ(f.engine->held_fires(), Engine::kMaxHeldFires);
  f.b_knobs.fire_always = false;
  Decision follow_up = f.engine->training_finished(TrainingOutcome::kSucceeded);
  ASSERT_TRUE(follow_up.start_training());
  EXPECT_EQ(follow_up.fires.size(), Engine::kMaxHeldFires);
  EXPECT_EQ(follow_up.omitted_fires, 300 - static_cast<std::int64_t>(Engine::kMaxHeldFires));
}

TEST(Engine, HistoryCarriesLimitsAcrossRestarts) {
  Fixture in_flight({}, {.last_training_started = kStart - minutes(5),
                         .last_training_finished = std::nullopt,
                         .training_in_flight = true});
  in_flight.a_knobs.fire_next = true;
  EXPECT_EQ(in_flight.engine->tick().deferred_by, DeferReason::kInFlight);
  Fixture cooling({.cooldown = hours(1), .min_interval = seconds(0)},
                  {.last_training_started = kStart - hours(2),
                   .last_training_finished = kStart - minutes(30),
                   .training_in_flight = false});
  cooling.a_knobs.fire_next = true;
  Decision held = cooling.engine->tick();
  EXPECT_EQ(held.deferred_by, DeferReason::kCooldown);
  EXPECT_EQ(held.not_before, kStart + minutes(30));
  // Three failures in a row before the restart: the backoff is 4 minutes from the last end.
  Fixture failing({.cooldown = seconds(0),
                   .min_interval = seconds(0),
                   .failure_backoff = minutes(1),
                   .failure_backoff_max = hours(1)},
                  {.last_training_started = kStart - minutes(3),
                   .last_training_finished = kStart - minutes(2),
                   .training_in_flight = false,
                   .consecutive_failures = 3});
  failing.a_knobs.fire_next = true;
  Decision backing_off = failing.engine->tick();
  EXPECT_EQ(backing_off.deferred_by, DeferReason::kFailureBackoff);
  EXPECT_EQ(backing_off.not_before, kStart + minutes(2));
}

TEST(Engine, TheEvaluationListenerSeesEveryEvaluationAndItsFire) {
  Fixture f({});
  std::vector<std::pair<std::string, std::string>> seen;  // trigger, its fire's trigger or ""
  f.engine->set_evaluation_listener([&](const Trigger& trigger, const Fire* fire) {
    seen.emplace_back(trigger.name(), fire != nullptr ? fire->trigger : "");
  });
  f.b_knobs.ready = false;  // warming up: not evaluated, so not reported
  f.engine->tick();
  f.a_knobs.fire_next = true;
  f.engine->on_labels(*OwnedLabels::unscored(1, 10, kStart));
  f.b_knobs.ready = true;
  f.engine->tick();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"a", ""}, {"a", "a"}, {"a", ""}, {"b", ""}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(f.a_log.evaluations, 3);
  EXPECT_EQ(f.b_log.evaluations, 1);

  f.engine->set_evaluation_listener({});  // removed: evaluations go on unreported
  f.engine->tick();
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_EQ(f.a_log.evaluations, 4);
}

TEST(Engine, InvalidConfiguration) {
  ManualClock clock(kStart);
  FakeTrigger::Knobs knobs;
  FakeTrigger::Log log;
  std::vector<std::unique_ptr<Trigger>> twins;
  twins.push_back(std::make_unique<FakeTrigger>("x", knobs, log));
  twins.push_back(std::make_unique<FakeTrigger>("x", knobs, log));
  auto duplicate = Engine::create("p", clock, {}, std::move(twins));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().message, "pipeline \"p\": two triggers are named \"x\"");
  auto negative =
      Engine::create("p", clock, {.cooldown = seconds(-1), .min_interval = seconds(0)}, {});
  EXPECT_FALSE(negative.ok());
  auto inverted = Engine::create("p", clock,
                                 {.cooldown = seconds(0),
                                  .min_interval = seconds(0),
                                  .failure_backoff = minutes(10),
                                  .failure_backoff_max = minutes(5)},
                                 {});
  ASSERT_FALSE(inverted.ok());
  EXPECT_EQ(inverted.error().message,
            "pipeline \"p\": failure_backoff must be >= 0 and failure_backoff_max >= "
            "failure_backoff");
}

}  // namespace
}  // namespace ctd::triggers

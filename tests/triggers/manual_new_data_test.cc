#include <gtest/gtest.h>

#include "tests/triggers/test_events.h"
#include "tests/triggers/test_time.h"
#include "triggers/manual_trigger.h"
#include "triggers/new_data_trigger.h"

namespace ctd::triggers {
namespace {

using testing::model;
using testing::OwnedLabels;
using testing::utc;

const TimePoint kStart = utc(2026, 11, 22, 8);

TEST(ManualTrigger, FiresOnceWithEveryQueuedReason) {
  auto trigger = ManualTrigger::create({}).value();
  EXPECT_EQ(trigger->name(), "manual");
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_FALSE(trigger->request("new labels from the audit", "alice", kStart));
  EXPECT_FALSE(trigger->request("schema fix deployed", "", kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart + std::chrono::seconds(1));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->kind, "manual");
  EXPECT_EQ(fire->reason,
            "requested by alice: new labels from the audit; requested by unknown: schema fix "
            "deployed");
  ASSERT_EQ(fire->evidence["requests"].size(), 2u);
  EXPECT_EQ(fire->evidence["requests"][0]["requested_by"], "alice");
  EXPECT_EQ(fire->evidence["requests"][1]["at"], "2026-11-22T08:00:00Z");
  EXPECT_FALSE(trigger->evaluate(kStart + std::chrono::seconds(2)));
}

TEST(ManualTrigger, ARequestNeedsAReason) {
  auto trigger = ManualTrigger::create({.name = "ops"}).value();
  std::optional<Error> error = trigger->request("  ", "bob", kStart);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "manual trigger \"ops\": a reason is required");
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_FALSE(ManualTrigger::create({.name = ""}).ok());
}

TEST(NewDataTrigger, FiresAtTheSampleCountAndResetsOnTraining) {
  auto trigger =
      NewDataTrigger::create({.name = "batch", .min_samples = 100, .min_fraction = 0}).value();
  EXPECT_TRUE(trigger->ready());  // a count needs no model
  trigger->on_labels(*OwnedLabels::unscored(1, 60, kStart));
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*OwnedLabels::unscored(61, 60, kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["value"], 120);
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 1);
  EXPECT_EQ(fire->evidence["window"]["last_seq"], 120);
  EXPECT_EQ(fire->evidence["met_by"], "min_samples");
  EXPECT_EQ(fire->evidence["threshold"], 100);
  EXPECT_EQ(fire->reason, "120 new labeled samples since the last training (>= min_samples 100)");
  // Consumed: no second fire for the same samples; the next needs 100 more.
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*OwnedLabels::unscored(121, 99, kStart));
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*OwnedLabels::unscored(220, 1, kStart));
  fire = trigger->evaluate(kStart + std::chrono::seconds(30));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 121);
  EXPECT_EQ(fire->evidence["window"]["since"], "2026-11-22T08:00:00Z");
  EXPECT_EQ(fire->evidence["samples_since_training"], 220);
  EXPECT_EQ(fire->reason,
            "100 new labeled samples since the last new-data fire (>= min_samples 100)");
  // A training start resets the count.
  trigger->on_labels(*OwnedLabels::unscored(221, 50, kStart));
  trigger->on_training_started(kStart + std::chrono::minutes(1));
  EXPECT_EQ(trigger->samples_since_training(), 0);
  trigger->on_labels(*OwnedLabels::unscored(621, 99, kStart));
  EXPECT_FALSE(trigger->evaluate(kStart));
  trigger->on_labels(*OwnedLabels::unscored(720, 1, kStart));
  fire = trigger->evaluate(kStart + std::chrono::minutes(2));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["first_seq"], 621);
  EXPECT_EQ(fire->evidence["window"]["since"], "2026-11-22T08:01:00Z");
}

TEST(NewDataTrigger, FractionOfTheProductionTrainingSetWaitsForAModel) {
  auto trigger =
      NewDataTrigger::create({.name = "growth", .min_samples = 0, .min_fraction = 0.25}).value();
  EXPECT_FALSE(trigger->ready());
  trigger->on_labels(*OwnedLabels::unscored(1, 1000, kStart));
  trigger->on_model_promoted(model(3, 10'000));
  EXPECT_TRUE(trigger->ready());
  EXPECT_FALSE(trigger->evaluate(kStart));  // 1000 < 2500
  trigger->on_labels(*OwnedLabels::unscored(1001, 1500, kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["fraction_threshold"], 2500);
  EXPECT_EQ(fire->evidence["threshold"], 2500);
  EXPECT_EQ(fire->evidence["met_by"], "min_fraction");
  EXPECT_EQ(fire->evidence["model_training_rows"], 10'000);
}

TEST(NewDataTrigger, EitherRuleFiresFirst) {
  auto trigger =
      NewDataTrigger::create({.name = "either", .min_samples = 5000, .min_fraction = 0.1}).value();
  trigger->on_model_promoted(model(1, 20'000));
  trigger->on_labels(*OwnedLabels::unscored(1, 2000, kStart));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["met_by"], "min_fraction");
}

TEST(NewDataTrigger, InvalidOptions) {
  auto none = NewDataTrigger::create({.name = "n", .min_samples = 0, .min_fraction = 0});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "new_data trigger \"n\": set min_samples and/or min_fraction");
  EXPECT_FALSE(NewDataTrigger::create({.name = "n", .min_samples = -1, .min_fraction = 0}).ok());
  EXPECT_FALSE(NewDataTrigger::create({.name = "n", .min_samples = 0, .min_fraction = -0.5}).ok());
}

}  // namespace
}  // namespace ctd::triggers

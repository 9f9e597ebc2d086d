#include "triggers/composite_trigger.h"

#include <gtest/gtest.h>

#include <array>

#include "tests/triggers/fake_trigger.h"
#include "tests/triggers/test_events.h"
#include "tests/triggers/test_time.h"

namespace ctd::triggers {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeTrigger;
using testing::utc;

const TimePoint kStart = utc(2026, 11, 22, 8);

// Three fake children "a", "b", "c" with their knobs and logs.
struct Children {
  std::array<FakeTrigger::Knobs, 3> knobs;
  std::array<FakeTrigger::Log, 3> logs;

  std::vector<std::unique_ptr<Trigger>> make(std::size_t count = 3) {
    std::vector<std::unique_ptr<Trigger>> children;
    const char* names[] = {"a", "b", "c"};
    for (std::size_t i = 0; i < count; ++i) {
      children.push_back(std::make_unique<FakeTrigger>(names[i], knobs[i], logs[i]));
    }
    return children;
  }
};

std::unique_ptr<CompositeTrigger> make(const CompositeOptions& options, Children& children,
                                       std::size_t count = 3) {
  auto created = CompositeTrigger::create(options, children.make(count));
  EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
  return std::move(created).value();
}

TEST(CompositeTrigger, AnyFiresWithTheChildsEvidence) {
  Children children;
  auto any = make({.name = "any", .mode = CompositeMode::kAny, .at_least = 1, .window = seconds(0)},
                  children);
  EXPECT_FALSE(any->evaluate(kStart));
  children.knobs[1].fire_next = true;
  std::optional<Fire> fire = any->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->kind, "composite");
  EXPECT_EQ(fire->evidence["fired"], 1);
  EXPECT_EQ(fire->evidence["children"][0]["trigger"], "b");
  EXPECT_EQ(fire->evidence["children"][0]["evidence"]["statistic"], "fake");
  EXPECT_EQ(fire->reason, "any of 3 children fired (b) within 0 s; b: fake condition");
}

TEST(CompositeTrigger, AllNeedsEveryChildWithinTheWindow) {
  Children children;
  auto all =
      make({.name = "all", .mode = CompositeMode::kAll, .at_least = 1, .window = seconds(600)},
           children);
  EXPECT_EQ(all->required(), 3u);
  children.knobs[0].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart));
  children.knobs[1].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart + minutes(5)));
  EXPECT_EQ(all->describe()["children"][0]["fired_at"], "2026-11-22T08:00:00Z");
  // "a" fired 11 minutes ago: expired when "c" fires.
  children.knobs[2].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart + minutes(11)));
  children.knobs[0].fire_next = true;
  std::optional<Fire> fire = all->evaluate(kStart + minutes(12));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["fired"], 3);
  EXPECT_EQ(fire->evidence["children"][1]["at"], "2026-11-22T08:05:00Z");
  // Consumed: nothing remembered afterwards.
  children.knobs[0].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart + minutes(13)));
}

TEST(CompositeTrigger, WindowZeroMeansTheSameEvaluation) {
  Children children;
  auto all =
      make({.name = "both", .mode = CompositeMode::kAll, .at_least = 1, .window = seconds(0)},
           children, 2);
  children.knobs[0].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart));
  children.knobs[1].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart + seconds(1)));
  children.knobs[0].fire_next = true;
  children.knobs[1].fire_next = true;
  EXPECT_TRUE(all->evaluate(kStart + seconds(2)));
}

TEST(CompositeTrigger, WithoutAWindowFiresCountUntilATraining) {
  Children children;
  auto all =
      make({.name = "all", .mode = CompositeMode::kAll, .at_least = 1, .window = std::nullopt},
           children, 2);
  children.knobs[0].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart));
  children.knobs[1].fire_next = true;
  std::optional<Fire> fire = all->evaluate(kStart + hours(30));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->reason.substr(0, 51), "all of 2 children fired (a, b) since the last train");
  EXPECT_TRUE(fire->evidence["window_seconds"].is_null());
}

TEST(CompositeTrigger, AtLeastTwoOfThree) {
  Children children;
  auto two =
      make({.name = "two", .mode = CompositeMode::kAtLeast, .at_least = 2, .window = seconds(3600)},
           children);
  children.knobs[2].fire_next = true;
  EXPECT_FALSE(two->evaluate(kStart));
  children.knobs[0].fire_next = true;
  std::optional<Fire> fire = two->evaluate(kStart + minutes(30));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["required"], 2);
  EXPECT_EQ(fire->reason.substr(0, 40), "at least 2 of 3 children fired (a, c) wi");
}

TEST(CompositeTrigger, ChildrenWarmingUpAreNotEvaluated) {
  Children children;
  auto all =
      make({.name = "all", .mode = CompositeMode::kAll, .at_least = 1, .window = seconds(60)},
           children, 2);
  children.knobs[1].ready = false;
  EXPECT_FALSE(all->ready());
  children.knobs[1].fire_always = true;
  children.knobs[0].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart));
  EXPECT_EQ(children.logs[1].evaluations, 0);
  EXPECT_FALSE(all->describe()["children"][1]["ready"].get<bool>());
  children.knobs[1].ready = true;
  EXPECT_TRUE(all->ready());
  EXPECT_TRUE(all->evaluate(kStart + seconds(30)));
}

TEST(CompositeTrigger, ForwardsEventsAndForgetsFiresWhenATrainingStarts) {
  Children children;
  auto all =
      make({.name = "all", .mode = CompositeMode::kAll, .at_least = 1, .window = seconds(3600)},
           children, 2);
  testing::OwnedLabels labels = testing::OwnedLabels::unscored(1, 3, kStart);
  all->on_labels(*labels);
  all->on_inferences(InferenceBatch{});
  all->on_metric(testing::metric("accuracy", 0.9, kStart));
  all->on_model_promoted(testing::model(1, 10));
  for (const auto& log : {children.logs[0], children.logs[1]}) {
    EXPECT_EQ(log.labels, 1);
    EXPECT_EQ(log.inferences, 1);
    EXPECT_EQ(log.metrics, 1);
    EXPECT_EQ(log.promotions, 1);
  }
  children.knobs[0].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart));
  all->on_training_started(kStart + seconds(1));
  EXPECT_EQ(children.logs[1].trainings_started, 1);
  children.knobs[1].fire_next = true;
  EXPECT_FALSE(all->evaluate(kStart + seconds(2)));  // "a"'s fire was answered by the training
}

TEST(CompositeTrigger, InvalidOptions) {
  Children children;
  auto empty = CompositeTrigger::create(
      {.name = "c", .mode = CompositeMode::kAny, .at_least = 1, .window = seconds(0)}, {});
  EXPECT_EQ(empty.error().message, "composite trigger \"c\": needs at least one child trigger");
  auto too_many = CompositeTrigger::create(
      {.name = "c", .mode = CompositeMode::kAtLeast, .at_least = 4, .window = seconds(0)},
      children.make());
  EXPECT_EQ(too_many.error().message,
            "composite trigger \"c\": at_least must be between 1 and the number of children (3)");
  std::vector<std::unique_ptr<Trigger>> twins;
  twins.push_back(std::make_unique<FakeTrigger>("x", children.knobs[0], children.logs[0]));
  twins.push_back(std::make_unique<FakeTrigger>("x", children.knobs[1], children.logs[1]));
  auto duplicate = CompositeTrigger::create(
      {.name = "c", .mode = CompositeMode::kAny, .at_least = 1, .window = seconds(0)},
      std::move(twins));
  EXPECT_EQ(duplicate.error().message, "composite trigger \"c\": two children are named \"x\"");
}

}  // namespace
}  // namespace ctd::triggers

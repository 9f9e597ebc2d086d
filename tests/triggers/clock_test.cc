#include <gtest/gtest.h>

#include "triggers/trigger.h"

namespace ctd::triggers {
namespace {

TEST(ManualClock, AdvancesOnlyWhenTold) {
  ManualClock clock(TimePoint{std::chrono::seconds(1000)});
  EXPECT_EQ(clock.now(), TimePoint{std::chrono::seconds(1000)});
  clock.advance(std::chrono::minutes(2));
  EXPECT_EQ(clock.now(), TimePoint{std::chrono::seconds(1120)});
  clock.set(TimePoint{std::chrono::seconds(5)});
  EXPECT_EQ(clock.now(), TimePoint{std::chrono::seconds(5)});
}

}  // namespace
}  // namespace ctd::triggers

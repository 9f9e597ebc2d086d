// epochs_throughput (daemon/training_service.h): the samples per second over whole epochs
// behind ctd_training_samples_per_second.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "daemon/training_service.h"

namespace ctd::training {
namespace {

TEST(EpochsThroughput, IsTheTotalOverTheTotalTimeOfEqualEpochs) {
  // 1,000 samples an epoch: 10 s at 100/s plus 5 s at 200/s is 2,000 samples in 15 s.
  ASSERT_TRUE(epochs_throughput({100, 200}));
  EXPECT_DOUBLE_EQ(*epochs_throughput({100, 200}), 2000.0 / 15);
  EXPECT_DOUBLE_EQ(*epochs_throughput({250}), 250);
}

TEST(EpochsThroughput, IgnoresRatesThatAreNotFiniteAndPositive) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(*epochs_throughput({nan, 100, 0, -5, inf, 300}), 150);
  EXPECT_FALSE(epochs_throughput({}));
  EXPECT_FALSE(epochs_throughput({0, nan}));
}

}  // namespace
}  // namespace ctd::training

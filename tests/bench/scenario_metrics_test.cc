// The scenario benchmark's metrics (bench/scenario/metrics.h) on hand-made prequential
// records: window accuracies, detection delays, the drop and recovery after a drift, the
// settled level, and the edge cases (no drop, no recovery, no start, a last partial window).
#include "bench/scenario/metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace ctd::bench {
namespace {

// `n` samples of which the first `right` are correct.
void append(Prequential& p, std::int64_t n, std::int64_t right) {
  for (std::int64_t i = 0; i < n; ++i) p.correct.push_back(i < right ? 1 : 0);
}

MetricOptions small_windows() {
  return {.window = 100, .pre_window = 200, .post_window = 100, .tolerance = 0.01};
}

TEST(ScenarioMetrics, AccuracyIsClippedToTheScoredRange) {
  Prequential p{.first = 50, .correct = {}};
  append(p, 100, 75);
  EXPECT_EQ(p.end(), 150);
  EXPECT_DOUBLE_EQ(*p.accuracy(0, 1000), 0.75);
  EXPECT_DOUBLE_EQ(*p.accuracy(50, 100), 1.0);
  EXPECT_DOUBLE_EQ(*p.accuracy(125, 150), 0.0);
  EXPECT_FALSE(p.accuracy(0, 50).has_value());
  EXPECT_FALSE(p.accuracy(150, 200).has_value());
}

TEST(ScenarioMetrics, WindowsDropAShortLastWindow) {
  Prequential p{.first = 0, .correct = {}};
  append(p, 100, 90);
  append(p, 100, 50);
  append(p, 40, 40);  // under half a window: left out
  EXPECT_EQ(window_accuracies(p, 0, 240, 100), (std::vector<double>{0.9, 0.5}));
  append(p, 20, 20);  // now 60 samples: kept
  EXPECT_EQ(window_accuracies(p, 0, 260, 100), (std::vector<double>{0.9, 0.5, 1.0}));
}

TEST(ScenarioMetrics, DetectionDelayIsTheFirstStartInTheSegment) {
  const std::vector<std::int64_t> starts = {500, 1200, 1700, 4000};
  EXPECT_EQ(detection_delay(starts, 1000, 3000), 200);
  EXPECT_EQ(detection_delay(starts, 1200, 3000), 0);  // a start at the drift's first sample
  EXPECT_EQ(detection_delay(starts, 1800, 4000), std::nullopt);  // 4000 is the next segment's
  EXPECT_EQ(detection_delay(starts, 5000, 6000), std::nullopt);
  EXPECT_EQ(detection_delay({}, 0, 10), std::nullopt);
}

TEST(ScenarioMetrics, DropAndRecoveryAfterADrift) {
  Prequential p{.first = 0, .correct = {}};
  append(p, 100, 90);
  append(p, 100, 90);  // before: 0.90 over [0, 200)
  append(p, 100, 60);  // drift at 200: 0.60, the worst
  append(p, 100, 70);
  append(p, 100, 85);  // below 0.89
  append(p, 100, 89);  // back within 0.01: the 4th window after the drift
  append(p, 100, 92);
  const std::vector<std::int64_t> drift = {200};
  const std::vector<std::int64_t> trainings = {150, 330, 600};
  const auto out = drift_outcomes(p, drift, trainings, small_windows());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(*out[0].before, 0.90);
  EXPECT_DOUBLE_EQ(*out[0].worst, 0.60);
  EXPECT_EQ(out[0].worst_at, 200);
  EXPECT_TRUE(out[0].dropped);
  EXPECT_EQ(out[0].recovered_after, 400);
  EXPECT_DOUBLE_EQ(*out[0].settled, 0.92);
  EXPECT_EQ(out[0].detection_delay, 130);
}

TEST(ScenarioMetrics, RecoveryCountsOnlyWindowsAfterTheWorst) {
  // A gradual drift: the first window after the start is still fine, then it drops.
  Prequential p{.first = 0, .correct = {}};
  append(p, 200, 180);  // before 0.90
  append(p, 100, 90);   // still 0.90
  append(p, 100, 70);   // the worst
  append(p, 100, 95);   // recovered here
  const auto out = drift_outcomes(p, std::vector<std::int64_t>{200}, {}, small_windows());
  EXPECT_EQ(out[0].worst_at, 300);
  EXPECT_EQ(out[0].recovered_after, 300);
  EXPECT_EQ(out[0].detection_delay, std::nullopt);
}

TEST(ScenarioMetrics, NoDropAndNoRecovery) {
  Prequential p{.first = 0, .correct = {}};
  append(p, 200, 180);  // before 0.90
  append(p, 100, 89);   // within the tolerance: no drop
  append(p, 200, 180);  // drift 2 at 300: windows 1.0, 0.8; before = [100, 300) = (80 + 89) / 200
  append(p, 100, 50);   // the worst
  append(p, 100, 80);   // never back within 0.01 of 0.845 by the end
  const std::vector<std::int64_t> drifts = {200, 300};
  const auto out = drift_outcomes(p, drifts, {}, small_windows());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].dropped);
  EXPECT_EQ(out[0].recovered_after, 0);
  EXPECT_DOUBLE_EQ(*out[0].settled, 0.89);  // the segment [200, 300) ends at the next drift
  EXPECT_DOUBLE_EQ(*out[1].before, 0.845);
  EXPECT_TRUE(out[1].dropped);
  EXPECT_DOUBLE_EQ(*out[1].worst, 0.5);
  EXPECT_EQ(out[1].recovered_after, std::nullopt);
  EXPECT_DOUBLE_EQ(*out[1].settled, 0.8);
}

TEST(ScenarioMetrics, RecoveryStopsAtTheSegmentEnd) {
  Prequential p{.first = 0, .correct = {}};
  append(p, 200, 180);
  append(p, 100, 50);
  append(p, 60, 60);  // a short last window, counted, ends the stream at 360
  const auto out = drift_outcomes(p, std::vector<std::int64_t>{200}, {}, small_windows());
  EXPECT_EQ(out[0].recovered_after, 160);
}

}  // namespace
}  // namespace ctd::bench

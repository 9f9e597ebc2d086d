#include "daemon/metrics.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ctd::metrics {
namespace {

TEST(MetricsTest, CounterWithLabelsRendersOneSamplePerChildInLabelValueOrder) {
  Registry registry;
  auto& requests = registry.counter("ctd_requests_total", "Requests served.", {"path", "code"});
  requests.with({"/metrics", "200"}).inc();
  requests.with({"/healthz", "200"}).inc(2.5);
  requests.with({"/metrics", "200"}).inc();

  EXPECT_EQ(registry.render(),
            "# HELP ctd_requests_total Requests served.\n"
            "# TYPE ctd_requests_total counter\n"
            "ctd_requests_total{path=\"/healthz\",code=\"200\"} 2.5\n"
            "ctd_requests_total{path=\"/metrics\",code=\"200\"} 2\n");
}

TEST(MetricsTest, LabelLessFamilyRendersZeroFromRegistration) {
  Registry registry;
  registry.gauge("ctd_queue_depth", "Queued samples.");
  registry.counter("ctd_events_total", "Events.");

  EXPECT_EQ(registry.render(),
            "# HELP ctd_queue_depth Queued samples.\n"
            "# TYPE ctd_queue_depth gauge\n"
            "ctd_queue_depth 0\n"
            "# HELP ctd_events_total Events.\n"
            "# TYPE ctd_events_total counter\n"
            "ctd_events_total 0\n");
}

TEST(MetricsTest, LabelledFamilyWithoutChildrenRendersOnlyHelpAndType) {
  Registry registry;
  registry.counter("ctd_errors_total", "Errors.", {"kind"});

  EXPECT_EQ(registry.render(),
            "# HELP ctd_errors_total Errors.\n"
            "# TYPE ctd_errors_total counter\n");
}

TEST(MetricsTest, GaugeGoesUpAndDownAndRendersSpecialValues) {
  Registry registry;
  auto& gauge = registry.gauge("g", "A gauge.", {"case"});
  gauge.with({"a"}).set(10);
  gauge.with({"a"}).inc(0.25);
  gauge.with({"a"}).dec(3);
  gauge.with({"b"}).set(std::numeric_limits<double>::quiet_NaN());
  gauge.with({"c"}).set(std::numeric_limits<double>::infinity());
  gauge.with({"d"}).set(-std::numeric_limits<double>::infinity());
  gauge.with({"e"}).set(0.1);

  EXPECT_DOUBLE_EQ(gauge.with({"a"}).value(), 7.25);
  EXPECT_EQ(registry.render(),
            "# HELP g A gauge.\n"
            "# TYPE g gauge\n"
            "g{case=\"a\"} 7.25\n"
            "g{case=\"b\"} NaN\n"
            "g{case=\"c\"} +Inf\n"
            "g{case=\"d\"} -Inf\n"
            "g{case=\"e\"} 0.1\n");
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsSumAndCount) {
  Registry registry;
  auto& latency = registry.histogram("ctd_latency_seconds", "Latency.", {0.25, 1}, {"stage"});
  auto& train = latency.with({"train"});
  train.observe(0.125);
  train.observe(0.25);  // on the bound: counts in le="0.25"
  train.observe(0.5);
  train.observe(2);

  EXPECT_EQ(registry.render(),
            "# HELP ctd_latency_seconds Latency.\n"
            "# TYPE ctd_latency_seconds histogram\n"
            "ctd_latency_seconds_bucket{stage=\"train\",le=\"0.25\"} 2\n"
            "ctd_latency_seconds_bucket{stage=\"train\",le=\"1\"} 3\n"
            "ctd_latency_seconds_bucket{stage=\"train\",le=\"+Inf\"} 4\n"
            "ctd_latency_seconds_sum{stage=\"train\"} 2.875\n"
            "ctd_latency_seconds_count{stage=\"train\"} 4\n");
}

TEST(MetricsTest, LabelLessHistogramRendersLeAsOnlyLabel) {
  Registry registry;
  registry.histogram("h", "H.", {1, std::numeric_limits<double>::infinity()}).get().observe(1);

  EXPECT_EQ(registry.render(),
            "# HELP h H.\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 1\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 1\n"
            "h_count 1\n");
}

TEST(MetricsTest, HistogramSnapshotCountsNaNInInfBucket) {
  Histogram histogram({1.0});
  histogram.observe(std::nan(""));
  const Histogram::Snapshot snapshot = histogram.snapshot();

  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(snapshot.count, 1u);
}

TEST(MetricsTest, HistogramRejectsUnsortedBounds) {
  Registry registry;
  EXPECT_THROW(registry.histogram("h", "H.", {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "H.", {2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({std::nan("")}), std::invalid_argument);
}

TEST(MetricsTest, EscapesHelpAndLabelValues) {
  Registry registry;
  registry.counter("c", "Line one\nback\\slash \"quoted\"", {"value"}).with({"a\\b\"c\"\nd"}).inc();

  EXPECT_EQ(registry.render(),
            "# HELP c Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE c counter\n"
            "c{value=\"a\\\\b\\\"c\\\"\\nd\"} 1\n");
}

TEST(MetricsTest, FamiliesRenderInRegistrationOrder) {
  Registry registry;
  registry.gauge("zeta", "Z.");
  registry.counter("alpha", "A.");
  registry.gauge("mu", "M.");

  const std::string text = registry.render();
  const auto zeta = text.find("# HELP zeta");
  const auto alpha = text.find("# HELP alpha");
  const auto mu = text.find("# HELP mu");
  ASSERT_NE(zeta, std::string::npos);
  EXPECT_LT(zeta, alpha);
  EXPECT_LT(alpha, mu);
}

TEST(MetricsTest, DuplicateNameIsRejectedAcrossKinds) {
  Registry registry;
  registry.counter("ctd_x", "X.");
  EXPECT_THROW(registry.counter("ctd_x", "again"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("ctd_x", "again"), std::invalid_argument);
  EXPECT_THROW(registry.histogram("ctd_x", "again", {1}), std::invalid_argument);
  EXPECT_EQ(registry.render(), "# HELP ctd_x X.\n# TYPE ctd_x counter\nctd_x 0\n");
}

TEST(MetricsTest, InvalidNamesAreRejected) {
  Registry registry;
  EXPECT_THROW(registry.counter("", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("9lives", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("has-dash", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok", "x", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("ok", "x", {1}, {"le"}), std::invalid_argument);
  EXPECT_NO_THROW(registry.counter("ns:sub_total", "x", {"_label9"}));
}

TEST(MetricsTest, WrongLabelCountIsRejected) {
  Registry registry;
  auto& labelled = registry.counter("c", "C.", {"a", "b"});
  auto& plain = registry.gauge("g", "G.");

  EXPECT_THROW(labelled.with({"only-one"}), std::invalid_argument);
  EXPECT_THROW(labelled.with({"1", "2", "3"}), std::invalid_argument);
  EXPECT_THROW(labelled.get(), std::invalid_argument);
  EXPECT_THROW(plain.with({"unexpected"}), std::invalid_argument);
  EXPECT_NO_THROW(plain.get());
}

TEST(MetricsTest, WithReturnsTheSameChildForTheSameValues) {
  Registry registry;
  auto& family = registry.counter("c", "C.", {"a"});
  EXPECT_EQ(&family.with({"x"}), &family.with({"x"}));
  EXPECT_NE(&family.with({"x"}), &family.with({"y"}));
}

TEST(MetricsTest, RetiredChildIsNotRenderedUntilLookedUpAgain) {
  Registry registry;
  auto& drift = registry.gauge("ctd_drift", "Drift.", {"feature"});
  Gauge& age = drift.with({"age"});
  age.set(0.5);
  drift.with({"income"}).set(0.25);
  drift.retire({"age"});
  drift.retire({"height"});  // no such child: nothing to retire, nothing created
  EXPECT_EQ(registry.render(),
            "# HELP ctd_drift Drift.\n"
            "# TYPE ctd_drift gauge\n"
            "ctd_drift{feature=\"income\"} 0.25\n");
  int visited = 0;
  drift.for_each([&](const LabelValues& values, const Gauge&) {
    EXPECT_EQ(values, LabelValues{"income"});
    ++visited;
  });
  EXPECT_EQ(visited, 1);
  age.set(0.75);  // the reference stays valid while retired
  EXPECT_EQ(&drift.with({"age"}), &age);
  EXPECT_EQ(registry.render(),
            "# HELP ctd_drift Drift.\n"
            "# TYPE ctd_drift gauge\n"
            "ctd_drift{feature=\"age\"} 0.75\n"
            "ctd_drift{feature=\"income\"} 0.25\n");
}

TEST(MetricsTest, NegativeCounterIncrementIsIgnored) {
  Registry registry;
  auto& counter = registry.counter("c", "C.").get();
  counter.inc(3);
  counter.inc(-1);
  counter.inc(std::nan(""));
  EXPECT_EQ(counter.value(), 3);
}

TEST(MetricsTest, ConcurrentIncrementsSumCorrectly) {
  constexpr int kThreads = 4;
  constexpr int kIncrementsPerThread = 100000;
  Registry registry;
  auto& counter = registry.counter("c", "C.").get();
  auto& gauge = registry.gauge("g", "G.").get();
  auto& histogram = registry.histogram("h", "H.", {0.5}).get();

  std::vector<std::thread> threads;
  for (int thread_index = 0; thread_index < kThreads; ++thread_index) {
    threads.emplace_back([&] {
      for (int step = 0; step < kIncrementsPerThread; ++step) {
        counter.inc();
        gauge.inc(2);
        histogram.observe(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  constexpr double kTotal = kThreads * kIncrementsPerThread;
  EXPECT_EQ(counter.value(), kTotal);
  EXPECT_EQ(gauge.value(), 2 * kTotal);
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.count, static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(snapshot.sum, kTotal);
}

TEST(MetricsTest, OnCollectCallbacksRunAtEveryRenderBeforeSamples) {
  Registry registry;
  auto& renders = registry.gauge("ctd_renders", "Renders so far.").get();
  int calls = 0;
  registry.on_collect([&] { renders.set(++calls); });

  EXPECT_EQ(calls, 0);
  EXPECT_NE(registry.render().find("ctd_renders 1\n"), std::string::npos);
  EXPECT_NE(registry.render().find("ctd_renders 2\n"), std::string::npos);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace ctd::metrics

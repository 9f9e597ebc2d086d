// ctd's side of bench/drift: a drift check over FEATURES numeric features with a REF_ROWS
// reference and a CUR_ROWS current window, through ctd's bounded summaries.
//
// usage: drift_bench FEATURES REF_ROWS CUR_ROWS SEED   (prints one JSON document)
//
// The data are generated, not read: value(stream, feature, row) is a deterministic hash
// (splitmix64) turned into a triangular variate, computed identically (to the bit) by
// bench/drift_baseline.py with numpy. Current-window features f % 10 == 0 are shifted by 0.3,
// f % 10 == 5 scaled by 1.5; the others follow the reference's distribution.
//
// Timed (single-threaded, as the trigger runs; the check also on two threads, each counting
// half the rows, then merged): the reference summary build (both passes, fed 10,000-row chunks that
// are generated untimed), and the steady-state check: summarising the current window (a row-major
// FeatureBatchView of CUR_ROWS rows, generated untimed) and comparing it with the reference.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "triggers/drift_check.h"
#include "triggers/drift_stats.h"
#include "triggers/drift_summary.h"

namespace {

namespace drift = ctd::triggers::drift;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReferenceChunkRows = 10000;
constexpr double kPsiThreshold = 0.1;
constexpr double kJsThreshold = 0.1;
constexpr double kAlpha = 0.05;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

double unit(std::uint64_t key) { return static_cast<double>(splitmix64(key) >> 11) * 0x1p-53; }

// stream 0: reference, 1: current.
double value(std::uint64_t seed, std::uint64_t stream, std::uint64_t feature, std::uint64_t row) {
  const std::uint64_t key = (seed * 0x100000001B3ull) ^ (stream << 56) ^ (feature << 32) ^ row;
  const double triangular = unit(key) + unit(key ^ (1ull << 55)) - 1.0;
  if (stream == 1 && feature % 10 == 0) return triangular + 0.3;
  if (stream == 1 && feature % 10 == 5) return triangular * 1.5;
  return triangular;
}

struct Rows {
  std::vector<double> values;
  ctd::triggers::FeatureBatchView view;
};

void generate(Rows& rows, std::uint64_t seed, std::uint64_t stream, std::size_t features,
              std::size_t first_row, std::size_t count) {
  rows.values.resize(count * features);
  for (std::size_t r = 0; r < count; ++r) {
    for (std::size_t f = 0; f < features; ++f) {
      rows.values[r * features + f] = value(seed, stream, f, first_row + r);
    }
  }
  rows.view = {.rows = count,
               .numeric_width = features,
               .categorical_width = 0,
               .numeric = rows.values,
               .categorical = {},
               .categorical_set = {}};
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss * 1024.0 / 1e6;  // ru_maxrss is in KiB
}

std::size_t summary_bytes(const drift::FeatureCounts& counts) {
  std::size_t bytes = 0;
  for (const drift::NumericCounts& c : counts.numeric)
    bytes += 2 * c.counts.size() * sizeof(double);
  return bytes;
}

// Feature indices drifted by each metric's static rule (KS: Bonferroni over the features).
nlohmann::json decisions(const drift::DriftReport& report) {
  std::vector<double> p_values;
  for (const drift::FeatureDrift& f : report.features) p_values.push_back(*f.statistics.ks_p_value);
  const std::vector<double> adjusted = drift::bonferroni(p_values);
  std::vector<int> psi, js, ks;
  for (std::size_t i = 0; i < report.features.size(); ++i) {
    const drift::FeatureStatistics& s = report.features[i].statistics;
    if (*s.psi >= kPsiThreshold) psi.push_back(static_cast<int>(i));
    if (*s.jensen_shannon >= kJsThreshold) js.push_back(static_cast<int>(i));
    if (adjusted[i] < kAlpha) ks.push_back(static_cast<int>(i));
  }
  return {{"psi", psi}, {"js", js}, {"ks_bonferroni", ks}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: drift_bench FEATURES REF_ROWS CUR_ROWS SEED\n";
    return 2;
  }
  const std::size_t features = std::stoul(argv[1]);
  const std::size_t reference_rows = std::stoul(argv[2]);
  const std::size_t current_rows = std::stoul(argv[3]);
  const std::uint64_t seed = std::stoull(argv[4]);

  ctd::triggers::FeatureLayout layout;
  for (std::size_t f = 0; f < features; ++f)
    layout.numeric.push_back(std::string("f").append(std::to_string(f)));
  drift::SummaryOptions options;  // 100 fine bins, 10 coarse, 50,000-row edge sample

  // Cold path, part 1: the reference summary, two passes over generated chunks.
  double build_seconds = 0;
  drift::ReferenceBuilder builder(drift::FeatureColumns::select(layout, {}, nullptr), options);
  Rows chunk;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t first = 0; first < reference_rows; first += kReferenceChunkRows) {
      generate(chunk, seed, 0, features, first,
               std::min(kReferenceChunkRows, reference_rows - first));
      const Clock::time_point start = Clock::now();
      if (pass == 0) {
        builder.sample(chunk.view);
      } else {
        builder.count(chunk.view);
      }
      build_seconds += seconds_since(start);
    }
  }
  Clock::time_point start = Clock::now();
  const drift::ReferenceSummary reference = builder.finish();
  build_seconds += seconds_since(start);
  chunk = Rows{};

  // Steady state: summarise the current window and compare.
  Rows current;
  generate(current, seed, 1, features, 0, current_rows);
  drift::DecisionOptions decision;
  decision.numeric_metric = drift::DriftMetric::kKolmogorovSmirnov;
  decision.correction = drift::Correction::kBonferroni;
  start = Clock::now();
  drift::FeatureCounts counts(reference);
  counts.add(current.view, 0, current.view.rows, reference);
  const double summarise_seconds = seconds_since(start);
  // The same summary on two threads: each counts half the rows, then one merge.
  start = Clock::now();
  drift::FeatureCounts first_half(reference), second_half(reference);
  const std::size_t middle = current.view.rows / 2;
  std::thread helper([&] { second_half.add(current.view, middle, current.view.rows, reference); });
  first_half.add(current.view, 0, middle, reference);
  helper.join();
  first_half.merge(second_half);
  const double summarise_two_threads_seconds = seconds_since(start);
  if (first_half.numeric[0].counts != counts.numeric[0].counts) {
    std::cerr << "two-thread summary differs\n";
    return 1;
  }
  start = Clock::now();
  const drift::DriftReport report = drift::check(reference, counts, decision, nullptr);
  const double compare_seconds = seconds_since(start);

  const nlohmann::json out = {
      {"features", features},
      {"reference_rows", reference_rows},
      {"current_rows", current_rows},
      {"reference_build_seconds", build_seconds},
      {"summarise_seconds", summarise_seconds},
      {"compare_seconds", compare_seconds},
      {"check_seconds", summarise_seconds + compare_seconds},
      {"check_two_threads_seconds", summarise_two_threads_seconds + compare_seconds},
      {"cold_seconds", build_seconds + summarise_seconds + compare_seconds},
      {"reference_summary_bytes", summary_bytes(reference.counts())},
      {"window_summary_bytes", summary_bytes(counts)},
      {"current_batch_bytes", current.values.size() * sizeof(double)},
      {"peak_rss_mb", peak_rss_mb()},
      {"dataset_drift", report.dataset.drifted},
      {"drifted_features", report.dataset.drifted_features},
      {"decisions", decisions(report)},
  };
  std::cout << out.dump() << "\n";
  return 0;
}

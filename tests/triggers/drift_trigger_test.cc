// DriftTrigger: warm-up until a reference exists, tumbling and sliding windows over the
// configured source, and the evidence a fire carries. No sleeps: batches carry their times.
#include <gtest/gtest.h>

#include <random>

#include "tests/triggers/drift_oracle.h"
#include "triggers/drift_trigger.h"

namespace ctd::triggers {
namespace {

using testing::Table;
const TimePoint kStart{std::chrono::seconds(1'700'000'000)};

FeatureLayout layout() {
  FeatureLayout l;
  l.numeric = {"age", "income"};
  l.categorical = {"country"};
  return l;
}

// `rows` rows: age ~ N(40 + age_shift, 10), income ~ N(1000, 100), country from {de, fr, it}
// (or "jp", unseen, when `unseen`).
Table rows_of(std::mt19937_64& random, std::size_t rows, double age_shift, bool unseen = false) {
  std::vector<std::optional<std::string>> country;
  const char* names[] = {"de", "fr", "it"};
  for (std::size_t i = 0; i < rows; ++i) {
    country.emplace_back(unseen && i % 2 == 0 ? "jp" : names[i % 3]);
  }
  return Table({testing::normal_values(random, rows, 40 + age_shift, 10),
                testing::normal_values(random, rows, 1000, 100)},
               {country});
}

std::unique_ptr<DriftTrigger> make(DriftTriggerOptions options) {
  auto created = DriftTrigger::create(std::move(options));
  if (auto* problem = std::get_if<std::string>(&created)) {
    ADD_FAILURE() << *problem;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<DriftTrigger>>(created));
}

DriftTriggerOptions options(drift::WindowOptions window) {
  DriftTriggerOptions o;
  o.name = "feature-drift";
  o.layout = layout();
  o.window = window;
  o.decision.rule = drift::DatasetRule::kAny;
  return o;
}

ModelContext model(std::int64_t version, const FeatureBatchView* reference) {
  ModelContext context;
  context.version = version;
  context.reference = reference;
  return context;
}

LabeledBatch labeled(std::int64_t first_seq, FeatureBatchView features,
                     std::span<const double> labels) {
  LabeledBatch batch;
  batch.first_seq = first_seq;
  batch.features = features;
  batch.labels = labels;
  batch.at = kStart;
  return batch;
}

InferenceBatch inferences(const Table& table, std::size_t begin, std::size_t end, TimePoint at) {
  return InferenceBatch{.features = table.slice(begin, end), .at = at};
}

TEST(DriftTrigger, RejectsBadOptions) {
  DriftTriggerOptions bad = options({});
  bad.features = {"age", "height"};
  auto created = DriftTrigger::create(bad);
  ASSERT_TRUE(std::holds_alternative<std::string>(created));
  EXPECT_NE(std::get<std::string>(created).find("height"), std::string::npos);
  bad = options({.kind = drift::WindowKind::kSliding, .size = 100, .panes = 7});
  EXPECT_TRUE(std::holds_alternative<std::string>(DriftTrigger::create(bad)));
  bad = options({});
  bad.decision.numeric_metric = drift::DriftMetric::kChiSquared;
  EXPECT_TRUE(std::holds_alternative<std::string>(DriftTrigger::create(bad)));
  bad = options({});
  bad.decision.numeric_metric = drift::DriftMetric::kKolmogorovSmirnov;
  bad.decision.numeric_threshold = 5;  // alpha
  EXPECT_TRUE(std::holds_alternative<std::string>(DriftTrigger::create(bad)));
  bad.decision.numeric_threshold = 0.01;
  EXPECT_TRUE(std::holds_alternative<std::unique_ptr<DriftTrigger>>(DriftTrigger::create(bad)));
}

TEST(DriftTrigger, WarmsUpUntilAModelWithAReferenceIsPromoted) {
  std::mt19937_64 random(1);
  auto trigger = make(options({.size = 500}));
  ASSERT_TRUE(trigger);
  EXPECT_EQ(trigger->kind(), "drift");
  EXPECT_FALSE(trigger->ready());
  const Table shifted = rows_of(random, 1000, 30);
  trigger->on_inferences(inferences(shifted, 0, 1000, kStart));
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_EQ(trigger->describe()["checks"], 0);
  trigger->on_model_promoted(model(1, nullptr));
  EXPECT_FALSE(trigger->ready());  // a model without a snapshot gives no reference
  const Table reference = rows_of(random, 3000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(2, &view));
  EXPECT_TRUE(trigger->ready());
  EXPECT_EQ(trigger->describe()["window_rows"], 0);  // rows before the reference were ignored
}

TEST(DriftTrigger, TumblingWindowFiresOnceWithEvidence) {
  std::mt19937_64 random(2);
  auto trigger = make(options({.kind = drift::WindowKind::kTumbling, .size = 1000}));
  const Table reference = rows_of(random, 5000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(7, &view));

  const Table same = rows_of(random, 1000, 0);
  trigger->on_inferences(inferences(same, 0, 600, kStart));
  trigger->on_inferences(inferences(same, 600, 1000, kStart + std::chrono::seconds(5)));
  EXPECT_FALSE(trigger->evaluate(kStart + std::chrono::seconds(6)));
  EXPECT_EQ(trigger->describe()["checks"], 1);
  EXPECT_EQ(trigger->describe()["last_check"]["drifted"], false);

  const Table shifted = rows_of(random, 1500, 15, /*unseen=*/true);
  const TimePoint at = kStart + std::chrono::seconds(10);
  trigger->on_inferences(inferences(shifted, 0, 1500, at));  // completes one window, half another
  EXPECT_EQ(trigger->describe()["checks"], 2);
  EXPECT_EQ(trigger->describe()["window_rows"], 500);
  const std::optional<Fire> fire = trigger->evaluate(at);
  ASSERT_TRUE(fire);
  EXPECT_FALSE(trigger->evaluate(at));  // consumed
  EXPECT_EQ(fire->trigger, "feature-drift");
  EXPECT_EQ(fire->kind, "drift");
  EXPECT_NE(fire->reason.find("rows 1000..1999"), std::string::npos) << fire->reason;
  const nlohmann::json& e = fire->evidence;
  EXPECT_EQ(e["window"]["kind"], "tumbling");
  EXPECT_EQ(e["window"]["first_row"], 1000);
  EXPECT_EQ(e["window"]["last_row"], 1999);
  EXPECT_EQ(e["window"]["rows"], 1000);
  EXPECT_EQ(e["reference"]["model_version"], 7);
  EXPECT_EQ(e["reference"]["rows"], 5000);
  EXPECT_EQ(e["dataset"]["drifted"], true);
  ASSERT_EQ(e["features"].size(), 3u);
  EXPECT_EQ(e["features"][0]["feature"], "age");
  EXPECT_EQ(e["features"][0]["drifted"], true);
  EXPECT_GT(e["features"][0]["statistics"]["wasserstein"].get<double>(), 1.0);
  EXPECT_EQ(e["features"][1]["feature"], "income");
  EXPECT_EQ(e["features"][1]["drifted"], false);
  EXPECT_EQ(e["features"][2]["current"]["unseen"], 500);
  EXPECT_EQ(e["features"][2]["current"]["unseen_examples"]["jp"], 500);
  EXPECT_EQ(e["features"][2]["drifted"], true);

  // describe() keeps each feature's decision of the last check (the metrics export reads it).
  const nlohmann::json last = trigger->describe()["last_check"]["features"];
  ASSERT_EQ(last.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(last[i]["feature"], e["features"][i]["feature"]);
    EXPECT_EQ(last[i]["metric"], e["features"][i]["metric"]);
    EXPECT_EQ(last[i]["value"], e["features"][i]["value"]);
    EXPECT_EQ(last[i]["threshold"], e["features"][i]["threshold"]);
    EXPECT_EQ(last[i]["drifted"], e["features"][i]["drifted"]);
    EXPECT_EQ(last[i]["evaluated"], true);
  }
  EXPECT_EQ(last[0]["metric"], "wasserstein");
  EXPECT_EQ(last[2]["metric"], "jensen_shannon");
}

TEST(DriftTrigger, SlidingWindowChecksEveryPaneOverTheLastSizeRows) {
  std::mt19937_64 random(3);
  DriftTriggerOptions o = options({.kind = drift::WindowKind::kSliding, .size = 800, .panes = 4});
  o.features = {"age"};
  auto trigger = make(o);
  const Table reference = rows_of(random, 4000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  const Table same = rows_of(random, 1000, 0);
  trigger->on_inferences(inferences(same, 0, 1000, kStart));
  // Full at 800 rows, then one check per 200: at 800 and 1000.
  EXPECT_EQ(trigger->describe()["checks"], 2);
  EXPECT_EQ(trigger->describe()["last_check"]["window"]["first_row"], 200);
  EXPECT_EQ(trigger->describe()["last_check"]["window"]["last_row"], 999);
  EXPECT_FALSE(trigger->evaluate(kStart));
  // A shift in one pane (200 rows of 800) is a quarter of the window: the
  // evidence's statistic is that of exactly the last 800 rows.
  const Table shifted = rows_of(random, 200, 40);
  trigger->on_inferences(inferences(shifted, 0, 200, kStart + std::chrono::seconds(1)));
  const std::optional<Fire> fire = trigger->evaluate(kStart + std::chrono::seconds(1));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["first_row"], 400);
  EXPECT_EQ(fire->evidence["window"]["last_row"], 1199);
  EXPECT_EQ(fire->evidence["window"]["panes"], 4);
  ASSERT_EQ(fire->evidence["features"].size(), 1u);
  // Same rows summarised directly.
  std::vector<double> last_rows;
  for (std::size_t r = 400; r < 1000; ++r) last_rows.push_back(same.view().numeric_at(r, 0));
  for (std::size_t r = 0; r < 200; ++r) last_rows.push_back(shifted.view().numeric_at(r, 0));
  const Table window({last_rows}, {});
  FeatureLayout age_only;
  age_only.numeric = {"age"};
  std::vector<double> ref_age;
  for (std::size_t r = 0; r < reference.rows(); ++r) ref_age.push_back(view.numeric_at(r, 0));
  const Table ref_table({ref_age}, {});
  const drift::ReferenceSummary summary = drift::build_reference(
      ref_table.view(), drift::FeatureColumns::select(age_only, {}, nullptr), {});
  drift::FeatureCounts counts(summary);
  counts.add(window.view(), 0, window.rows(), summary);
  const drift::DriftReport direct = drift::check(summary, counts, {}, nullptr);
  EXPECT_NEAR(fire->evidence["features"][0]["statistics"]["wasserstein"].get<double>(),
              *direct.features[0].statistics.wasserstein, 1e-12);
  EXPECT_NEAR(fire->evidence["features"][0]["statistics"]["psi"].get<double>(),
              *direct.features[0].statistics.psi, 1e-12);
}

TEST(DriftTrigger, TumblingWindowWithASampleGivesTheExactKsStatistic) {
  std::mt19937_64 random(6);
  auto trigger =
      make(options({.kind = drift::WindowKind::kTumbling, .size = 500, .ks_sample = 500}));
  const Table reference = rows_of(random, 3000, 0);  // fewer rows than the edge sample: all kept
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  const Table shifted = rows_of(random, 500, 3);
  trigger->on_inferences(inferences(shifted, 0, 200, kStart));
  trigger->on_inferences(inferences(shifted, 200, 500, kStart));
  const std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  std::vector<double> ref_age, cur_age;
  for (std::size_t r = 0; r < reference.rows(); ++r) ref_age.push_back(view.numeric_at(r, 0));
  for (std::size_t r = 0; r < shifted.rows(); ++r)
    cur_age.push_back(shifted.view().numeric_at(r, 0));
  const nlohmann::json oracle = testing::run_oracle({{"op", "numeric"},
                                                     {"reference", ref_age},
                                                     {"current", cur_age},
                                                     {"bins", 100},
                                                     {"coarse_bins", 10}});
  const nlohmann::json& age = fire->evidence["features"][0]["statistics"];
  EXPECT_NEAR(age["ks_statistic"].get<double>(), oracle["ks_statistic"].get<double>(), 1e-9);
  EXPECT_NEAR(age["ks_p_value"].get<double>(), oracle["ks_p_value"].get<double>(), 1e-9);
  EXPECT_EQ(age["ks_error_bound"], 0.0);
  EXPECT_EQ(age["ks_sample_reference"], 3000);
  EXPECT_EQ(age["ks_sample_current"], 500);

  DriftTriggerOptions sliding =
      options({.kind = drift::WindowKind::kSliding, .size = 100, .panes = 4, .ks_sample = 50});
  EXPECT_TRUE(std::holds_alternative<std::string>(DriftTrigger::create(sliding)));
}

TEST(DriftTrigger, ABoundedKsSampleOfALargerWindowIsReportedAsSuch) {
  std::mt19937_64 random(7);
  auto trigger =
      make(options({.kind = drift::WindowKind::kTumbling, .size = 1000, .ks_sample = 100}));
  const Table reference = rows_of(random, 2000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  const Table shifted = rows_of(random, 1000, 20);
  trigger->on_inferences(inferences(shifted, 0, 1000, kStart));
  const std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  const nlohmann::json& age = fire->evidence["features"][0]["statistics"];
  EXPECT_EQ(age["ks_sample_current"], 100);
  EXPECT_GT(age["ks_statistic"].get<double>(), 0.5);
}

TEST(DriftTrigger, TimeWindowsCloseAtTheNextPeriodOrAtATickPastTheirEnd) {
  std::mt19937_64 random(9);
  drift::WindowOptions window;
  window.duration = std::chrono::minutes(1);
  auto trigger = make(options(window));
  const Table reference = rows_of(random, 2000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  // A whole minute since the epoch: the first period is [start, start + 1 min).
  const TimePoint start{std::chrono::minutes(28'333'334)};
  const Table same = rows_of(random, 600, 0);
  trigger->on_inferences(inferences(same, 0, 300, start + std::chrono::seconds(5)));
  trigger->on_inferences(inferences(same, 300, 600, start + std::chrono::seconds(50)));
  EXPECT_FALSE(trigger->evaluate(start + std::chrono::seconds(59)));
  EXPECT_EQ(trigger->describe()["checks"], 0);
  EXPECT_EQ(trigger->describe()["window_rows"], 600);
  // A batch of the next period closes the first window (no drift) and opens the second.
  const Table shifted = rows_of(random, 400, 25);
  trigger->on_inferences(inferences(shifted, 0, 400, start + std::chrono::seconds(70)));
  EXPECT_EQ(trigger->describe()["checks"], 1);
  EXPECT_EQ(trigger->describe()["last_check"]["window"]["rows"], 600);
  EXPECT_EQ(trigger->describe()["last_check"]["drifted"], false);
  EXPECT_FALSE(trigger->evaluate(start + std::chrono::seconds(100)));
  // No batch after it: a tick past the second period's end checks it.
  const std::optional<Fire> fire = trigger->evaluate(start + std::chrono::seconds(120));
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["rows"], 400);
  EXPECT_EQ(fire->evidence["window"]["first_row"], 600);
  EXPECT_EQ(fire->evidence["window"]["duration_ms"], 60000);
  const auto end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      (start + std::chrono::minutes(2)).time_since_epoch());
  EXPECT_EQ(fire->evidence["window"]["period_end_ms"], end_ms.count());
  EXPECT_FALSE(trigger->evaluate(start + std::chrono::seconds(500)));  // empty: nothing to check

  window.kind = drift::WindowKind::kSliding;
  EXPECT_TRUE(std::holds_alternative<std::string>(DriftTrigger::create(options(window))));
}

TEST(DriftTrigger, BatchesThatDoNotMatchTheLayoutAreCountedAndIgnored) {
  std::mt19937_64 random(5);
  auto trigger = make(options({.size = 100}));
  const Table reference = rows_of(random, 1000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  const Table narrow({testing::normal_values(random, 100, 90, 1)}, {});  // one numeric column
  trigger->on_inferences(inferences(narrow, 0, 100, kStart));
  EXPECT_EQ(trigger->describe()["rejected_batches"], 1);
  EXPECT_EQ(trigger->describe()["window_rows"], 0);
  EXPECT_FALSE(trigger->evaluate(kStart));
}

TEST(DriftTrigger, FollowsOnlyTheConfiguredSourceAndResetsOnPromotion) {
  std::mt19937_64 random(4);
  DriftTriggerOptions o = options({.size = 1000});
  o.source = DriftSource::kLabels;
  auto trigger = make(o);
  const Table reference = rows_of(random, 2000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  const Table shifted = rows_of(random, 1000, 25);
  trigger->on_inferences(inferences(shifted, 0, 1000, kStart));
  EXPECT_FALSE(trigger->evaluate(kStart));  // inferences are not this trigger's source
  EXPECT_EQ(trigger->describe()["checks"], 0);
  const std::vector<double> labels(1000, 1.0);
  trigger->on_labels(labeled(5000, shifted.view(), labels));
  std::optional<Fire> fire = trigger->evaluate(kStart);
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->evidence["window"]["first_row"], 5000);
  EXPECT_EQ(fire->evidence["source"], "labels");
  // Half a window, then a new model: its reference is like the shifted data, the half is
  // dropped, and a window like the new reference does not drift.
  trigger->on_labels(labeled(6000, shifted.slice(0, 500), std::span(labels).subspan(0, 500)));
  EXPECT_EQ(trigger->describe()["window_rows"], 500);
  const Table new_reference = rows_of(random, 3000, 25);
  const FeatureBatchView new_view = new_reference.view();
  trigger->on_model_promoted(model(2, &new_view));
  EXPECT_EQ(trigger->describe()["window_rows"], 0);
  EXPECT_EQ(trigger->describe()["model_version"], 2);
  const Table like_new = rows_of(random, 1000, 25);
  trigger->on_labels(labeled(6500, like_new.view(), labels));
  EXPECT_EQ(trigger->describe()["checks"], 2);
  EXPECT_EQ(trigger->describe()["last_check"]["drifted"], false);
  EXPECT_FALSE(trigger->evaluate(kStart));
}

TEST(DriftTrigger, RefitFiresOnceNLabeledSamplesAfterTheTrainingThatAnsweredItsFire) {
  std::mt19937_64 random(5);
  DriftTriggerOptions o = options({.size = 1000});
  o.source = DriftSource::kLabels;
  o.refit_after_samples = 1500;
  auto trigger = make(o);
  const Table reference = rows_of(random, 2000, 0);
  const FeatureBatchView view = reference.view();
  trigger->on_model_promoted(model(1, &view));
  const Table shifted = rows_of(random, 1000, 25);
  const std::vector<double> labels(1000, 1.0);
  trigger->on_labels(labeled(0, shifted.view(), labels));
  ASSERT_TRUE(trigger->evaluate(kStart));
  trigger->on_training_started(kStart + std::chrono::seconds(1));
  EXPECT_EQ(trigger->describe()["refit"]["remaining_samples"], 1500);
  const Table same = rows_of(random, 1500, 0);
  trigger->on_labels(labeled(1000, same.slice(0, 1000), labels));
  EXPECT_FALSE(trigger->evaluate(kStart));  // no drift in this window
  // A model without a snapshot: no reference (warming up), the countdown goes on.
  trigger->on_model_promoted(model(2, nullptr));
  trigger->on_labels(labeled(2000, same.slice(1000, 1499), std::span(labels).subspan(0, 499)));
  EXPECT_FALSE(trigger->ready());
  EXPECT_EQ(trigger->describe()["refit"]["remaining_samples"], 1);
  trigger->on_labels(labeled(2499, same.slice(1499, 1500), std::span(labels).subspan(0, 1)));
  EXPECT_TRUE(trigger->ready());
  const std::optional<Fire> refit = trigger->evaluate(kStart + std::chrono::seconds(9));
  ASSERT_TRUE(refit);
  EXPECT_EQ(refit->kind, "drift");
  EXPECT_EQ(refit->trigger, "feature-drift");
  EXPECT_EQ(refit->evidence["refit"], true);
  EXPECT_EQ(refit->evidence["after_samples"], 1500);
  EXPECT_EQ(refit->evidence["reached_at_seq"], 2499);
  EXPECT_FALSE(refit->evidence.contains("model_version"));
  EXPECT_NE(refit->evidence["refit_of"]["reason"].get<std::string>().find("drifted"),
            std::string::npos);
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_FALSE(trigger->ready());
  EXPECT_EQ(trigger->describe()["fires"], 1);  // detections
  EXPECT_EQ(trigger->describe()["refit"]["fires"], 1);
  // No chain.
  trigger->on_training_started(kStart + std::chrono::seconds(10));
  trigger->on_labels(labeled(2500, same.slice(0, 1000), labels));
  trigger->on_labels(labeled(3500, same.slice(0, 1000), labels));
  EXPECT_FALSE(trigger->evaluate(kStart));
  EXPECT_EQ(trigger->describe()["refit"]["armed"], false);
}

TEST(DriftTrigger, NoRefitWithoutAFireAndNoneWhenOff) {
  std::mt19937_64 random(6);
  for (const std::int64_t refit_after_samples : {0, 500}) {
    DriftTriggerOptions o = options({.size = 1000});
    o.source = DriftSource::kLabels;
    o.refit_after_samples = refit_after_samples;
    auto trigger = make(o);
    const Table reference = rows_of(random, 2000, 0);
    const FeatureBatchView view = reference.view();
    trigger->on_model_promoted(model(1, &view));
    const std::vector<double> labels(1000, 1.0);
    if (refit_after_samples == 0) {  // a fire, but refit is off
      const Table shifted = rows_of(random, 1000, 25);
      trigger->on_labels(labeled(0, shifted.view(), labels));
      ASSERT_TRUE(trigger->evaluate(kStart));
      EXPECT_FALSE(trigger->describe().contains("refit"));
    }
    trigger->on_training_started(kStart);  // without a fire of this trigger when refit is on
    // Labels without features: no check, but they count for a refit.
    trigger->on_labels(labeled(1000, FeatureBatchView{}, labels));
    trigger->on_labels(labeled(2000, FeatureBatchView{}, labels));
    const std::optional<Fire> late = trigger->evaluate(kStart);
    EXPECT_FALSE(late) << refit_after_samples << " " << (late ? late->reason : "");
  }
  DriftTriggerOptions bad = options({});
  bad.refit_after_samples = -1;
  EXPECT_TRUE(std::holds_alternative<std::string>(DriftTrigger::create(bad)));
}

}  // namespace
}  // namespace ctd::triggers

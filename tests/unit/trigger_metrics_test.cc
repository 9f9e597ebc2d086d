// The drift export of daemon/trigger_metrics.h: which features of a drift check are exported
// (evaluated ones, most drifted first, capped), the gauges set from a real engine's describe()
// (composites' children too), and series retired when they leave or the pipeline is let go.
#include "daemon/trigger_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>

#include "triggers/composite_trigger.h"
#include "triggers/drift_trigger.h"
#include "triggers/engine.h"

namespace ctd::loop {
namespace {

using triggers::FeatureBatchView;
const triggers::TimePoint kStart{std::chrono::seconds(1'700'000'000)};

// Rows of two numeric features (a, b) and one categorical (c); a is shifted by `shift`.
struct Rows {
  std::vector<double> numeric;
  std::vector<std::string> categorical;
  std::vector<std::uint8_t> set;
  FeatureBatchView view;

  Rows(std::size_t rows, double shift) {
    const char* colours[] = {"red", "green", "blue"};
    for (std::size_t i = 0; i < rows; ++i) {
      numeric.push_back(static_cast<double>(i % 100) / 10 + shift);
      numeric.push_back(static_cast<double>((i * 7) % 100) / 10);
      categorical.emplace_back(colours[i % 3]);
      set.push_back(1);
    }
    view = {rows, 2, 1, numeric, categorical, set};
  }
};

triggers::FeatureLayout layout() { return {{"a", "b"}, {"c"}}; }

std::unique_ptr<triggers::Trigger> drift(const std::string& name,
                                         std::vector<std::string> features = {}) {
  triggers::DriftTriggerOptions o;
  o.name = name;
  o.layout = layout();
  o.features = std::move(features);
  o.window.size = 200;
  auto created = triggers::DriftTrigger::create(std::move(o));
  EXPECT_TRUE(std::holds_alternative<std::unique_ptr<triggers::DriftTrigger>>(created));
  return std::move(std::get<std::unique_ptr<triggers::DriftTrigger>>(created));
}

std::unique_ptr<triggers::Engine> engine(const triggers::Clock& clock,
                                         std::vector<std::unique_ptr<triggers::Trigger>> all) {
  auto created = triggers::Engine::create("p", clock, {}, std::move(all));
  EXPECT_TRUE(created.ok());
  return std::move(created).value();
}

// The samples of a family in a rendering: label text (between the braces) -> value.
std::map<std::string, double> samples(const std::string& text, const std::string& family) {
  std::map<std::string, double> out;
  std::size_t at = 0;
  const std::string prefix = "\n" + family + "{";
  const std::string all = "\n" + text;
  while ((at = all.find(prefix, at)) != std::string::npos) {
    const std::size_t open = at + prefix.size(), close = all.find("} ", open);
    const std::size_t end = all.find('\n', close);
    out[all.substr(open, close - open)] = std::stod(all.substr(close + 2, end - close - 2));
    at = close;
  }
  return out;
}

nlohmann::json feature(const std::string& name, const std::string& metric, double value,
                       double threshold, bool drifted, bool evaluated = true) {
  return {{"feature", name},        {"metric", metric},   {"value", value},
          {"threshold", threshold}, {"drifted", drifted}, {"evaluated", evaluated}};
}

TEST(DriftExport, ExportsTheEvaluatedFeaturesMostDriftedFirstUpToTheCap) {
  const nlohmann::json check = {
      {"features",
       {feature("calm", "wasserstein", 0.02, 0.1, false),           // severity 0.2
        feature("close", "psi", 0.09, 0.1, false),                  // 0.9
        feature("tested", "ks", 0.2, 0.05, false),                  // p-value: 0.25
        feature("rare", "chi2", 0.001, 0.05, true),                 // 50, drifted
        feature("far", "jensen_shannon", 0.4, 0.1, true),           // 4, drifted
        feature("calibrating", "wasserstein", 9, 0, false, false),  // not evaluated
        feature("zero", "ks", 0, 0.05, true)}}};                    // infinitely drifted
  const auto all = drift_features_to_export(check, 10);
  std::vector<std::string> order;
  for (const auto& f : all) order.push_back(f.feature);
  EXPECT_EQ(order, (std::vector<std::string>{"zero", "rare", "far", "close", "tested", "calm"}));
  EXPECT_EQ(all[1].statistic, "chi2_p_value");
  EXPECT_EQ(all[2].statistic, "jensen_shannon");
  EXPECT_EQ(all[4].statistic, "ks_p_value");
  EXPECT_DOUBLE_EQ(all[1].value, 0.001);
  EXPECT_DOUBLE_EQ(all[1].threshold, 0.05);

  const auto capped = drift_features_to_export(check, 2);
  ASSERT_EQ(capped.size(), 2u);
  EXPECT_EQ(capped[0].feature, "zero");
  EXPECT_EQ(capped[1].feature, "rare");
  EXPECT_TRUE(drift_features_to_export(nlohmann::json::object(), 10).empty());

  nlohmann::json wide = {{"features", nlohmann::json::array()}};
  for (int i = 0; i < 500; ++i) {
    std::string name = "f";  // (not "f" + ...: GCC 12 warns falsely, -Wrestrict)
    name += std::to_string(i);
    wide["features"].push_back(feature(name, "psi", i, 100, i > 100));
  }
  EXPECT_EQ(drift_features_to_export(wide, kMaxDriftFeatures).size(), kMaxDriftFeatures);
  EXPECT_EQ(drift_features_to_export(wide, kMaxDriftFeatures).front().feature, "f499");
}

TEST(DriftExport, SetsTheGaugesFromEachDriftTriggersLastCheck) {
  triggers::ManualClock clock(kStart);
  std::vector<std::unique_ptr<triggers::Trigger>> children;
  children.push_back(drift("inner", {"a"}));
  std::vector<std::unique_ptr<triggers::Trigger>> all;
  all.push_back(drift("shift"));
  triggers::CompositeOptions both;
  both.name = "both";
  all.push_back(triggers::CompositeTrigger::create(both, std::move(children)).value());
  auto e = engine(clock, std::move(all));

  metrics::Registry registry;
  TriggerMetrics families(registry);
  DriftExport exported(families, "p");
  exported.update(e->describe());  // no check yet: nothing
  EXPECT_TRUE(samples(registry.render(), "ctd_drift_statistic").empty());

  const Rows reference(1000, 0), current(200, 5);
  triggers::ModelContext model;
  model.version = 1;
  model.reference = &reference.view;
  e->on_model_promoted(model);
  e->on_inferences({current.view, kStart});
  const nlohmann::json state = e->describe();
  exported.update(state);

  const std::string text = registry.render();
  const auto statistic = samples(text, "ctd_drift_statistic");
  const auto threshold = samples(text, "ctd_drift_threshold");
  ASSERT_EQ(statistic.size(), 4u) << text;  // shift: a, b, c; inner: a
  const nlohmann::json& checked = state["triggers"][0]["state"]["last_check"]["features"];
  for (const nlohmann::json& f : checked) {
    const std::string name = f["feature"];
    const std::string labels = "pipeline=\"p\",trigger=\"shift\",feature=\"" + name +
                               "\",statistic=\"" +
                               (name == "c" ? "jensen_shannon" : "wasserstein") + "\"";
    ASSERT_TRUE(statistic.count(labels)) << labels << "\n" << text;
    EXPECT_DOUBLE_EQ(statistic.at(labels), f["value"].get<double>());
    EXPECT_DOUBLE_EQ(threshold.at(labels), f["threshold"].get<double>());
  }
  const std::string shifted = R"(pipeline="p",trigger="shift",feature="a",statistic="wasserstein")";
  EXPECT_GT(statistic.at(shifted), threshold.at(shifted));  // a moved by half its range
  EXPECT_TRUE(
      statistic.count(R"(pipeline="p",trigger="inner",feature="a",statistic="wasserstein")"))
      << text;

  // A feature that leaves the export is retired; so is everything once the pipeline is let go.
  nlohmann::json fewer = state;
  nlohmann::json& features = fewer["triggers"][0]["state"]["last_check"]["features"];
  features.erase(features.begin() + 1);  // b
  exported.update(fewer);
  const auto after = samples(registry.render(), "ctd_drift_statistic");
  EXPECT_EQ(after.size(), 3u);
  EXPECT_FALSE(after.count(R"(pipeline="p",trigger="shift",feature="b",statistic="wasserstein")"));
  EXPECT_EQ(samples(registry.render(), "ctd_drift_threshold").size(), 3u);
  exported.clear();
  EXPECT_TRUE(samples(registry.render(), "ctd_drift_statistic").empty());
  EXPECT_TRUE(samples(registry.render(), "ctd_drift_threshold").empty());
  exported.update(state);  // led again: back
  EXPECT_EQ(samples(registry.render(), "ctd_drift_statistic").size(), 4u);
}

TEST(DriftExport, APipelineWithoutDriftTriggersExportsNothing) {
  triggers::ManualClock clock(kStart);
  std::vector<std::unique_ptr<triggers::Trigger>> none;
  auto e = engine(clock, std::move(none));
  metrics::Registry registry;
  TriggerMetrics families(registry);
  DriftExport exported(families, "p");
  exported.update(e->describe());
  const std::string text = registry.render();
  EXPECT_TRUE(samples(text, "ctd_drift_statistic").empty()) << text;
  EXPECT_TRUE(samples(text, "ctd_drift_threshold").empty()) << text;
}

}  // namespace
}  // namespace ctd::loop

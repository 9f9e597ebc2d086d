// The scorer's pure half (daemon/model_input.h): a model's input read from its manifest, the
// mapping of a pipeline's features onto it by name, and the per-sample prequential errors.
#include "daemon/model_input.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/scoring/scoring_support.h"

namespace ctd::scoring {
namespace {

using testing::scoring::OwnedBatch;

nlohmann::json manifest(const std::string& task = "binary") {
  return {{"task", task},
          {"num_classes", task == "multiclass" ? 3 : (task == "binary" ? 2 : 0)},
          {"input",
           {{"dtype", "float32"},
            {"numeric_features", {"a", "b", "c"}},
            {"categorical_features",
             {{{"name", "colour"}, {"vocabulary", {"red", "green", "blue"}}},
              {{"name", "size"}, {"vocabulary", {"s", "m"}}}}}}}};
}

std::string manifest_error(const nlohmann::json& m) {
  try {
    ModelInput::from_manifest(m);
  } catch (const ScoringError& e) {
    EXPECT_EQ(e.code(), ScoringError::Code::kManifest);
    return e.what();
  }
  ADD_FAILURE() << "accepted " << m.dump();
  return "";
}

TEST(ModelInput, ReadsTheManifestThatCtdTrainWrites) {
  const ModelInput binary = ModelInput::from_manifest(manifest());
  EXPECT_EQ(binary.task, trainers::Task::kBinary);
  EXPECT_EQ(binary.num_classes, 2);
  EXPECT_EQ(binary.numeric_features, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(binary.categorical_features.size(), 2u);
  EXPECT_EQ(binary.categorical_features[1].name, "size");
  EXPECT_EQ(binary.categorical_features[0].vocabulary,
            (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_EQ(binary.width(), 5u);
  EXPECT_EQ(binary.outputs(), 1u);

  EXPECT_EQ(ModelInput::from_manifest(manifest("multiclass")).outputs(), 3u);
  const ModelInput regression = ModelInput::from_manifest(manifest("regression"));
  EXPECT_EQ(regression.num_classes, 0);
  EXPECT_EQ(regression.outputs(), 1u);
}

TEST(ModelInput, RefusesManifestsThatDoNotDescribeTheInput) {
  EXPECT_NE(manifest_error(nlohmann::json::array()).find("not a JSON object"), std::string::npos);
  auto m = manifest();
  m.erase("input");
  EXPECT_NE(manifest_error(m).find("no 'input'"), std::string::npos);
  m = manifest();
  m["task"] = "ranking";
  EXPECT_NE(manifest_error(m).find("unknown task 'ranking'"), std::string::npos);
  m = manifest("multiclass");
  m["num_classes"] = 1;
  EXPECT_NE(manifest_error(m).find("num_classes"), std::string::npos);
  m = manifest();
  m["input"]["numeric_features"] = {"a", 7};
  EXPECT_NE(manifest_error(m).find("'input.numeric_features' entry is not a string"),
            std::string::npos);
  m = manifest();
  m["input"]["categorical_features"][0].erase("vocabulary");
  EXPECT_NE(manifest_error(m).find("categorical feature 'colour' has no 'vocabulary'"),
            std::string::npos);
  m = manifest();
  m["input"]["dtype"] = "float64";
  EXPECT_NE(manifest_error(m).find("float64"), std::string::npos);
}

// One row of features as a batch of the given layout.
OwnedBatch one_row(const triggers::FeatureLayout& layout, std::vector<double> numeric,
                   std::vector<const char*> categorical) {
  OwnedBatch b;
  b.layout = layout;
  b.rows = 1;
  b.numeric = std::move(numeric);
  for (const char* value : categorical) {
    b.categorical.push_back(value == nullptr ? "" : value);
    b.categorical_set.push_back(value == nullptr ? 0 : 1);
  }
  return b;
}

std::vector<float> filled(const InputMapping& mapping, const OwnedBatch& batch) {
  mapping.check(batch.view());
  std::vector<float> x(batch.rows * mapping.width(), -1.0f);
  mapping.fill(batch.view(), 0, batch.rows, x);
  return x;
}

TEST(InputMapping, MapsFeaturesByNameAndValuesToVocabularyCodes) {
  const ModelInput model = ModelInput::from_manifest(manifest());
  // The pipeline's order differs from the model's, and it has features the model never saw.
  const triggers::FeatureLayout layout{{"c", "extra", "a", "b"}, {"size", "new", "colour"}};
  const InputMapping mapping(model, layout);
  EXPECT_EQ(mapping.width(), 5u);
  EXPECT_TRUE(mapping.missing().empty());
  EXPECT_EQ(mapping.ignored(), (std::vector<std::string>{"extra", "new"}));

  const auto x = filled(mapping, one_row(layout, {3.5, 99, 1.25, -2}, {"m", "zzz", "blue"}));
  EXPECT_EQ(x, (std::vector<float>{1.25f, -2.0f, 3.5f, 3.0f, 2.0f}));

  // Unknown and missing categorical values are both code 0; a missing number stays NaN.
  const auto y = filled(mapping, one_row(layout, {NAN, 0, 1, 2}, {nullptr, "s", "purple"}));
  ASSERT_EQ(y.size(), 5u);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 2.0f);
  EXPECT_TRUE(std::isnan(y[2]));  // c: missing
  EXPECT_EQ(y[3], 0.0f);          // colour "purple": unknown
  EXPECT_EQ(y[4], 0.0f);          // size: missing
}

TEST(InputMapping, FeaturesThePipelineLacksAreMissing) {
  const ModelInput model = ModelInput::from_manifest(manifest());
  const triggers::FeatureLayout layout{{"b"}, {"colour"}};
  const InputMapping mapping(model, layout);
  EXPECT_EQ(mapping.missing(), (std::vector<std::string>{"a", "c", "size"}));
  EXPECT_TRUE(mapping.ignored().empty());
  const auto x = filled(mapping, one_row(layout, {7}, {"green"}));
  ASSERT_EQ(x.size(), 5u);
  EXPECT_TRUE(std::isnan(x[0]));
  EXPECT_EQ(x[1], 7.0f);
  EXPECT_TRUE(std::isnan(x[2]));
  EXPECT_EQ(x[3], 2.0f);
  EXPECT_EQ(x[4], 0.0f);
}

TEST(InputMapping, FillsAWindowOfRows) {
  const ModelInput model = ModelInput::from_manifest(manifest());
  const triggers::FeatureLayout layout{{"a", "b", "c"}, {"colour", "size"}};
  OwnedBatch b = one_row(layout, {1, 2, 3}, {"red", "s"});
  b.rows = 3;
  b.numeric.insert(b.numeric.end(), {4, 5, 6, 7, 8, 9});
  b.categorical.insert(b.categorical.end(), {"green", "m", "blue", ""});
  b.categorical_set.insert(b.categorical_set.end(), {1, 1, 1, 0});
  const InputMapping mapping(model, layout);
  mapping.check(b.view());
  std::vector<float> x(2 * mapping.width());
  mapping.fill(b.view(), 1, 2, x);
  EXPECT_EQ(x, (std::vector<float>{4, 5, 6, 2, 2, 7, 8, 9, 3, 0}));
}

TEST(InputMapping, RefusesABatchThatDoesNotMatchTheLayout) {
  const ModelInput model = ModelInput::from_manifest(manifest());
  const InputMapping mapping(model, {{"a", "b", "c"}, {"colour", "size"}});
  const OwnedBatch narrow = one_row({{"a", "b"}, {"colour", "size"}}, {1, 2}, {"red", "s"});
  try {
    mapping.check(narrow.view());
    FAIL() << "accepted a batch of another layout";
  } catch (const ScoringError& e) {
    EXPECT_EQ(e.code(), ScoringError::Code::kInput);
    EXPECT_NE(std::string(e.what()).find("2 numeric and 2 categorical"), std::string::npos)
        << e.what();
  }
  OwnedBatch short_columns =
      one_row({{"a", "b", "c"}, {"colour", "size"}}, {1, 2, 3}, {"red", "s"});
  short_columns.rows = 2;
  EXPECT_THROW(mapping.check(short_columns.view()), ScoringError);
}

TEST(PredictionErrors, BinaryAreMistakesAtTheHalfThreshold) {
  const ModelInput model = ModelInput::from_manifest(manifest("binary"));
  const std::vector<double> p = {0.9, 0.5, 0.49, 0.1, 0.7};
  const std::vector<double> y = {1, 0, 1, 0, 0};
  EXPECT_EQ(prediction_errors(model, p, y), (std::vector<double>{0, 1, 1, 0, 1}));
}

TEST(PredictionErrors, MulticlassAreArgMaxMistakesFirstMaxOnTies) {
  const ModelInput model = ModelInput::from_manifest(manifest("multiclass"));
  const std::vector<double> p = {0.2, 0.7, 0.1, 0.4, 0.4, 0.2, 0.1, 0.1, 0.8, 0.5, 0.3, 0.2};
  const std::vector<double> y = {1, 1, 2, 2};
  EXPECT_EQ(prediction_errors(model, p, y), (std::vector<double>{0, 1, 0, 1}));
}

TEST(PredictionErrors, RegressionAreAbsoluteDifferences) {
  const ModelInput model = ModelInput::from_manifest(manifest("regression"));
  const std::vector<double> p = {1.5, -2.0, 10.0};
  const std::vector<double> y = {1.0, 1.0, 10.0};
  EXPECT_EQ(prediction_errors(model, p, y), (std::vector<double>{0.5, 3.0, 0.0}));
}

}  // namespace
}  // namespace ctd::scoring

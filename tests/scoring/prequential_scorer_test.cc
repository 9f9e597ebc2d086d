// PrequentialScorer on models trained by the real ctd-train: its predictions against Python's
// torch.jit.load on the same inputs, features mapped by name, unknown categories, the errors of
// every task, and the clear errors of files, manifests, outputs and batches it cannot use.
#include "daemon/prequential_scorer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/scoring/scoring_support.h"
#include "tests/support/temp_dir.h"

namespace ctd::scoring {
namespace {

using testing::scoring::batch_from;
using testing::scoring::expect_close;
using testing::scoring::fixtures;
using testing::scoring::layout_of;
using testing::scoring::python_predictions;
using testing::scoring::quick_spec;
using testing::scoring::train_model;
using testing::scoring::TrainedModel;
using testing::scoring::write_dataset;

constexpr double kTolerance = 1e-6;

class PrequentialScorerTest : public ::testing::Test {
 protected:
  TrainedModel train(const std::string& task, const nlohmann::json& spec,
                     std::vector<std::string> fixture_args = {"--rows", "600"}) {
    return train_model(tmp_.path() + "/" + task, task, spec, std::move(fixture_args));
  }

  // A manifest for the fixture's input (x0..x5, colour, shape) without a trained model.
  nlohmann::json fixture_manifest(const std::string& task, int num_classes) {
    const auto data = trainers::read_snapshot(snapshot(task));
    nlohmann::json categorical = nlohmann::json::array();
    for (const auto& c : data.info.categorical_features)
      categorical.push_back({{"name", c.name}, {"vocabulary", c.vocabulary}});
    return {{"task", task},
            {"num_classes", num_classes},
            {"input",
             {{"numeric_features", data.info.numeric_features},
              {"categorical_features", categorical}}}};
  }

  std::string snapshot(const std::string& task) {
    const std::string path = tmp_.path() + "/fixture-" + task + ".safetensors";
    if (!std::filesystem::exists(path)) fixtures({"snapshot", task, path, "--rows", "40"});
    return path;
  }

  template <typename F>
  std::string error_of(ScoringError::Code code, F&& f) {
    try {
      f();
    } catch (const ScoringError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no ScoringError";
    return "";
  }

  ::ctd::testing::TempDir tmp_{"ctd-scoring"};
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(PrequentialScorerTest, BinaryPredictionsAndErrorsMatchPythonTorch) {
  const TrainedModel trained = train("binary", quick_spec("mlp", 4));
  const auto data = trainers::read_snapshot(trained.snapshot);
  const auto expected = python_predictions(trained.model, trained.snapshot);
  const auto batch = batch_from(data, layout_of(data.info));

  // In one forward call and in chunks of 64 rows (the last one short).
  for (std::size_t chunk : {std::size_t{4096}, std::size_t{64}}) {
    SCOPED_TRACE("chunk_rows " + std::to_string(chunk));
    const PrequentialScorer scorer(trained.model, batch.layout,
                                   {.threads = 1, .chunk_rows = chunk});
    EXPECT_EQ(scorer.model().task, trainers::Task::kBinary);
    EXPECT_EQ(scorer.manifest()["snapshot"]["sha256"], data.info.content_sha256);
    EXPECT_TRUE(scorer.mapping().missing().empty());
    const Scores scores = scorer.score(batch.labeled());
    EXPECT_EQ(scores.rows, data.rows());
    EXPECT_EQ(scores.outputs, 1u);
    expect_close(scores.predictions, expected, kTolerance);

    ASSERT_EQ(scores.errors.size(), data.rows());
    double mistakes = 0;
    for (std::size_t i = 0; i < data.rows(); ++i) {
      const double wrong = (expected[i] >= 0.5) != (data.labels[i] > 0.5) ? 1 : 0;
      EXPECT_EQ(scores.errors[i], wrong) << "row " << i << ", p = " << expected[i];
      mistakes += wrong;
    }
    EXPECT_LT(mistakes / data.rows(), 0.2);  // the model learned something
  }
}

TEST_F(PrequentialScorerTest, FeaturesAreMappedByNameWhateverTheirOrder) {
  const TrainedModel trained = train("binary", quick_spec("linear", 2));
  const auto data = trainers::read_snapshot(trained.snapshot);
  const triggers::FeatureLayout layout{{"x5", "x4", "extra", "x3", "x2", "x1", "x0"},
                                       {"shape", "extra_category", "colour"}};
  const auto batch = batch_from(data, layout);
  const PrequentialScorer scorer(trained.model, layout);
  EXPECT_TRUE(scorer.mapping().missing().empty());
  EXPECT_EQ(scorer.mapping().ignored(), (std::vector<std::string>{"extra", "extra_category"}));
  expect_close(scorer.predict(batch.view()).predictions,
               python_predictions(trained.model, trained.snapshot), kTolerance);
}

TEST_F(PrequentialScorerTest, FeaturesTheBatchLacksAreMissingValues) {
  const TrainedModel trained = train("binary", quick_spec("mlp", 2));
  auto data = trainers::read_snapshot(trained.snapshot);
  const triggers::FeatureLayout layout{{"x0", "x1", "x3", "x4", "x5"}, {"colour"}};
  const auto batch = batch_from(data, layout);
  const PrequentialScorer scorer(trained.model, layout);
  EXPECT_EQ(scorer.mapping().missing(), (std::vector<std::string>{"x2", "shape"}));

  // The oracle sees the snapshot with x2 missing (NaN) and shape missing (code 0).
  for (std::size_t r = 0; r < data.rows(); ++r) {
    data.numeric[r * data.numeric_width() + 2] = NAN;
    data.categorical[r * data.categorical_width() + 1] = 0;
  }
  const std::string oracle = tmp_.path() + "/missing.safetensors";
  write_dataset(oracle, data);
  const auto expected = python_predictions(trained.model, oracle);
  expect_close(scorer.predict(batch.view()).predictions, expected, kTolerance);
  // Not the same as scoring with the features present.
  const auto complete = python_predictions(trained.model, trained.snapshot);
  EXPECT_GT(std::abs(expected[0] - complete[0]) + std::abs(expected[1] - complete[1]), 1e-4);
}

TEST_F(PrequentialScorerTest, UnknownCategoricalValuesAreCodeZero) {
  const TrainedModel trained = train("binary", quick_spec("linear", 2));
  auto data = trainers::read_snapshot(trained.snapshot);
  auto batch = batch_from(data, layout_of(data.info));
  for (std::size_t r = 0; r < data.rows(); r += 3) {
    *batch.categorical_at(r, 0) = "purple";  // a colour the model never saw
    data.categorical[r * data.categorical_width()] = 0;
  }
  const std::string oracle = tmp_.path() + "/unknown.safetensors";
  write_dataset(oracle, data);
  const PrequentialScorer scorer(trained.model, batch.layout);
  expect_close(scorer.predict(batch.view()).predictions, python_predictions(trained.model, oracle),
               kTolerance);
}

TEST_F(PrequentialScorerTest, MulticlassErrorsAreArgMaxMistakes) {
  const TrainedModel trained = train("multiclass", quick_spec("mlp", 4));
  const auto data = trainers::read_snapshot(trained.snapshot);
  const auto expected = python_predictions(trained.model, trained.snapshot);
  const auto batch = batch_from(data, layout_of(data.info));
  const PrequentialScorer scorer(trained.model, batch.layout, {.threads = 1, .chunk_rows = 100});
  const Scores scores = scorer.score(batch.labeled());
  EXPECT_EQ(scores.outputs, 3u);
  expect_close(scores.predictions, expected, kTolerance);
  ASSERT_EQ(scores.errors.size(), data.rows());
  double mistakes = 0;
  for (std::size_t i = 0; i < data.rows(); ++i) {
    const auto row = expected.begin() + static_cast<std::ptrdiff_t>(3 * i);
    const auto predicted = std::max_element(row, row + 3) - row;
    const double wrong = static_cast<double>(predicted) != data.labels[i] ? 1 : 0;
    EXPECT_EQ(scores.errors[i], wrong) << "row " << i;
    mistakes += wrong;
  }
  EXPECT_LT(mistakes / data.rows(), 0.3);
}

TEST_F(PrequentialScorerTest, RegressionErrorsAreAbsoluteDifferences) {
  const TrainedModel trained =
      train("regression", quick_spec("linear", 10), {"--rows", "600", "--nan-fraction", "0.05"});
  const auto data = trainers::read_snapshot(trained.snapshot);
  const auto expected = python_predictions(trained.model, trained.snapshot);
  const auto batch = batch_from(data, layout_of(data.info));
  const PrequentialScorer scorer(trained.model, batch.layout);
  EXPECT_EQ(scorer.model().task, trainers::Task::kRegression);
  const Scores scores = scorer.score(batch.view(), batch.labels);
  expect_close(scores.predictions, expected, kTolerance);
  std::vector<double> absolute;
  for (std::size_t i = 0; i < data.rows(); ++i)
    absolute.push_back(std::abs(expected[i] - static_cast<double>(data.labels[i])));
  expect_close(scores.errors, absolute, kTolerance);
}

TEST_F(PrequentialScorerTest, AnEmptyBatchHasNoScores) {
  const TrainedModel trained = train("binary", quick_spec("linear", 1));
  const auto data = trainers::read_snapshot(trained.snapshot);
  const PrequentialScorer scorer(trained.model, layout_of(data.info));
  triggers::FeatureBatchView empty;
  empty.numeric_width = 6;
  empty.categorical_width = 2;
  const Scores scores = scorer.score(empty, {});
  EXPECT_EQ(scores.rows, 0u);
  EXPECT_TRUE(scores.predictions.empty());
  EXPECT_TRUE(scores.errors.empty());
}

TEST_F(PrequentialScorerTest, AFileThatIsNotTorchScriptIsAClearError) {
  const triggers::FeatureLayout layout{{"x0"}, {}};
  const std::string text = tmp_.write("model.pt", "this is not a model");
  const std::string not_model = error_of(ScoringError::Code::kLoad, [&] {
    PrequentialScorer scorer(text, layout, {}, fixture_manifest("binary", 2));
  });
  EXPECT_TRUE(contains(not_model, "cannot load " + text + " as a TorchScript model:")) << not_model;
  EXPECT_FALSE(contains(not_model, "\n")) << not_model;  // no C++ backtrace

  const std::string missing = error_of(ScoringError::Code::kLoad, [&] {
    PrequentialScorer scorer(tmp_.path() + "/absent.pt", layout);
  });
  EXPECT_TRUE(contains(missing, "absent.pt does not exist")) << missing;
}

TEST_F(PrequentialScorerTest, AModuleWithoutAnEmbeddedManifestNeedsOneGiven) {
  const std::string model = tmp_.path() + "/user.pt";
  fixtures({"user-model", model, "8", "1"});
  const auto data = trainers::read_snapshot(snapshot("binary"));
  const auto batch = batch_from(data, layout_of(data.info));

  const std::string none = error_of(ScoringError::Code::kManifest,
                                    [&] { PrequentialScorer scorer(model, batch.layout); });
  EXPECT_TRUE(contains(none, "embeds no ctd_manifest.json")) << none;

  nlohmann::json broken = fixture_manifest("binary", 2);
  broken["input"].erase("numeric_features");
  const std::string bad = error_of(ScoringError::Code::kManifest, [&] {
    PrequentialScorer scorer(model, batch.layout, {}, broken);
  });
  EXPECT_TRUE(contains(bad, "has no 'numeric_features'")) << bad;

  const PrequentialScorer scorer(model, batch.layout, {}, fixture_manifest("binary", 2));
  expect_close(scorer.predict(batch.view()).predictions,
               python_predictions(model, snapshot("binary")), kTolerance);
}

TEST_F(PrequentialScorerTest, OutputsOfTheWrongShapeAreClearErrors) {
  const auto data = trainers::read_snapshot(snapshot("binary"));
  const auto batch = batch_from(data, layout_of(data.info));
  const std::string three = tmp_.path() + "/three.pt";
  fixtures({"user-model", three, "8", "3"});  // forward returns [n, 3]

  const PrequentialScorer binary(three, batch.layout, {.threads = 1, .chunk_rows = 16},
                                 fixture_manifest("binary", 2));
  const std::string shape =
      error_of(ScoringError::Code::kForward, [&] { binary.predict(batch.view()); });
  EXPECT_TRUE(contains(
      shape, "rows 0..15 returned shape [16, 3]; a binary model returns P(class 1) as [16]"))
      << shape;

  const PrequentialScorer four_classes(three, batch.layout, {}, fixture_manifest("multiclass", 4));
  const std::string classes =
      error_of(ScoringError::Code::kForward, [&] { four_classes.predict(batch.view()); });
  EXPECT_TRUE(contains(classes,
                       "returned shape [40, 3]; a multiclass model returns class "
                       "probabilities as [40, 4]"))
      << classes;

  // A module built for another input width fails inside forward().
  const std::string narrow = tmp_.path() + "/narrow.pt";
  fixtures({"user-model", narrow, "5", "1"});
  const PrequentialScorer mismatched(narrow, batch.layout, {}, fixture_manifest("binary", 2));
  const std::string failed =
      error_of(ScoringError::Code::kForward, [&] { mismatched.predict(batch.view()); });
  EXPECT_TRUE(contains(failed, "forward() of " + narrow + " on rows 0..39 failed: ")) << failed;
  EXPECT_FALSE(contains(failed, "\n")) << failed;
}

TEST_F(PrequentialScorerTest, NaNAndImprobableOutputsAreClearErrors) {
  const auto data = trainers::read_snapshot(snapshot("binary"));
  auto batch = batch_from(data, layout_of(data.info));
  const std::string model = tmp_.path() + "/nan.pt";
  fixtures({"nan-model", model});  // NaN where x0 is 99, 1.5 where it is 98
  const PrequentialScorer binary(model, batch.layout, {.threads = 1, .chunk_rows = 4},
                                 fixture_manifest("binary", 2));
  const PrequentialScorer regression(model, batch.layout, {}, fixture_manifest("regression", 0));
  EXPECT_EQ(binary.predict(batch.view()).rows, data.rows());
  double& x0_of_row_6 = batch.numeric[6 * 6];  // in the second chunk of four rows

  x0_of_row_6 = 99.0;
  const std::string nan =
      error_of(ScoringError::Code::kForward, [&] { binary.predict(batch.view()); });
  EXPECT_TRUE(contains(nan, "on rows 4..7 returned nan for row 6")) << nan;
  const std::string regression_nan =
      error_of(ScoringError::Code::kForward, [&] { regression.predict(batch.view()); });
  EXPECT_TRUE(contains(regression_nan, "on rows 0..39 returned nan for row 6")) << regression_nan;

  // 1.5 is no probability, but a fine regression value.
  x0_of_row_6 = 98.0;
  const std::string improbable =
      error_of(ScoringError::Code::kForward, [&] { binary.predict(batch.view()); });
  EXPECT_TRUE(contains(improbable, "returned 1.5 for row 6, not a probability")) << improbable;
  EXPECT_EQ(regression.predict(batch.view()).predictions.at(6), 1.5);
}

TEST_F(PrequentialScorerTest, BatchesAndLabelsThatDoNotMatchAreRefused) {
  const TrainedModel trained = train("binary", quick_spec("linear", 1));
  const auto data = trainers::read_snapshot(trained.snapshot);
  const auto batch = batch_from(data, layout_of(data.info));
  const PrequentialScorer scorer(trained.model, batch.layout);

  const std::vector<double> too_few(batch.labels.begin(), batch.labels.end() - 1);
  const std::string labels =
      error_of(ScoringError::Code::kInput, [&] { scorer.score(batch.view(), too_few); });
  EXPECT_TRUE(contains(labels, "599 labels for 600 rows")) << labels;

  const auto other = batch_from(data, {{"x0", "x1"}, {"colour", "shape"}});
  const std::string layout =
      error_of(ScoringError::Code::kInput, [&] { scorer.predict(other.view()); });
  EXPECT_TRUE(contains(layout,
                       "2 numeric and 2 categorical features per row, but the layout "
                       "has 6 and 2"))
      << layout;
}

}  // namespace
}  // namespace ctd::scoring

// ctd-train as a black box: fixtures written by tests/trainers/fixtures.py (numpy, torch),
// the binary run as a child process, its outputs read back in C++ and in Python.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"
#include "trainers/safetensors.h"
#include "trainers/snapshot.h"

namespace ctd {
namespace {

using testing::run_program;
using testing::RunResult;
using testing::TempDir;

const std::string kTrainer = CTD_BINARY_DIR "/ctd-train";
const std::string kPython = "/usr/bin/python3";
const std::string kFixtures = CTD_SOURCE_DIR "/tests/trainers/fixtures.py";
constexpr auto kTimeout = std::chrono::seconds(240);

RunResult python(std::vector<std::string> args) {
  args.insert(args.begin(), {kPython, kFixtures});
  return run_program(args, {}, kTimeout);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return nlohmann::json::parse(in);
}

// The JSON lines a run printed (stderr lines, which are not JSON, are skipped).
std::vector<nlohmann::json> json_lines(const std::string& output) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) lines.push_back(std::move(j));
  }
  return lines;
}

class CtdTrain : public ::testing::Test {
 protected:
  // A run directory with a fixture snapshot of `task` and `spec`.
  std::string prepare(const std::string& name, const std::string& task, nlohmann::json spec,
                      std::vector<std::string> fixture_args = {}) {
    const std::string dir = tmp_.path() + "/" + name;
    std::filesystem::create_directories(dir);
    std::vector<std::string> args = {"snapshot", task, dir + "/snapshot.safetensors"};
    args.insert(args.end(), fixture_args.begin(), fixture_args.end());
    const RunResult made = python(args);
    EXPECT_EQ(made.exit_code, 0) << made.output;
    tmp_.write(name + "/spec.json", spec.dump());
    return dir;
  }

  RunResult train(const std::string& dir) {
    return run_program({kTrainer, "train", "--run-dir", dir}, {}, kTimeout);
  }

  TempDir tmp_{"ctd-train"};
};

nlohmann::json mlp_spec(int epochs) {
  return {{"run_id", "t"},    {"model", {{"type", "mlp"}, {"hidden", {32, 16}}}},
          {"epochs", epochs}, {"batch_size", 64},
          {"threads", 1},     {"optimizer", {{"name", "adam"}, {"learning_rate", 0.01}}}};
}

TEST_F(CtdTrain, BinaryMlpConvergesAndReportsProgress) {
  auto spec = mlp_spec(8);
  spec["slices"] = {"colour"};
  const std::string dir = prepare("binary", "binary", spec);
  const RunResult run = train(dir);
  ASSERT_EQ(run.exit_code, 0) << run.output;

  const auto metrics = read_json(dir + "/metrics.json");
  EXPECT_GT(metrics["validation"]["accuracy"].get<double>(), 0.95) << metrics.dump(2);
  EXPECT_GT(metrics["validation"]["roc_auc"].get<double>(), 0.98);
  EXPECT_TRUE(metrics["slices"]["colour"].contains("blue")) << metrics["slices"].dump();
  EXPECT_TRUE(metrics["slices"]["colour"].contains("(missing)"));

  const auto lines = json_lines(run.output);
  int epochs = 0;
  for (const auto& l : lines) {
    if (l["phase"] != "epoch") continue;
    ++epochs;
    EXPECT_EQ(l["epoch"], epochs);
    EXPECT_EQ(l["device"], "cpu");
    EXPECT_GT(l["samples_per_s"].get<double>(), 0);
    EXPECT_TRUE(l["loss"].is_number());
    EXPECT_EQ(l["validation_metric"], "log_loss");
  }
  EXPECT_EQ(epochs, 8);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["phase"], "done");

  const auto manifest = read_json(dir + "/manifest.json");
  const auto snapshot = trainers::read_snapshot(dir + "/snapshot.safetensors");
  EXPECT_EQ(manifest["snapshot"]["sha256"], snapshot.info.content_sha256);
  EXPECT_EQ(manifest["seed"], 42);
  EXPECT_EQ(manifest["device"], "cpu");
  EXPECT_FALSE(manifest["libtorch_version"].get<std::string>().empty());
  EXPECT_GT(manifest["wall_seconds"].get<double>(), 0);
  EXPECT_EQ(manifest["input"]["numeric_features"].size(), 6u);
}

TEST_F(CtdTrain, MulticlassConverges) {
  const std::string dir = prepare("multi", "multiclass", mlp_spec(10));
  const RunResult run = train(dir);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto metrics = read_json(dir + "/metrics.json");
  EXPECT_GT(metrics["validation"]["accuracy"].get<double>(), 0.9) << metrics.dump(2);
  EXPECT_GT(metrics["validation"]["macro_f1"].get<double>(), 0.85);
}

TEST_F(CtdTrain, LinearRegressionFitsTheTargetAndHandlesMissingValues) {
  nlohmann::json spec = {{"model", {{"type", "linear"}}},
                         {"epochs", 30},
                         {"batch_size", 32},
                         {"threads", 1},
                         {"optimizer", {{"name", "adam"}, {"learning_rate", 0.05}}}};
  const std::string dir = prepare("reg", "regression", spec, {"--nan-fraction", "0.05"});
  const RunResult run = train(dir);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto metrics = read_json(dir + "/metrics.json");
  // Targets span about ±10 around 10; missing values in x1..x5 (imputed with the mean) leave
  // a few samples with an error of a few units, so the bar is relative to the target's spread.
  EXPECT_LT(metrics["validation"]["rmse"].get<double>(), 1.0) << metrics.dump(2);
}

TEST_F(CtdTrain, SameSnapshotSpecAndSeedGiveBitIdenticalWeights) {
  const std::string a = prepare("a", "binary", mlp_spec(3));
  const std::string b = prepare("b", "binary", mlp_spec(3));
  ASSERT_EQ(train(a).exit_code, 0);
  ASSERT_EQ(train(b).exit_code, 0);
  const RunResult same = python({"same-weights", a + "/model.pt", b + "/model.pt"});
  EXPECT_EQ(same.exit_code, 0) << same.output;

  auto other_seed = mlp_spec(3);
  other_seed["seed"] = 7;
  const std::string c = prepare("c", "binary", other_seed);
  ASSERT_EQ(train(c).exit_code, 0);
  EXPECT_NE(python({"same-weights", a + "/model.pt", c + "/model.pt"}).exit_code, 0);
}

TEST_F(CtdTrain, NonFiniteLossFailsTheRunWithItsReason) {
  nlohmann::json spec = {{"model", {{"type", "linear"}}},
                         {"epochs", 5},
                         {"threads", 1},
                         {"optimizer", {{"name", "sgd"}, {"learning_rate", 1e30}}}};
  const std::string dir = prepare("nan", "regression", spec);
  const RunResult run = train(dir);
  EXPECT_EQ(run.exit_code, 3) << run.output;
  const auto lines = json_lines(run.output);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["phase"], "failed");
  EXPECT_EQ(lines.back()["code"], "non_finite");
  EXPECT_NE(lines.back()["reason"].get<std::string>().find("NaN or infinite"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir + "/model.pt"));
}

TEST_F(CtdTrain, UserTorchScriptModelRoundTripsToPython) {
  const std::string dir = tmp_.path() + "/user";
  nlohmann::json spec = {{"model", {{"type", "torchscript"}, {"path", "user.pt"}}},
                         {"epochs", 10},
                         {"batch_size", 64},
                         {"threads", 1},
                         {"optimizer", {{"name", "adam"}, {"learning_rate", 0.01}}}};
  prepare("user", "binary", spec);
  ASSERT_EQ(python({"user-model", dir + "/user.pt", "8", "1"}).exit_code, 0);
  const RunResult run = train(dir);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // The fixture's user model sees raw inputs (no standardisation, category codes as numbers),
  // so it learns less than the built-in MLP (> 0.95 on the same data); chance is about 0.5.
  EXPECT_GT(read_json(dir + "/metrics.json")["validation"]["accuracy"].get<double>(), 0.8);
  // Training changed the weights.
  EXPECT_NE(python({"same-weights", dir + "/user.pt", dir + "/model.pt"}).exit_code, 0);

  // C++ (ctd-train evaluate) and Python (torch.jit.load) score every row the same.
  const RunResult cpp =
      run_program({kTrainer, "evaluate", "--model", dir + "/model.pt", "--snapshot",
                   dir + "/snapshot.safetensors", "--predictions", dir + "/pred.safetensors"},
                  {}, kTimeout);
  ASSERT_EQ(cpp.exit_code, 0) << cpp.output;
  const RunResult py = python({"predict", dir + "/model.pt", dir + "/snapshot.safetensors"});
  ASSERT_EQ(py.exit_code, 0) << py.output;
  const auto python_scores = nlohmann::json::parse(py.output)["scores"].get<std::vector<float>>();
  const auto predictions = trainers::SafetensorsFile::read(dir + "/pred.safetensors");
  const auto cpp_scores = predictions.values<float>("scores", trainers::DType::kF32);
  ASSERT_EQ(cpp_scores.size(), python_scores.size());
  for (std::size_t i = 0; i < cpp_scores.size(); ++i)
    ASSERT_NEAR(cpp_scores[i], python_scores[i], 1e-6) << "row " << i;
}

// A snapshot in another layout (columns reordered, another vocabulary order, a value the model
// never saw, a feature missing) is fed to the model in its own layout, and slices keep the
// snapshot's values.
TEST_F(CtdTrain, EvaluateMatchesFeaturesToTheModelByName) {
  const std::string dir = prepare("relayout", "binary", mlp_spec(3));
  ASSERT_EQ(train(dir).exit_code, 0);
  ASSERT_EQ(python({"relayout", dir + "/snapshot.safetensors", dir + "/permuted.safetensors",
                    dir + "/expected.safetensors"})
                .exit_code,
            0);
  const RunResult cpp =
      run_program({kTrainer, "evaluate", "--model", dir + "/model.pt", "--snapshot",
                   dir + "/permuted.safetensors", "--slices", "colour", "--predictions",
                   dir + "/pred.safetensors", "--output", dir + "/evaluation.json"},
                  {}, kTimeout);
  ASSERT_EQ(cpp.exit_code, 0) << cpp.output;
  const RunResult py = python({"predict", dir + "/model.pt", dir + "/expected.safetensors"});
  ASSERT_EQ(py.exit_code, 0) << py.output;
  const auto expected = nlohmann::json::parse(py.output)["scores"].get<std::vector<float>>();
  const auto scores = trainers::SafetensorsFile::read(dir + "/pred.safetensors")
                          .values<float>("scores", trainers::DType::kF32);
  ASSERT_EQ(scores.size(), expected.size());
  for (std::size_t i = 0; i < scores.size(); ++i)
    ASSERT_NEAR(scores[i], expected[i], 1e-6) << "row " << i;
  const auto evaluation = read_json(dir + "/evaluation.json");
  const auto& colour = evaluation["slices"]["colour"];
  EXPECT_TRUE(colour.contains("purple")) << colour.dump();
  EXPECT_EQ(colour["purple"]["rows"], 400);  // every 10th of 4000 rows
  EXPECT_TRUE(colour.contains("red")) << colour.dump();
}

TEST_F(CtdTrain, WarmStartContinuesFromTheProductionModel) {
  const std::string first = prepare("first", "binary", mlp_spec(4));
  ASSERT_EQ(train(first).exit_code, 0);
  auto spec = mlp_spec(1);
  spec["init"] = "production";
  spec["init_model_path"] = first + "/model.pt";
  spec["optimizer"]["learning_rate"] = 1e-9;  // so the result stays at the production weights
  const std::string second = prepare("second", "binary", spec, {"--seed", "2"});
  const RunResult run = train(second);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  bool reported = false;
  for (const auto& l : json_lines(run.output))
    if (l["phase"] == "warm_start") reported = l["copied"].size() >= 6;  // w0,b0,emb0,emb1,w1,b1...
  EXPECT_TRUE(reported) << run.output;
  const double first_acc = read_json(first + "/metrics.json")["validation"]["accuracy"];
  const double second_acc = read_json(second + "/metrics.json")["validation"]["accuracy"];
  EXPECT_GT(second_acc, 0.9);  // one epoch at lr 1e-9 from scratch could not get here
  EXPECT_NEAR(first_acc, second_acc, 0.05);
}

// Share of validation rows a trained model calls positive.
double predicted_positive_share(const std::string& dir) {
  const RunResult run =
      run_program({kTrainer, "evaluate", "--model", dir + "/model.pt", "--snapshot",
                   dir + "/snapshot.safetensors", "--validation-fraction", "0.2", "--predictions",
                   dir + "/pred.safetensors"},
                  {}, kTimeout);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const auto scores = trainers::SafetensorsFile::read(dir + "/pred.safetensors")
                          .values<float>("scores", trainers::DType::kF32);
  double positive = 0;
  for (float s : scores) positive += s >= 0.5f;
  return positive / scores.size();
}

TEST_F(CtdTrain, BalancedClassWeightsAndWeightedSamplingFavourTheMinorityClass) {
  const std::vector<std::string> imbalanced = {"--positive-fraction", "0.05", "--rows", "6000"};
  const std::string plain = prepare("plain", "binary", mlp_spec(6), imbalanced);
  auto balanced_spec = mlp_spec(6);
  balanced_spec["class_weighting"] = "balanced";
  const std::string balanced = prepare("balanced", "binary", balanced_spec, imbalanced);
  auto sampled_spec = mlp_spec(6);
  sampled_spec["weighted_sampling"] = true;
  const std::string sampled = prepare("sampled", "binary", sampled_spec, imbalanced);
  for (const auto& dir : {plain, balanced, sampled}) ASSERT_EQ(train(dir).exit_code, 0);

  // About 5% of rows are positive; unweighted training predicts positives rarely, balanced
  // class weights (about 10x on positives) make the model call many more rows positive.
  const double plain_share = predicted_positive_share(plain);
  const double balanced_share = predicted_positive_share(balanced);
  // (Measured here: 0.055 and 0.215.)
  EXPECT_LT(plain_share, 0.1);
  EXPECT_GT(balanced_share, 2 * plain_share + 0.02) << plain_share << " vs " << balanced_share;
  // Weighted sampling with uniform weights is plain resampling: it still trains a model that
  // separates the classes.
  EXPECT_GT(read_json(sampled + "/metrics.json")["validation"]["roc_auc"].get<double>(), 0.8);
}

TEST_F(CtdTrain, EarlyStoppingStopsAndKeepsTheBestEpoch) {
  auto spec = mlp_spec(200);
  spec["early_stopping"] = {{"patience", 2}, {"min_delta", 0.0}};
  spec["model"]["hidden"] = {64, 64};
  const std::string dir = prepare("early", "binary", spec, {"--rows", "800"});
  const RunResult run = train(dir);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto metrics = read_json(dir + "/metrics.json");
  const int epochs_run = metrics["epochs_run"];
  const int best_epoch = metrics["best_epoch"];
  EXPECT_LT(epochs_run, 200);
  EXPECT_EQ(epochs_run, best_epoch + 2);
  // The saved model is the best epoch's: its validation log loss is that epoch's.
  double best_value = -1;
  bool stop_reported = false;
  for (const auto& l : json_lines(run.output)) {
    if (l["phase"] == "epoch" && l["epoch"] == best_epoch) best_value = l["validation_value"];
    if (l["phase"] == "early_stop") stop_reported = true;
  }
  EXPECT_TRUE(stop_reported);
  EXPECT_NEAR(metrics["validation"]["log_loss"].get<double>(), best_value, 1e-6);
}

TEST_F(CtdTrain, InvalidSpecExitsTwoNamingEveryProblem) {
  nlohmann::json spec = {{"epochs", 0}, {"optimizer", {{"name", "rmsprop"}}}, {"colour", 1}};
  const std::string dir = prepare("bad", "binary", spec);
  const RunResult run = train(dir);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("epochs: must be in [1, 100000]"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("optimizer.name: \"rmsprop\" is not one of sgd, adam, adamw"),
            std::string::npos);
  EXPECT_NE(run.output.find("colour: unknown key"), std::string::npos);
}

TEST_F(CtdTrain, MissingCudaDeviceFailsClearly) {
  auto spec = mlp_spec(1);
  spec["device"] = "cuda:3";
  const std::string dir = prepare("cuda", "binary", spec);
  const RunResult run = train(dir);
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("device_unavailable"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace ctd

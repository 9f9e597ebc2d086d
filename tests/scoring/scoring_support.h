// Helpers of the scoring tests: models trained by the real ctd-train on fixture snapshots
// (tests/trainers/fixtures.py), Python's torch.jit.load as the oracle of their predictions, and
// feature batches built from a snapshot under any feature layout.
//
// Failures throw std::runtime_error with the program's output; GoogleTest reports them.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/sha256.h"
#include "tests/support/run_program.h"
#include "trainers/snapshot.h"
#include "triggers/trigger.h"

namespace ctd::testing::scoring {

inline const std::string kTrainer = CTD_BINARY_DIR "/ctd-train";
inline const std::string kPython = "/usr/bin/python3";
inline const std::string kFixtures = CTD_SOURCE_DIR "/tests/trainers/fixtures.py";
inline constexpr auto kTimeout = std::chrono::seconds(240);

inline std::string run_or_throw(const std::vector<std::string>& argv) {
  const RunResult r = run_program(argv, {}, kTimeout);
  if (r.exit_code != 0)
    throw std::runtime_error(argv[0] + " " + argv[1] + " failed (" + std::to_string(r.exit_code) +
                             "):\n" + r.output);
  return r.output;
}

inline std::string fixtures(std::vector<std::string> args) {
  args.insert(args.begin(), {kPython, kFixtures});
  return run_or_throw(args);
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return nlohmann::json::parse(in);
}

// A small, quick spec: a few epochs of Adam on one thread.
inline nlohmann::json quick_spec(const std::string& type, int epochs, std::uint64_t seed = 42) {
  nlohmann::json spec = {{"run_id", "scoring-test"},
                         {"model", {{"type", type}}},
                         {"epochs", epochs},
                         {"batch_size", 32},
                         {"threads", 1},
                         {"seed", seed},
                         {"optimizer", {{"name", "adam"}, {"learning_rate", 0.02}}}};
  if (type == "mlp") spec["model"]["hidden"] = {16};
  return spec;
}

struct TrainedModel {
  std::string dir, model, snapshot;
  nlohmann::json manifest;  // the run's manifest.json
};

// A fixture snapshot of `task` in `dir` (created), and a model trained on it by ctd-train.
inline TrainedModel train_model(const std::string& dir, const std::string& task,
                                const nlohmann::json& spec,
                                std::vector<std::string> fixture_args = {"--rows", "600"}) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> args = {"snapshot", task, dir + "/snapshot.safetensors"};
  args.insert(args.end(), fixture_args.begin(), fixture_args.end());
  fixtures(args);
  std::ofstream(dir + "/spec.json") << spec.dump();
  run_or_throw({kTrainer, "train", "--run-dir", dir});
  return {dir, dir + "/model.pt", dir + "/snapshot.safetensors", read_json(dir + "/manifest.json")};
}

// torch.jit.load(model)(x) in Python for every row of `snapshot`, flattened.
inline std::vector<double> python_predictions(const std::string& model,
                                              const std::string& snapshot) {
  const std::string out = fixtures({"predict", model, snapshot});
  return nlohmann::json::parse(out.substr(out.find('{'))).at("scores").get<std::vector<double>>();
}

// Writes `data` as a snapshot, e.g. a copy of a fixture with values changed for the oracle.
inline void write_dataset(const std::string& path, trainers::Dataset data) {
  auto hash = std::make_shared<Sha256>();
  trainers::write_snapshot(path, data,
                           {[hash](std::span<const std::byte> bytes) { hash->update(bytes); },
                            [hash] { return hash->hex_digest(); }});
}

// Column data behind a FeatureBatchView, as ingestion holds a decoded batch.
struct OwnedBatch {
  triggers::FeatureLayout layout;
  std::size_t rows = 0;
  std::vector<double> numeric;
  std::vector<std::string> categorical;
  std::vector<std::uint8_t> categorical_set;
  std::vector<double> labels;

  triggers::FeatureBatchView view() const {
    return {rows,    layout.numeric.size(), layout.categorical.size(),
            numeric, categorical,           categorical_set};
  }
  triggers::LabeledBatch labeled() const {
    triggers::LabeledBatch b;
    b.features = view();
    b.labels = labels;
    return b;
  }
  std::string* categorical_at(std::size_t row, std::size_t feature) {
    categorical_set[row * layout.categorical.size() + feature] = 1;
    return &categorical[row * layout.categorical.size() + feature];
  }
};

// The rows of `data` laid out as `layout`: a feature the snapshot has takes its values (code 0
// becomes a missing value, code k the string vocabulary[k-1]); one it lacks gets 1234.5 or
// "extra" in every row.
inline OwnedBatch batch_from(const trainers::Dataset& data, const triggers::FeatureLayout& layout) {
  OwnedBatch b;
  b.layout = layout;
  b.rows = data.rows();
  const auto& info = data.info;
  for (std::size_t r = 0; r < b.rows; ++r) {
    for (const auto& name : layout.numeric) {
      const auto it = std::find(info.numeric_features.begin(), info.numeric_features.end(), name);
      b.numeric.push_back(
          it == info.numeric_features.end()
              ? 1234.5
              : data.numeric[r * data.numeric_width() + (it - info.numeric_features.begin())]);
    }
    for (const auto& name : layout.categorical) {
      std::size_t f = 0;
      while (f < data.categorical_width() && info.categorical_features[f].name != name) ++f;
      if (f == data.categorical_width()) {
        b.categorical.push_back("extra");
        b.categorical_set.push_back(1);
        continue;
      }
      const auto code = data.categorical[r * data.categorical_width() + f];
      b.categorical.push_back(code == 0 ? ""
                                        : info.categorical_features[f].vocabulary.at(code - 1));
      b.categorical_set.push_back(code == 0 ? 0 : 1);
    }
    b.labels.push_back(data.labels[r]);
  }
  return b;
}

inline triggers::FeatureLayout layout_of(const trainers::SnapshotInfo& info) {
  triggers::FeatureLayout layout{info.numeric_features, {}};
  for (const auto& c : info.categorical_features) layout.categorical.push_back(c.name);
  return layout;
}

// Every value within `tolerance` of the expected one; reports the first few that are not.
inline void expect_close(const std::vector<double>& actual, const std::vector<double>& expected,
                         double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  int reported = 0;
  for (std::size_t i = 0; i < actual.size() && reported < 5; ++i) {
    if (std::abs(actual[i] - expected[i]) <= tolerance) continue;
    ADD_FAILURE() << "value " << i << ": " << actual[i] << " instead of " << expected[i];
    ++reported;
  }
}

}  // namespace ctd::testing::scoring

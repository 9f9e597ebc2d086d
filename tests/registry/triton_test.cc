// Triton publishing: the exact config.pbtxt text per task, the same text parsed strictly
// against a subset of Triton's ModelConfig schema (tests/registry/oracle, protoc and
// python3-protobuf), and the repository layout across publishes, rollbacks and pruning.
#include "registry/triton.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

namespace ctd::registry {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

struct OracleResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs tests/registry/oracle/parse_triton_config.py on a config file.
OracleResult parse_with_oracle(const ctd::testing::TempDir& dir, const std::string& config) {
  const std::string path = dir.write("oracle-config.pbtxt", config);
  const std::string command = "/usr/bin/python3 " CTD_SOURCE_DIR
                              "/tests/registry/oracle/parse_triton_config.py '" +
                              path + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  OracleResult result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TritonModel model(const std::string& task, std::int64_t version = 3) {
  TritonModel m;
  m.name = "churn";
  m.version = version;
  m.task = task;
  m.num_classes = task == "multiclass" ? 4 : 2;
  m.input_width = 12;
  m.max_batch_size = 64;
  return m;
}

constexpr char kScalarOutputConfig[] = R"(# Written by ctd on every publish; edits are overwritten.
name: "churn"
platform: "pytorch_libtorch"
max_batch_size: 64
input [
  {
    name: "INPUT__0"
    data_type: TYPE_FP32
    dims: [ 12 ]
  }
]
output [
  {
    name: "OUTPUT__0"
    data_type: TYPE_FP32
    dims: [ 1 ]
    reshape: { shape: [ ] }
  }
]
version_policy: { specific: { versions: [ 3 ] } }
)";

TEST(TritonConfigTest, BinaryModel) {
  EXPECT_EQ(triton_config(model("binary")), kScalarOutputConfig);
}

TEST(TritonConfigTest, RegressionModel) {
  EXPECT_EQ(triton_config(model("regression")), kScalarOutputConfig);
}

TEST(TritonConfigTest, MulticlassModel) {
  EXPECT_EQ(triton_config(model("multiclass")),
            R"(# Written by ctd on every publish; edits are overwritten.
name: "churn"
platform: "pytorch_libtorch"
max_batch_size: 64
input [
  {
    name: "INPUT__0"
    data_type: TYPE_FP32
    dims: [ 12 ]
  }
]
output [
  {
    name: "OUTPUT__0"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
version_policy: { specific: { versions: [ 3 ] } }
)");
}

TEST(TritonConfigTest, ParsesStrictlyAsATritonModelConfig) {
  ctd::testing::TempDir dir("ctd-triton-oracle");
  for (const std::string task : {"binary", "regression", "multiclass"}) {
    SCOPED_TRACE(task);
    const OracleResult result = parse_with_oracle(dir, triton_config(model(task)));
    ASSERT_EQ(result.exit_code, 0) << "needs protoc and python3-protobuf (scripts/setup)\n"
                                   << result.output;
    const auto config = nlohmann::json::parse(result.output);
    EXPECT_EQ(config["name"], "churn");
    EXPECT_EQ(config["platform"], "pytorch_libtorch");
    EXPECT_EQ(config["max_batch_size"], 64);
    const nlohmann::json input = {
        {"name", "INPUT__0"}, {"data_type", "TYPE_FP32"}, {"dims", {"12"}}};
    EXPECT_EQ(config["input"], nlohmann::json::array({input}));
    nlohmann::json output = {{"name", "OUTPUT__0"}, {"data_type", "TYPE_FP32"}};
    if (task == "multiclass") {
      output["dims"] = {"4"};
    } else {
      output["dims"] = {"1"};
      output["reshape"] = nlohmann::json::object();  // present, shape []
    }
    EXPECT_EQ(config["output"], nlohmann::json::array({output}));
    EXPECT_EQ(config["version_policy"], (nlohmann::json{{"specific", {{"versions", {"3"}}}}}));
  }
}

// The oracle is only worth something if it rejects what Triton would.
TEST(TritonConfigTest, OracleRejectsMisspeltFieldsAndEnums) {
  ctd::testing::TempDir dir("ctd-triton-oracle");
  const std::string good = triton_config(model("binary"));
  const std::vector<std::pair<std::string, std::string>> breakages = {
      {"data_type: TYPE_FP32", "data_type: TYPE_FLOAT32"},
      {"max_batch_size", "max_batchsize"},
      {"version_policy: { specific", "version_policy: { specfic"},
      {"reshape: { shape", "reshape: { dims"},
  };
  for (const auto& [from, to] : breakages) {
    SCOPED_TRACE(to);
    std::string broken = good;
    broken.replace(broken.find(from), from.size(), to);
    const OracleResult result = parse_with_oracle(dir, broken);
    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("not a valid ModelConfig"), std::string::npos) << result.output;
  }
}

TEST(TritonConfigTest, InvalidDescriptionsAreRejected) {
  const std::vector<std::pair<std::string, std::function<void(TritonModel&)>>> invalid = {
      {"empty name", [](TritonModel& m) { m.name = ""; }},
      {"upper case", [](TritonModel& m) { m.name = "Churn"; }},
      {"path", [](TritonModel& m) { m.name = "../churn"; }},
      {"long name", [](TritonModel& m) { m.name = std::string(64, 'a'); }},
      {"version 0", [](TritonModel& m) { m.version = 0; }},
      {"negative version", [](TritonModel& m) { m.version = -2; }},
      {"width 0", [](TritonModel& m) { m.input_width = 0; }},
      {"batch 0", [](TritonModel& m) { m.max_batch_size = 0; }},
      {"unknown task", [](TritonModel& m) { m.task = "ranking"; }},
      {"empty task", [](TritonModel& m) { m.task = ""; }},
      {"one class",
       [](TritonModel& m) {
         m.task = "multiclass";
         m.num_classes = 1;
       }},
  };
  ctd::testing::TempDir dir("ctd-triton");
  const fs::path artifact = dir.write("model.pt", "bytes");
  const fs::path repository = fs::path(dir.path()) / "repository";
  for (const auto& [what, change] : invalid) {
    SCOPED_TRACE(what);
    TritonModel m = model("binary");
    change(m);
    EXPECT_THROW(triton_config(m), std::invalid_argument);
    EXPECT_THROW(publish_to_triton(repository, m, artifact), std::invalid_argument);
  }
  EXPECT_THROW(publish_to_triton(repository, model("binary"), artifact, 0), std::invalid_argument);
  EXPECT_FALSE(fs::exists(repository));
  TritonModel longest = model("binary");
  longest.name = std::string(63, 'a');
  EXPECT_NO_THROW(triton_config(longest));
}

class TritonPublishTest : public ::testing::Test {
 protected:
  ctd::testing::TempDir dir_{"ctd-triton"};
  fs::path repository_ = fs::path(dir_.path()) / "repository";

  // Publishes a distinct artifact as `version` of churn; returns its content.
  std::string publish(std::int64_t version, int keep_versions = 3) {
    const std::string content = random_bytes(200000 + static_cast<std::size_t>(version), version);
    const fs::path artifact = dir_.write("artifact-" + std::to_string(version) + ".pt", content);
    publish_to_triton(repository_, model("binary", version), artifact, keep_versions);
    return content;
  }
  fs::path model_dir() const { return repository_ / "churn"; }
  std::string config() const { return read_file(model_dir() / "config.pbtxt"); }
  static std::string pinned(std::int64_t version) {
    return "version_policy: { specific: { versions: [ " + std::to_string(version) + " ] } }";
  }
};

TEST_F(TritonPublishTest, WritesTheRepositoryLayout) {
  const std::string content = publish(1);
  EXPECT_EQ(entries(model_dir()), (std::vector<std::string>{"1", "config.pbtxt"}));
  EXPECT_EQ(entries(model_dir() / "1"), std::vector<std::string>{"model.pt"});
  EXPECT_EQ(config(), triton_config(model("binary", 1)));
  EXPECT_EQ(read_file(model_dir() / "1" / "model.pt"), content);  // byte-identical copy
  const auto perms = fs::status(model_dir() / "1" / "model.pt").permissions();
  EXPECT_NE(perms & fs::perms::others_read, fs::perms::none);
}

TEST_F(TritonPublishTest, AHigherVersionIsPinned) {
  const std::string first = publish(1);
  const std::string second = publish(2);
  EXPECT_NE(config().find(pinned(2)), std::string::npos) << config();
  EXPECT_EQ(entries(model_dir()), (std::vector<std::string>{"1", "2", "config.pbtxt"}));
  EXPECT_EQ(read_file(model_dir() / "1" / "model.pt"), first);
  EXPECT_EQ(read_file(model_dir() / "2" / "model.pt"), second);
}

TEST_F(TritonPublishTest, RollbackPinsTheOlderVersion) {
  publish(1);
  publish(2);
  const std::string rolled_back = publish(1);
  EXPECT_NE(config().find(pinned(1)), std::string::npos) << config();
  EXPECT_EQ(entries(model_dir()), (std::vector<std::string>{"1", "2", "config.pbtxt"}));
  EXPECT_EQ(read_file(model_dir() / "1" / "model.pt"), rolled_back);
}

TEST_F(TritonPublishTest, PruningKeepsTheServedAndTheHighestOthers) {
  for (int version = 1; version <= 5; ++version) publish(version);
  fs::create_directory(model_dir() / "notes");
  std::ofstream(model_dir() / "labels.txt") << "no\nyes\n";
  EXPECT_EQ(entries(model_dir()),
            (std::vector<std::string>{"3", "4", "5", "config.pbtxt", "labels.txt", "notes"}));

  publish(1);  // a rollback past what was kept: 1 served, 5 and 4 kept, 3 removed
  EXPECT_EQ(entries(model_dir()),
            (std::vector<std::string>{"1", "4", "5", "config.pbtxt", "labels.txt", "notes"}));
  EXPECT_NE(config().find(pinned(1)), std::string::npos);

  publish(6, 1);
  EXPECT_EQ(entries(model_dir()),
            (std::vector<std::string>{"6", "config.pbtxt", "labels.txt", "notes"}));
}

TEST_F(TritonPublishTest, AMissingArtifactFailsBeforeTheConfigChanges) {
  publish(1);
  const std::string before = config();
  try {
    publish_to_triton(repository_, model("binary", 2), fs::path(dir_.path()) / "missing.pt");
    FAIL() << "no error";
  } catch (const std::invalid_argument&) {
    FAIL() << "an I/O failure is not an invalid argument";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pt"), std::string::npos) << e.what();
  }
  EXPECT_EQ(config(), before);
  EXPECT_EQ(entries(model_dir()), (std::vector<std::string>{"1", "config.pbtxt"}));
}

}  // namespace
}  // namespace ctd::registry

// `ctd drift`, run as a child process on CSV files: its statistics against numpy/scipy (the
// drift oracle), its exit status (0 no drift, 1 drift, 2 input error) and its error messages.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"
#include "tests/triggers/drift_oracle.h"

namespace ctd {
namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Result run_drift(const std::string& arguments) {
  const std::string command = CTD_BINARY_DIR "/ctd drift " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  Result result;
  char buffer[65536];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string full(double v) {
  if (std::isnan(v)) return "";
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

// Writes columns "x" (numeric), "y" (numeric, unused by the tests that select features)
// and "kind" (categorical) to `name` in `dir`; returns the path.
std::string write_csv(const testing::TempDir& dir, const std::string& name,
                      const std::vector<double>& x, const std::vector<std::string>& kind) {
  std::ostringstream out;
  out << "kind,x,y\n";
  for (std::size_t i = 0; i < x.size(); ++i) out << kind[i] << "," << full(x[i]) << ",1\n";
  return dir.write(name, out.str());
}

std::vector<std::string> kinds(std::mt19937_64& random, std::size_t n, bool with_unseen) {
  const char* names[] = {"a", "b", "c", "zz"};
  std::uniform_int_distribution<int> pick(0, with_unseen ? 3 : 2);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(i % 25 == 0 ? "" : names[pick(random)]);
  return out;
}

TEST(DriftCli, JsonStatisticsMatchNumpyAndScipyAndExitOneOnDrift) {
  testing::TempDir dir("ctd-drift-cli");
  std::mt19937_64 random(5);
  const std::vector<double> x_ref = triggers::testing::normal_values(random, 3000, 0, 1, 0.02);
  const std::vector<double> x_cur = triggers::testing::normal_values(random, 2000, 0.4, 1, 0.05);
  const std::vector<std::string> k_ref = kinds(random, 3000, false);
  const std::vector<std::string> k_cur = kinds(random, 2000, true);
  const std::string ref = write_csv(dir, "ref.csv", x_ref, k_ref);
  const std::string cur = write_csv(dir, "cur.csv", x_cur, k_cur);
  const Result result = run_drift("--reference " + ref + " --current " + cur +
                                  " --features x,kind --categorical kind --json");
  ASSERT_EQ(result.exit_code, 1) << result.output;
  const nlohmann::json report = nlohmann::json::parse(result.output);
  ASSERT_EQ(report["features"].size(), 2u);
  const nlohmann::json& x = report["features"][0];
  const nlohmann::json& kind = report["features"][1];
  EXPECT_EQ(x["feature"], "x");
  EXPECT_EQ(kind["feature"], "kind");
  EXPECT_EQ(report["ks"]["all_rows"], true);

  const nlohmann::json numeric =
      triggers::testing::run_oracle({{"op", "numeric"},
                                     {"reference", triggers::testing::to_json_values(x_ref)},
                                     {"current", triggers::testing::to_json_values(x_cur)},
                                     {"bins", 100},
                                     {"coarse_bins", 10}});
  EXPECT_NEAR(x["statistics"]["psi"].get<double>(), numeric["psi"].get<double>(), 1e-9);
  EXPECT_NEAR(x["statistics"]["jensen_shannon"].get<double>(),
              numeric["jensen_shannon"].get<double>(), 1e-9);
  EXPECT_NEAR(x["statistics"]["ks_statistic"].get<double>(), numeric["ks_statistic"].get<double>(),
              1e-9);  // exact: all rows sampled
  EXPECT_NEAR(x["statistics"]["ks_p_value"].get<double>(), numeric["ks_p_value"].get<double>(),
              1e-9);
  EXPECT_EQ(x["current"]["missing"], numeric["current_missing"]);
  EXPECT_EQ(x["drifted"], true);

  nlohmann::json ref_kinds = nlohmann::json::array(), cur_kinds = nlohmann::json::array();
  for (const std::string& k : k_ref)
    ref_kinds.push_back(k.empty() ? nlohmann::json() : nlohmann::json(k));
  for (const std::string& k : k_cur)
    cur_kinds.push_back(k.empty() ? nlohmann::json() : nlohmann::json(k));
  const nlohmann::json categorical = triggers::testing::run_oracle(
      {{"op", "categorical"}, {"reference", ref_kinds}, {"current", cur_kinds}});
  EXPECT_NEAR(kind["statistics"]["chi2_p_value"].get<double>(),
              categorical["chi2_p_value"].get<double>(), 1e-9);
  EXPECT_NEAR(kind["statistics"]["linf"].get<double>(), categorical["linf"].get<double>(), 1e-9);
  EXPECT_EQ(kind["current"]["unseen"], categorical["current_unseen"]);
  EXPECT_EQ(kind["current"]["missing"], categorical["current_missing"]);
  EXPECT_EQ(report["dataset"]["drifted"], true);
}

TEST(DriftCli, SameDistributionExitsZeroAndSaysHowKsWasSampled) {
  testing::TempDir dir("ctd-drift-cli");
  std::mt19937_64 random(6);
  const std::string ref =
      write_csv(dir, "ref.csv", triggers::testing::normal_values(random, 4000, 3, 2),
                kinds(random, 4000, false));
  const std::string cur =
      write_csv(dir, "cur.csv", triggers::testing::normal_values(random, 3000, 3, 2),
                kinds(random, 3000, false));
  const Result result = run_drift("--reference " + ref + " --current " + cur +
                                  " --categorical kind --metric ks --sample 1000");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("dataset: no drift"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("uniform samples of at most 1000 rows"), std::string::npos)
      << result.output;
}

TEST(DriftCli, ThresholdDriftShareAndRuleTakeEffect) {
  testing::TempDir dir("ctd-drift-cli");
  std::mt19937_64 random(8);
  // x shifted by 0.3 std (drifts at Wasserstein 0.1, not at 0.5); kind unchanged.
  const std::string ref =
      write_csv(dir, "ref.csv", triggers::testing::normal_values(random, 3000, 0, 1),
                kinds(random, 3000, false));
  const std::string cur =
      write_csv(dir, "cur.csv", triggers::testing::normal_values(random, 3000, 0.3, 1),
                kinds(random, 3000, false));
  const std::string files =
      "--reference " + ref + " --current " + cur + " --features x,kind --categorical kind --json";
  Result result = run_drift(files + " --metric wasserstein --threshold 0.5");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  nlohmann::json report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["features"][0]["threshold"], 0.5);
  EXPECT_EQ(report["features"][0]["drifted"], false);
  EXPECT_EQ(report["features"][1]["threshold"], 0.1);  // categorical keeps its default

  result = run_drift(files);  // x drifts, kind does not: share 0.5 >= 0.5
  ASSERT_EQ(result.exit_code, 1) << result.output;
  result = run_drift(files + " --drift-share 0.6");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(nlohmann::json::parse(result.output)["dataset"]["drift_share"], 0.6);
  result = run_drift(files + " --drift-share 0.6 --rule any");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  result = run_drift(files + " --metric ks --threshold 2");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("alpha"), std::string::npos) << result.output;
}

TEST(DriftCli, InputErrorsExitTwoWithAClearMessage) {
  testing::TempDir dir("ctd-drift-cli");
  const std::string good = dir.write("good.csv", "a,b\n1,2\n3,4\n");
  const std::string bad = dir.write("bad.csv", "a,b\n1,2\n3,oops\n");
  const std::string empty = dir.write("empty.csv", "");
  const std::string header_only = dir.write("header.csv", "a,b\n");
  const std::string other = dir.write("other.csv", "a,c\n1,2\n");
  struct Case {
    std::string arguments, message;
  };
  for (const Case& c : {
           Case{"--reference " + good + " --current " + bad, "bad.csv:3: column 'b' is numeric"},
           Case{"--reference " + empty + " --current " + good, "empty file"},
           Case{"--reference " + good + " --current " + header_only, "no data rows"},
           Case{"--reference " + good + " --current " + other, "missing column 'b'"},
           Case{"--reference " + good + " --current " + good + " --features a,z",
                "missing column 'z'"},
           Case{"--reference " + good + " --current " + good + " --metric foo", "--metric"},
           Case{"--current " + good, "--reference and --current are required"},
       }) {
    const Result result = run_drift(c.arguments);
    EXPECT_EQ(result.exit_code, 2) << c.arguments << "\n" << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace ctd

// The `ctd` binary's subcommands, run as child processes: exit codes and what they print.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/pg.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"

namespace ctd {
namespace {

using testing::run_program;
using testing::RunResult;

constexpr auto kChildTimeout = std::chrono::seconds(60);
const std::string kCtd = CTD_BINARY_DIR "/ctd";
const std::string kDemoConfig = CTD_SOURCE_DIR "/config/examples/demo.yaml";

// Runs `ctd args...` with the environment adjusted by `env`.
RunResult run_ctd(std::vector<std::string> args, const std::map<std::string, std::string>& env) {
  args.insert(args.begin(), kCtd);
  return run_program(args, env, kChildTimeout);
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "output does not contain '" << part << "':\n" << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read " + path);
  return body.str();
}

// Tests that need no database.
TEST(CliTest, CheckConfigPrintsTheResolvedConfiguration) {
  const RunResult result = run_ctd({"check-config", kDemoConfig}, {});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "demo"));
  EXPECT_TRUE(contains(result.output, "demo.labels"));
}

TEST(CliTest, CheckConfigReportsPositionsAndSuggestions) {
  // The demo configuration with one key misspelt.
  const std::string demo = read_file(kDemoConfig);
  const std::string key = "  batch_max_records:";
  const std::size_t at = demo.find(key);
  ASSERT_NE(at, std::string::npos);
  std::string broken = demo;
  broken.replace(at, key.size(), "  batch_max_recrods:");
  const int line = 1 + static_cast<int>(std::count(demo.begin(), demo.begin() + at, '\n'));

  testing::TempDir dir("ctd-cli");
  const std::string path = dir.write("broken.yaml", broken);
  const RunResult result = run_ctd({"check-config", path}, {});
  EXPECT_FALSE(result.timed_out);
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, path + ":" + std::to_string(line) + ":3: "));
  EXPECT_TRUE(contains(result.output, "batch_max_recrods"));
  EXPECT_TRUE(contains(result.output, "did you mean 'batch_max_records'?"));
}

TEST(CliTest, CheckConfigWithoutAFileExitsWithUsage) {
  const RunResult result = run_ctd({"check-config"}, {});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "usage: ctd check-config FILE"));
}

TEST(CliTest, UnknownCommandExitsWithUsage) {
  const RunResult result = run_ctd({"frobnicate"}, {});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "unknown command 'frobnicate'"));
  EXPECT_TRUE(contains(result.output, "usage: ctd COMMAND"));
}

TEST(CliTest, NoCommandExitsWithUsage) {
  const RunResult result = run_ctd({}, {});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "usage: ctd COMMAND"));
}

TEST(CliTest, MigrateWithoutAConfigExitsWithUsage) {
  const RunResult result = run_ctd({"migrate"}, {});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "missing -c FILE"));
}

TEST(CliTest, MigrateReportsAnUnreachableDatabase) {
  // Port 1 on loopback refuses connections at once.
  const RunResult result = run_ctd(
      {"migrate", "-c", kDemoConfig},
      {{"CTD_POSTGRES_DSN", "host=127.0.0.1 port=1 user=postgres password=hunter2 dbname=x"}});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "migrate failed"));
  EXPECT_EQ(result.output.find("hunter2"), std::string::npos) << result.output;
}

// Tests against a PostgreSQL server: one per suite, a fresh database per test.
class CliDatabaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    database_ = "cli_" + std::to_string(++counter);
    server_->create_database(database_);
  }

  std::string dsn() const { return server_->dsn(database_); }
  bool table_exists(const std::string& table) const {
    pg::PgConnection connection(dsn());
    return connection.exec("SELECT to_regclass($1) IS NOT NULL", {table}).text(0, 0) == "t";
  }

  static std::unique_ptr<testing::PgServer> server_;
  std::string database_;
};

std::unique_ptr<testing::PgServer> CliDatabaseTest::server_;

TEST_F(CliDatabaseTest, MigrateAppliesOnceThenReportsCurrent) {
  const std::map<std::string, std::string> env = {{"CTD_POSTGRES_DSN", dsn()}};

  const RunResult first = run_ctd({"migrate", "-c", kDemoConfig}, env);
  EXPECT_FALSE(first.timed_out);
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(contains(first.output, "applied 0001_ingestion.sql"));
  EXPECT_TRUE(table_exists("samples"));

  const RunResult second = run_ctd({"migrate", "-c", kDemoConfig}, env);
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_TRUE(contains(second.output, "schema already current"));
  EXPECT_EQ(second.output.find("applied "), std::string::npos) << second.output;
}

TEST_F(CliDatabaseTest, MigrateFromADirectoryAppliesItsFiles) {
  testing::TempDir dir("ctd-cli");
  dir.write("0001_first.sql", "CREATE TABLE first_table (id int);\n");
  dir.write("0002_second.sql", "CREATE TABLE second_table (id int);\n");
  dir.write("README.md", "not a migration");

  const RunResult result =
      run_ctd({"migrate", "-c", kDemoConfig, "--dir", dir.path()}, {{"CTD_POSTGRES_DSN", dsn()}});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "applied 0001_first.sql\napplied 0002_second.sql\n"));
  EXPECT_TRUE(table_exists("second_table"));
  EXPECT_FALSE(table_exists("samples"));  // the built-in migrations were not used
}

TEST_F(CliDatabaseTest, RunRefusesAnUnmigratedDatabase) {
  const RunResult result =
      run_ctd({"run", "-c", kDemoConfig}, {{"CTD_POSTGRES_DSN", dsn()}, {"CTD_HTTP_PORT", "0"}});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "ctd migrate"));
  EXPECT_TRUE(contains(result.output, "0001_ingestion.sql"));
  // Without --migrate, run leaves the database as it was.
  EXPECT_FALSE(table_exists("schema_migrations"));
}

}  // namespace
}  // namespace ctd

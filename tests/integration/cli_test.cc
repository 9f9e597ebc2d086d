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
#include "tests/support/temp_dir.h"

extern char** environ;

namespace ctd {
namespace {

constexpr auto kChildTimeout = std::chrono::seconds(60);
const std::string kCtd = CTD_BINARY_DIR "/ctd";
const std::string kDemoConfig = CTD_SOURCE_DIR "/config/examples/demo.yaml";

struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  std::string output;  // stdout and stderr, interleaved as written
  bool timed_out = false;
};

// The parent's environment without CTD_* variables (so the developer's settings cannot leak
// into a test), plus `overrides`, as execve() wants it.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string variable(*entry);
    const std::string name = variable.substr(0, variable.find('='));
    if (name.rfind("CTD_", 0) == 0 || overrides.count(name)) continue;
    out.push_back(variable);
  }
  for (const auto& [name, value] : overrides) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs `ctd args...` with the environment adjusted by `env`; stdin is /dev/null. Kills the child
// if it has not exited within kChildTimeout.
RunResult run_ctd(std::vector<std::string> args, const std::map<std::string, std::string>& env) {
  args.insert(args.begin(), kCtd);
  std::vector<std::string> environment = child_environment(env);
  std::vector<char*> argv = pointers_to(args);
  std::vector<char*> envp = pointers_to(environment);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(pipe_fds[1]);

  RunResult result;
  const auto deadline = std::chrono::steady_clock::now() + kChildTimeout;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd fd{pipe_fds[0], POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timeout: the deadline check above ends the loop
    const ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child (and anything it started) closed the pipe
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
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

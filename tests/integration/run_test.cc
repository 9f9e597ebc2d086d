// `ctd run` as a process: --migrate, the HTTP endpoints, and a fatal start-up error.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/pg.h"
#include "daemon/run_store.h"
#include "daemon/schema.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

std::string config_with(const std::string& kafka_extra) {
  return R"(
postgres: {dsn: "set by CTD_POSTGRES_DSN"}
kafka:
  brokers: embedded
  embedded_partitions: 2
)" + kafka_extra +
         R"(
pipelines:
  - name: p
    topics: {labels: run.labels}
    features: [{name: x, type: numeric}]
    label: {kind: regression}
)";
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override { pg_ = PgServer::start(); }
  std::map<std::string, std::string> env() const { return {{"CTD_POSTGRES_DSN", pg_->dsn()}}; }
  std::unique_ptr<PgServer> pg_;
};

TEST_F(RunTest, MigrateFlagAppliesPendingMigrationsThenServes) {
  DaemonProcess daemon(config_with(""), env(), {"--migrate"});
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  pg::PgConnection connection(pg_->dsn());
  EXPECT_TRUE(schema::inspect(connection, schema::builtin_migrations()).current());

  auto health = http_get(daemon.http_port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = http_get(daemon.http_port(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find(R"("ready":true)"), std::string::npos) << ready->body;
  auto metrics = http_get(daemon.http_port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("ctd_postgres_up 1"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("# TYPE ctd_ingested_records_total counter"), std::string::npos);
  auto missing = http_get(daemon.http_port(), "/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // The requests above are counted by route and code (wait_ready polled /readyz too).
  metrics = http_get(daemon.http_port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(
      metrics->body.find(R"(ctd_http_requests_total{method="GET",route="/healthz",code="200"} 1)"),
      std::string::npos)
      << metrics->body;
  EXPECT_NE(
      metrics->body.find(R"(ctd_http_requests_total{method="GET",route="unmatched",code="404"} 1)"),
      std::string::npos);
  EXPECT_NE(metrics->body.find(
                R"(ctd_http_request_duration_seconds_count{method="GET",route="/metrics"} 1)"),
            std::string::npos);

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
  EXPECT_NE(daemon.log().find("embedded Kafka broker listening on 127.0.0.1:"), std::string::npos);
}

TEST_F(RunTest, StartUpFailsTrainingRunsAbandonedByADeadDaemon) {
  pg::PgConnection connection(pg_->dsn());
  schema::migrate(connection, schema::builtin_migrations());
  const int pipeline_id = static_cast<int>(
      connection.exec("INSERT INTO pipelines (name) VALUES ('p') RETURNING pipeline_id")
          .integer(0, 0));
  std::int64_t run_id = 0;
  {
    // A daemon that created a run and died: its session, and the run's lock, are gone.
    training::RunStore dead(pg_->dsn(), "elsewhere:99");
    run_id =
        dead.create_run({pipeline_id, "manual", "test", nlohmann::json::object(), "/tmp"}).first;
    dead.mark_running(run_id, 12345);
  }
  DaemonProcess daemon(config_with(""), env());
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  const auto row =
      connection.exec("SELECT status, failure_reason FROM training_runs WHERE run_id = $1",
                      {std::to_string(run_id)});
  EXPECT_EQ(std::string(row.text(0, 0)), "failed");
  EXPECT_NE(std::string(row.text(0, 1)).find("abandoned"), std::string::npos);
  EXPECT_NE(daemon.log().find("training run " + std::to_string(run_id) + " was left unfinished"),
            std::string::npos)
      << daemon.log();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
}

TEST_F(RunTest, AnUnknownKafkaPropertyStopsTheDaemonWithItsName) {
  DaemonProcess daemon(config_with("  properties: {no.such.property: 1}"), env(), {"--migrate"});
  const auto status = daemon.wait_exit(60s);
  ASSERT_TRUE(status) << daemon.log();
  EXPECT_EQ(*status, 1) << daemon.log();
  EXPECT_NE(daemon.log().find("no.such.property"), std::string::npos) << daemon.log();
}

TEST_F(RunTest, AnUnusableArtifactRootStopsTheDaemonWithItsPath) {
  // A regular file where the artifact store's directory should be.
  TempDir dir("ctd-artifact-root");
  const std::string file = dir.write("not-a-directory", "x");
  auto e = env();
  e["CTD_ARTIFACT_ROOT"] = file;
  DaemonProcess daemon(config_with(""), e, {"--migrate"});
  const auto status = daemon.wait_exit(60s);
  ASSERT_TRUE(status) << daemon.log();
  EXPECT_EQ(*status, 2) << daemon.log();
  EXPECT_NE(daemon.log().find("refusing to start: artifact store " + file), std::string::npos)
      << daemon.log();
}

// The value of ctd_pipeline_leader for pipeline p in the daemon's /metrics, if it answers.
std::optional<int> leads_p(const DaemonProcess& daemon) {
  const auto metrics = http_get(daemon.http_port(), "/metrics");
  if (!metrics) return std::nullopt;
  const std::string sample = "ctd_pipeline_leader{pipeline=\"p\"} ";
  const auto at = metrics->body.find(sample);
  if (at == std::string::npos) return std::nullopt;
  return std::stoi(metrics->body.substr(at + sample.size(), 1));
}

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return condition();
}

TEST_F(RunTest, OneReplicaLeadsAPipelineAndAnotherTakesOverWhenItDies) {
  auto first = std::make_unique<DaemonProcess>(config_with(""), env(),
                                               std::vector<std::string>{"--migrate"});
  ASSERT_TRUE(first->wait_ready(60s)) << first->log();
  ASSERT_TRUE(eventually([&] { return leads_p(*first) == 1; }, 15s)) << first->log();
  DaemonProcess second(config_with(""), env());
  ASSERT_TRUE(second.wait_ready(60s)) << second.log();
  // Several leadership rounds later the first still leads and the second does not.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(leads_p(*first), 1);
  EXPECT_EQ(leads_p(second), 0) << second.log();

  first->signal(SIGKILL);
  ASSERT_TRUE(first->wait_exit(30s).has_value());
  first.reset();
  EXPECT_TRUE(eventually([&] { return leads_p(second) == 1; }, 20s)) << second.log();
  EXPECT_NE(second.log().find("leading pipeline p"), std::string::npos) << second.log();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(30s), 0) << second.log();
}

// Every line of `text` must be one JSON object with the log's fields; returns the messages.
std::vector<std::string> json_log_messages(const std::string& text) {
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)");
  static const std::set<std::string> kLevels{"trace",   "debug", "info",
                                             "warning", "error", "critical"};
  std::vector<std::string> messages;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << line;
      continue;
    }
    EXPECT_TRUE(entry.is_object()) << line;
    EXPECT_TRUE(entry["time"].is_string() &&
                std::regex_match(entry["time"].get<std::string>(), kTime))
        << line;
    EXPECT_TRUE(entry["level"].is_string() && kLevels.contains(entry["level"].get<std::string>()))
        << line;
    EXPECT_EQ(entry["logger"], "ctd") << line;
    EXPECT_TRUE(entry["thread"].is_number_unsigned()) << line;
    EXPECT_EQ(entry.size(), 5u) << line;
    if (entry["message"].is_string())
      messages.push_back(entry["message"].get<std::string>());
    else
      ADD_FAILURE() << "no message: " << line;
  }
  return messages;
}

bool any_contains(const std::vector<std::string>& messages, const std::string& text) {
  return std::ranges::any_of(
      messages, [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

// log.format: json writes every log line of `ctd run` to stdout as a JSON object, and nothing
// else goes there; quotes, newlines and bytes that are not UTF-8 in a message keep it valid.
TEST_F(RunTest, JsonLogsAreOneValidObjectPerLineOnStdout) {
  const std::string json_log = "log: {format: json, level: debug}\n";
  {
    // A refused start: its message names an artifact root with a quote, a newline and a
    // byte that is not UTF-8 (replaced by U+FFFD).
    TempDir dir("ctd-json-log");
    const std::string file = dir.write("not-a-directory", "x");
    auto e = env();
    e["CTD_ARTIFACT_ROOT"] = file + "/we\"ird\nroot\xff";
    DaemonProcess refused(config_with("") + json_log, e, {"--migrate"},
                          DaemonProcess::Stdout::kSeparate);
    ASSERT_EQ(refused.wait_exit(60s), 2) << refused.log();
    const auto messages = json_log_messages(refused.standard_output());
    EXPECT_TRUE(any_contains(
        messages, "refusing to start: artifact store " + file + "/we\"ird\nroot\xEF\xBF\xBD"))
        << refused.standard_output();
  }

  DaemonProcess daemon(config_with("") + json_log, env(), {"--migrate"},
                       DaemonProcess::Stdout::kSeparate);
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  {
    // A reload whose error names a key with a quote and a newline.
    std::ofstream(daemon.config_path(), std::ios::app) << "\"we\\\"ird\\nkey\": 1\n";
  }
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_log("not reloaded", 30s)) << daemon.log();
  daemon.signal(SIGTERM);
  ASSERT_EQ(daemon.wait_exit(30s), 0) << daemon.log();

  const std::string out = daemon.standard_output();
  const auto messages = json_log_messages(out);
  EXPECT_TRUE(any_contains(messages, "ctd running")) << out;
  EXPECT_TRUE(any_contains(messages, "we\"ird\nkey")) << out;
  EXPECT_TRUE(any_contains(messages, "received SIGTERM, draining")) << out;
  EXPECT_TRUE(any_contains(messages, "ctd stopped")) << out;
  // The log lines are not on stderr too.
  const std::string err = daemon.log().substr(0, daemon.log().size() - out.size());
  EXPECT_EQ(err.find("ctd running"), std::string::npos) << err;
}

}  // namespace
}  // namespace ctd::testing

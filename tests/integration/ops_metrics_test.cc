// OpsMetrics (daemon/ops_metrics.h) against a real PostgreSQL and the embedded broker: the
// database-derived families count the rows of the configured pipelines, start at zero for
// every known label value, only move up, and ctd_kafka_up follows the brokers.
#include "daemon/ops_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <variant>

#include "config/loader.h"
#include "daemon/embedded_broker.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "tests/support/pg_server.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

config::Options options_for(const std::string& dsn, const std::string& brokers) {
  const std::string yaml = R"(
postgres: {dsn: ")" + dsn + R"("}
kafka: {brokers: ")" + brokers +
                           R"("}
pipelines:
  - name: counted
    topics: {labels: counted.labels}
    features: [{name: x, type: numeric}]
    label: {kind: regression}
)";
  auto parsed = config::parse(yaml, "test.yaml", {});
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&parsed))
    throw std::runtime_error(errors->front().to_string());
  return std::get<config::Options>(std::move(parsed));
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

class OpsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = PgServer::start();
    connection_ = std::make_unique<pg::PgConnection>(pg_->dsn());
    schema::migrate(*connection_, schema::builtin_migrations());
    pipeline_id_ = std::to_string(
        connection_->exec("INSERT INTO pipelines (name) VALUES ('counted') RETURNING pipeline_id")
            .integer(0, 0));
    // Another pipeline's rows are not reported: it is not configured.
    const std::string other = std::to_string(
        connection_->exec("INSERT INTO pipelines (name) VALUES ('other') RETURNING pipeline_id")
            .integer(0, 0));
    add_run(other, "failed");
  }

  void add_run(const std::string& pipeline_id, const std::string& status) {
    const bool finished = status != "queued" && status != "running";
    connection_->exec(
        "INSERT INTO training_runs (pipeline_id, status, reason, requested_by, spec, run_dir, "
        "supervisor, finished_at) VALUES ($1, $2, 'test', 'test', '{}', '/tmp', 'test:1', " +
            std::string(finished ? "now()" : "NULL") + ")",
        {pipeline_id, status});
  }
  void add_trigger_event(const std::string& kind) {
    connection_->exec(
        "INSERT INTO trigger_events (pipeline_id, trigger, kind, reason, evidence, fired_at, "
        "status, deferred_by, fed_seq) VALUES ($1, 't', $2, 'test', '{}', now(), 'held', "
        "'cooldown', 0)",
        {pipeline_id_, kind});
  }

  std::unique_ptr<PgServer> pg_;
  std::unique_ptr<pg::PgConnection> connection_;
  std::string pipeline_id_;
};

TEST_F(OpsMetricsTest, CountsTheConfiguredPipelinesRowsFromZero) {
  kafka::EmbeddedBroker broker;
  const config::Options options = options_for(pg_->dsn(), broker.bootstrap_servers());
  metrics::Registry registry;
  OpsMetrics ops(options, registry, 1h);

  ops.poll_once();
  std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "ctd_kafka_up 1")) << text;
  EXPECT_TRUE(has_line(text, "ctd_ops_metrics_up 1")) << text;
  for (const char* status : {"succeeded", "failed", "cancelled"})
    EXPECT_TRUE(has_line(
        text,
        std::string("ctd_training_runs_total{pipeline=\"counted\",status=\"") + status + "\"} 0"))
        << text;
  EXPECT_TRUE(has_line(text, R"(ctd_trigger_events_total{pipeline="counted",kind="drift"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"(ctd_registry_actions_total{pipeline="counted",action="rejected"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"(ctd_production_changes_total{pipeline="counted",kind="rollback"} 0)"));
  EXPECT_TRUE(has_line(text, R"(ctd_production_model_version{pipeline="counted"} 0)"));
  EXPECT_EQ(text.find("other"), std::string::npos) << text;

  add_run(pipeline_id_, "failed");
  add_run(pipeline_id_, "failed");
  add_run(pipeline_id_, "succeeded");
  add_run(pipeline_id_, "running");
  add_trigger_event("drift");
  ops.poll_once();
  text = registry.render();
  EXPECT_TRUE(has_line(text, R"(ctd_training_runs_total{pipeline="counted",status="failed"} 2)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(ctd_training_runs_total{pipeline="counted",status="succeeded"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(ctd_training_runs_unfinished{pipeline="counted",status="running"} 1)"));
  EXPECT_TRUE(has_line(text, R"(ctd_trigger_events_total{pipeline="counted",kind="drift"} 1)"));

  // A run that finishes leaves the unfinished gauge and joins its counter.
  connection_->exec(
      "UPDATE training_runs SET status = 'cancelled', finished_at = now() WHERE status = "
      "'running'");
  ops.poll_once();
  text = registry.render();
  EXPECT_TRUE(
      has_line(text, R"(ctd_training_runs_unfinished{pipeline="counted",status="running"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"(ctd_training_runs_total{pipeline="counted",status="cancelled"} 1)"));
}

TEST_F(OpsMetricsTest, UnreachableServicesAreReportedNotThrown) {
  // Port 1 on loopback: nothing listens, connections are refused at once.
  const config::Options options =
      options_for("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "127.0.0.1:1");
  metrics::Registry registry;
  OpsMetrics ops(options, registry, 1h);
  const auto started = std::chrono::steady_clock::now();
  ops.poll_once();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "ctd_kafka_up 0")) << text;
  EXPECT_TRUE(has_line(text, "ctd_ops_metrics_up 0")) << text;
  EXPECT_EQ(text.find("ctd_training_runs_total{"), std::string::npos) << text;
}

}  // namespace
}  // namespace ctd::testing

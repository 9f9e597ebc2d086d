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
#include "registry/artifact_store.h"
#include "registry/registry.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

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

TEST_F(OpsMetricsTest, RegistryFamiliesFollowPromotionsRejectionsAndRollbacks) {
  kafka::EmbeddedBroker broker;
  const config::Options options = options_for(pg_->dsn(), broker.bootstrap_servers());
  TempDir tmp("ctd-ops-registry");
  registry::ArtifactStore artifacts(tmp.path() + "/artifacts");
  registry::Registry models(pg_->dsn(), artifacts);
  int files = 0;
  const auto add_version = [&] {
    registry::NewVersion v;
    v.model = "counted";  // the pipeline's model
    const std::string n = std::to_string(++files);
    v.artifact = tmp.write("model-" + n + ".pt", n);
    v.manifest = {{"task", "regression"}};
    v.metrics = {{"validation", {{"rmse", 1.0}}}};
    v.training_params = {{"epochs", 1}};
    v.seq_first = 1;
    v.seq_last = 10;
    v.row_count = 10;
    v.snapshot_sha256 = std::string(64, 'a');
    v.code_version = "test";
    v.device = "cpu";
    v.trigger = {{"type", "manual"}, {"reason", "test"}};
    return models.register_version(v);
  };
  const int v1 = add_version(), v2 = add_version(), v3 = add_version();
  models.promote("counted", v1, {"ctd", "gate", {}});
  models.promote("counted", v2, {"ctd", "gate", {}});
  models.reject("counted", v3, {"ctd", "gate: worse than production", {}});
  EXPECT_EQ(models.rollback("counted", std::nullopt, {"ops", "v2 misbehaves", {}}), v1);
  // v1 was registered 8 days ago.
  connection_->exec(
      "UPDATE model_versions SET created_at = now() - interval '8 days' WHERE version = $1",
      {std::to_string(v1)});

  metrics::Registry registry;
  OpsMetrics ops(options, registry, 1h);
  ops.poll_once();
  const std::string text = registry.render();
  for (const auto& [action, n] : std::vector<std::pair<std::string, int>>{
           {"registered", 3}, {"promoted", 3}, {"rejected", 1}, {"rolled_back", 1}})
    EXPECT_TRUE(has_line(text, "ctd_registry_actions_total{pipeline=\"counted\",action=\"" +
                                   action + "\"} " + std::to_string(n)))
        << action << "\n"
        << text;
  EXPECT_TRUE(
      has_line(text, R"(ctd_production_changes_total{pipeline="counted",kind="promotion"} 2)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(ctd_production_changes_total{pipeline="counted",kind="rollback"} 1)"));
  EXPECT_TRUE(
      has_line(text, "ctd_production_model_version{pipeline=\"counted\"} " + std::to_string(v1)));
  const auto at = text.find("ctd_production_model_age_seconds{pipeline=\"counted\"} ");
  ASSERT_NE(at, std::string::npos) << text;
  const double age = std::stod(text.substr(text.find("} ", at) + 2));
  EXPECT_GE(age, 8 * 86400 - 60);
  EXPECT_LE(age, 8 * 86400 + 600);
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

// A real Prometheus server (Debian's `prometheus`) scrapes the real `ctd run` on loopback:
// the target is up, ctd's families arrive with their labels (job and instance added by
// Prometheus, the pipeline's own labels kept), and the shipped alert rules
// (deploy/prometheus/alerts.yml) load and evaluate healthy against ctd's series.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/prometheus_server.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr char kConfig[] = R"(
postgres: {dsn: "set by CTD_POSTGRES_DSN"}
kafka: {brokers: embedded, embedded_partitions: 2}
pipelines:
  - name: scraped
    topics: {labels: scraped.labels}
    features: [{name: x, type: numeric}]
    label: {kind: regression}
)";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Retries `attempt` every 200 ms until it returns true or `timeout` passes.
bool eventually(std::chrono::seconds timeout, const std::function<bool()>& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (attempt()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

// The alert names in alerts.yml, read from its `- alert: Name` lines.
std::set<std::string> shipped_alert_names(const std::string& rules) {
  std::set<std::string> names;
  std::istringstream in(rules);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("- alert: ");
    if (at != std::string::npos) names.insert(line.substr(at + 9));
  }
  return names;
}

TEST(PrometheusTest, ARealPrometheusScrapesCtdAndLoadsTheShippedAlertRules) {
  if (!PrometheusServer::binary()) GTEST_SKIP() << "prometheus not installed (scripts/setup)";
  auto pg = PgServer::start();
  DaemonProcess daemon(kConfig, {{"CTD_POSTGRES_DSN", pg->dsn()}}, {"--migrate"});
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();

  const std::string target = "127.0.0.1:" + std::to_string(daemon.http_port());
  const std::string rules =
      read_file(std::string(CTD_SOURCE_DIR) + "/deploy/prometheus/alerts.yml");
  const std::set<std::string> alert_names = shipped_alert_names(rules);
  ASSERT_GE(alert_names.size(), 8u);
  PrometheusServer prometheus({
      {"alerts.yml", rules},
      {"prometheus.yml", R"(
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [alerts.yml]
scrape_configs:
  - job_name: ctd
    static_configs: [{targets: [")" +
                             target + R"("]}]
)"},
  });
  ASSERT_TRUE(prometheus.wait_ready(60s)) << prometheus.log();

  // The target is scraped and healthy.
  json targets;
  EXPECT_TRUE(eventually(60s,
                         [&] {
                           const auto body = prometheus.get_json("/api/v1/targets");
                           if (!body || (*body)["data"]["activeTargets"].size() != 1) return false;
                           targets = (*body)["data"]["activeTargets"][0];
                           return targets.value("health", "") == "up";
                         }))
      << targets.dump() << "\n"
      << prometheus.log();
  EXPECT_EQ(targets["labels"]["job"], "ctd");
  EXPECT_EQ(targets["labels"]["instance"], target);
  EXPECT_EQ(targets["scrapeUrl"], "http://" + target + "/metrics");

  // ctd's series, with Prometheus's target labels and ctd's own.
  json result;
  EXPECT_TRUE(eventually(30s, [&] {
    const auto r = prometheus.query("ctd_postgres_up");
    if (!r || r->size() != 1) return false;
    result = *r;
    return true;
  })) << prometheus.log();
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0]["metric"]["job"], "ctd");
  EXPECT_EQ(result[0]["metric"]["instance"], target);
  EXPECT_EQ(result[0]["value"][1], "1");

  EXPECT_TRUE(eventually(30s, [&] {
    const auto r = prometheus.query(R"(ctd_pipeline_leader{pipeline="scraped", job="ctd"})");
    return r && r->size() == 1 && (*r)[0]["value"][1] == "1";
  })) << prometheus.query(R"(ctd_pipeline_leader)").value_or(json()).dump();
  // The database-derived and Kafka families (daemon/ops_metrics.h) the alert rules use.
  EXPECT_TRUE(eventually(30s, [&] {
    const auto r = prometheus.query("ctd_kafka_up == 1");
    return r && r->size() == 1;
  })) << prometheus.query("ctd_kafka_up").value_or(json()).dump();
  EXPECT_TRUE(eventually(30s, [&] {
    const auto r = prometheus.query(
        R"(ctd_training_runs_total{pipeline="scraped", status="failed", instance=")" + target +
        R"("})");
    return r && r->size() == 1 && (*r)[0]["value"][1] == "0";
  })) << prometheus.query("ctd_training_runs_total").value_or(json()).dump();

  // Every shipped rule is loaded and evaluates without error against ctd's series.
  std::set<std::string> loaded;
  json rule_groups;
  EXPECT_TRUE(eventually(30s, [&] {
    const auto body = prometheus.get_json("/api/v1/rules");
    if (!body) return false;
    rule_groups = (*body)["data"]["groups"];
    loaded.clear();
    bool all_ok = true;
    for (const json& group : rule_groups)
      for (const json& rule : group["rules"]) {
        loaded.insert(rule.value("name", ""));
        all_ok = all_ok && rule.value("health", "") == "ok";
      }
    return all_ok && loaded == alert_names;
  })) << rule_groups.dump(1);
  EXPECT_EQ(loaded, alert_names);

  // A healthy ctd has no critical alert pending or firing (their expressions are false).
  const auto firing = prometheus.get_json("/api/v1/alerts");
  ASSERT_TRUE(firing);
  for (const json& alert : (*firing)["data"]["alerts"])
    EXPECT_NE(alert["labels"].value("severity", ""), "critical") << alert.dump();

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(30s), 0) << daemon.log();
}

}  // namespace
}  // namespace ctd::testing

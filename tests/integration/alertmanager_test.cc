// Ops alerts against a real Alertmanager (Debian's prometheus-alertmanager, on the loopback):
// ctd's dispatcher posts to /api/v2/alerts, the alert is listed as active with ctd's labels and
// annotations, and the resolved alert makes it leave the active list.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "daemon/alerts.h"
#include "tests/support/prometheus_server.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kConfig[] = R"(route:
  receiver: nobody
  group_wait: 1s
receivers:
  - name: nobody
)";

// The active alerts named `name`, polled until `want` of them are listed (or 20 s pass).
nlohmann::json listed(PrometheusServer& am, const std::string& name, std::size_t want) {
  nlohmann::json found = nlohmann::json::array();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    found = nlohmann::json::array();
    if (const auto alerts = am.get_json("/api/v2/alerts")) {
      for (const auto& a : *alerts)
        if (a["labels"].value("alertname", "") == name) found.push_back(a);
    }
    if (found.size() == want) break;
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return found;
}

TEST(AlertmanagerTest, FiringAndResolvedAlertsReachARealAlertmanager) {
  auto am = PrometheusServer::alertmanager({{"alertmanager.yml", kConfig}});
  ASSERT_TRUE(am->wait_ready(30s)) << am->log();

  metrics::Registry metrics;
  std::vector<std::unique_ptr<alerts::Destination>> destinations;
  destinations.push_back(alerts::alertmanager_destination(
      *http::parse_http_url("http://127.0.0.1:" + std::to_string(am->port())).url, 5000ms,
      "http://ctd.test/"));
  alerts::AlertDispatcher dispatcher(std::move(destinations), {{"cluster", "test"}}, 10,
                                     {100ms, 1000ms, 5}, metrics);

  alerts::Alert alert =
      alerts::event("CtdConsumerLagHigh", "warning", {{"pipeline", "churn"}, {"stream", "labels"}},
                    "churn labels is 5000 records behind", "", alerts::Clock::now(), 10min);
  dispatcher.notify(alert);
  ASSERT_TRUE(dispatcher.drain(20s));
  const nlohmann::json firing = listed(*am, "CtdConsumerLagHigh", 1);
  ASSERT_EQ(firing.size(), 1u) << am->log();
  EXPECT_EQ(firing[0]["labels"]["pipeline"], "churn");
  EXPECT_EQ(firing[0]["labels"]["cluster"], "test");
  EXPECT_EQ(firing[0]["labels"]["severity"], "warning");
  EXPECT_EQ(firing[0]["annotations"]["summary"], "churn labels is 5000 records behind");
  EXPECT_EQ(firing[0]["status"]["state"], "active");
  EXPECT_EQ(firing[0]["generatorURL"], "http://ctd.test/");

  alert.resolved = true;
  alert.ends_at = alerts::Clock::now();
  dispatcher.notify(alert);
  ASSERT_TRUE(dispatcher.drain(20s));
  EXPECT_TRUE(listed(*am, "CtdConsumerLagHigh", 0).empty()) << am->log();
  EXPECT_NE(metrics.render().find(
                R"(ctd_alerts_sent_total{destination="alertmanager",outcome="delivered"} 2)"),
            std::string::npos);
}

}  // namespace
}  // namespace ctd::testing

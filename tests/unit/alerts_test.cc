// Ops alerts: the wire formats (Alertmanager's postable alerts, the signed webhook body), the
// conditions' firing and resolving, and the dispatcher against a real local HTTP receiver:
// signatures, retries, a dead receiver, a full queue.
#include "daemon/alerts.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/alert_conditions.h"
#include "daemon/http_client.h"
#include "tests/support/webhook_receiver.h"

namespace ctd::alerts {
namespace {

using namespace std::chrono_literals;
using testing::WebhookReceiver;

const Clock::time_point kNow = Clock::time_point(std::chrono::milliseconds(1764751200123));

TEST(Alerts, EventsHaveAlertmanagersShape) {
  const Alert a = event("CtdTrainingFailed", "warning", {{"pipeline", "churn"}}, "run 3 failed",
                        "SIGSEGV", kNow, 1h);
  EXPECT_EQ(format_time(kNow), "2025-12-03T08:40:00.123Z");
  const auto body = nlohmann::json::parse(alertmanager_body({a}, "http://ctd:8080/"));
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["labels"], (nlohmann::json{{"alertname", "CtdTrainingFailed"},
                                               {"severity", "warning"},
                                               {"pipeline", "churn"}}));
  EXPECT_EQ(body[0]["annotations"]["summary"], "run 3 failed");
  EXPECT_EQ(body[0]["annotations"]["description"], "SIGSEGV");
  EXPECT_EQ(body[0]["startsAt"], "2025-12-03T08:40:00.123Z");
  EXPECT_EQ(body[0]["endsAt"], "2025-12-03T09:40:00.123Z");
  EXPECT_EQ(body[0]["generatorURL"], "http://ctd:8080/");
  const auto hook = nlohmann::json::parse(webhook_body(a));
  EXPECT_EQ(hook["status"], "firing");
  EXPECT_EQ(hook["source"], "ctd");
  EXPECT_EQ(hook["alert"]["labels"]["alertname"], "CtdTrainingFailed");
}

TEST(Alerts, HmacSha256MatchesRfc4231) {
  // RFC 4231, test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Alerts, HttpUrls) {
  const auto url = http::parse_http_url("http://am.example:9093/base");
  ASSERT_TRUE(url.url);
  EXPECT_EQ(url.url->host, "am.example");
  EXPECT_EQ(url.url->port, 9093);
  EXPECT_EQ(url.url->target, "/base");
  EXPECT_EQ(http::parse_http_url("http://hooks").url->port, 80);
  EXPECT_EQ(http::parse_http_url("http://hooks").url->target, "/");
  EXPECT_EQ(http::parse_http_url("https://hooks").url->port, 443);  // https_test.cc: the rest
  EXPECT_NE(http::parse_http_url("hooks:80").error.find("is not an http:// or https:// URL"),
            std::string::npos);
  EXPECT_FALSE(http::parse_http_url("http://hooks:99999/").url);
  EXPECT_FALSE(http::parse_http_url("http://:80/").url);
}

config::AlertsOptions conditions() {
  config::AlertsOptions o;
  o.evaluation_interval = 30s;
  o.quarantine_rate = 0.1;
  o.consumer_lag = 1000;
  o.model_stale = 24h;
  return o;
}

std::map<std::string, Alert> by_name(const std::vector<Alert>& alerts) {
  std::map<std::string, Alert> out;
  for (const Alert& a : alerts) out.emplace(a.name(), a);
  return out;
}

TEST(AlertConditions, FireWhileTheyHoldAndResolveOnce) {
  ConditionTracker tracker(conditions());
  Observation o;
  o.at = kNow;
  o.streams = {{"churn", "labels", 1000, 0, 10}};
  EXPECT_TRUE(tracker.update(o).empty());

  // 30 of the next 200 records quarantined (15% >= 10%), 5000 behind, Postgres and Kafka down,
  // production 2 days old.
  o.at = kNow + 30s;
  o.streams = {{"churn", "labels", 1170, 30, 5000}};
  o.postgres_up = false;
  o.kafka_up = false;
  o.production_age = {{"churn", 48h}};
  auto firing = by_name(tracker.update(o));
  ASSERT_EQ(firing.size(), 5u);
  for (const auto& [name, a] : firing) {
    EXPECT_FALSE(a.resolved) << name;
    EXPECT_EQ(a.ends_at, o.at + 120s) << name;
  }
  EXPECT_EQ(firing.at("CtdQuarantineRateHigh").labels.at("stream"), "labels");
  EXPECT_NE(firing.at("CtdQuarantineRateHigh").annotations.at("summary").find("15.0%"),
            std::string::npos);
  EXPECT_EQ(firing.at("CtdConsumerLagHigh").labels.at("pipeline"), "churn");
  EXPECT_EQ(firing.at("CtdPostgresUnreachable").labels.at("severity"), "critical");
  EXPECT_EQ(firing.at("CtdModelStale").labels.at("pipeline"), "churn");
  EXPECT_TRUE(firing.contains("CtdKafkaUnreachable"));

  // Postgres is back, the lag persists (sent again, same start), no new records (rate not
  // judged: fewer than 100).
  o.at = kNow + 60s;
  o.postgres_up = true;
  o.kafka_up = true;
  o.production_age = {{"churn", 1h}};
  auto next = tracker.update(o);
  auto named = by_name(next);
  EXPECT_TRUE(named.at("CtdConsumerLagHigh").starts_at == kNow + 30s);
  EXPECT_FALSE(named.at("CtdConsumerLagHigh").resolved);
  for (const char* cleared : {"CtdPostgresUnreachable", "CtdKafkaUnreachable",
                              "CtdQuarantineRateHigh", "CtdModelStale"}) {
    ASSERT_TRUE(named.contains(cleared)) << cleared;
    EXPECT_TRUE(named.at(cleared).resolved) << cleared;
    EXPECT_EQ(named.at(cleared).ends_at, o.at) << cleared;
  }
  // Resolved once: the next round has only the lag.
  o.at = kNow + 90s;
  const auto later = tracker.update(o);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].name(), "CtdConsumerLagHigh");
}

TEST(AlertConditions, ZeroDisablesAThreshold) {
  config::AlertsOptions o = conditions();
  o.consumer_lag = 0;
  o.quarantine_rate = 0;
  o.model_stale = 0s;
  ConditionTracker tracker(o);
  Observation first{kNow, true, true, {{"p", "labels", 0, 0, 1e9}}, {{"p", 1000h}}};
  Observation second{kNow + 30s, true, true, {{"p", "labels", 0, 1000, 1e9}}, {{"p", 1000h}}};
  EXPECT_TRUE(tracker.update(first).empty());
  EXPECT_TRUE(tracker.update(second).empty());
}

std::unique_ptr<AlertDispatcher> dispatcher_to(const std::string& url, const std::string& secret,
                                               metrics::Registry& metrics,
                                               std::size_t queue_size = 100,
                                               RetryPolicy retry = {20ms, 100ms, 4}) {
  std::vector<std::unique_ptr<Destination>> destinations;
  destinations.push_back(
      webhook_destination("ops", *http::parse_http_url(url).url, secret, 2000ms));
  return std::make_unique<AlertDispatcher>(std::move(destinations),
                                           std::map<std::string, std::string>{{"cluster", "eu"}},
                                           queue_size, retry, metrics);
}

TEST(AlertDispatcher, WebhooksAreSignedAndCarryTheExtraLabels) {
  WebhookReceiver receiver;
  metrics::Registry metrics;
  auto dispatcher = dispatcher_to(receiver.url(), "s3cret", metrics);
  dispatcher->notify(
      event("CtdModelPromoted", "info", {{"pipeline", "churn"}}, "v2", "", kNow, 1h));
  ASSERT_TRUE(dispatcher->drain(10s));
  const auto requests = receiver.wait_for(1, 10s);
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  const std::string timestamp = r.headers.at("x-ctd-timestamp");
  EXPECT_EQ(r.headers.at("x-ctd-signature"),
            "sha256=" + hmac_sha256_hex("s3cret", timestamp + "." + r.body));
  EXPECT_NE(r.headers.at("x-ctd-signature"),
            "sha256=" + hmac_sha256_hex("other", timestamp + "." + r.body));
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["alert"]["labels"]["cluster"], "eu");
  EXPECT_EQ(body["alert"]["labels"]["pipeline"], "churn");
  EXPECT_NE(metrics.render().find(
                R"(ctd_alerts_sent_total{destination="webhook:ops",outcome="delivered"} 1)"),
            std::string::npos)
      << metrics.render();
}

TEST(AlertDispatcher, FailedDeliveriesAreRetriedWithBackoff) {
  WebhookReceiver receiver({500, 503});
  metrics::Registry metrics;
  auto dispatcher = dispatcher_to(receiver.url(), "", metrics);
  dispatcher->notify(event("CtdTriggerFired", "info", {}, "fired", "", kNow, 1h));
  ASSERT_TRUE(dispatcher->drain(10s));
  const auto requests = receiver.wait_for(3, 10s);
  ASSERT_EQ(requests.size(), 3u);  // 500, 503, then delivered
  EXPECT_EQ(requests[0].body, requests[2].body);
  EXPECT_FALSE(requests[0].headers.contains("x-ctd-signature"));  // no secret: unsigned
  EXPECT_NE(metrics.render().find(
                R"(ctd_alerts_sent_total{destination="webhook:ops",outcome="delivered"} 1)"),
            std::string::npos);
}

TEST(AlertDispatcher, ADeadReceiverNeverBlocksNotifyAndAFullQueueDropsTheOldest) {
  // Nothing listens on this port once the receiver is gone.
  std::string url;
  {
    WebhookReceiver gone;
    url = gone.url();
  }
  metrics::Registry metrics;
  auto dispatcher = dispatcher_to(url, "", metrics, /*queue_size=*/3, {50ms, 50ms, 2});
  for (int i = 0; i < 50; ++i)
    dispatcher->notify(
        event("CtdTriggerFired", "info", {{"n", std::to_string(i)}}, "x", "", kNow, 1h));
  ASSERT_TRUE(dispatcher->drain(20s));
  const std::string text = metrics.render();
  // notify() only queues: of 50 alerts at most 3 wait and 1 is in flight, the rest are dropped;
  // what was sent failed.
  const auto value = [&](const std::string& series) {
    const auto at = text.find(series + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 1));
  };
  const double dropped = value(R"(ctd_alerts_dropped_total{destination="webhook:ops"})");
  const double failed =
      value(R"(ctd_alerts_sent_total{destination="webhook:ops",outcome="failed"})");
  EXPECT_GE(dropped, 46);
  EXPECT_EQ(dropped + failed, 50) << text;
  EXPECT_EQ(value(R"(ctd_alerts_sent_total{destination="webhook:ops",outcome="delivered"})"), 0);
}

}  // namespace
}  // namespace ctd::alerts

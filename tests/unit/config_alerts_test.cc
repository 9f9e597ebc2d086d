// The root `alerts` section: defaults, every key, secrets from the environment (never
// rendered), and each class of error with its key path and line.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "tests/unit/config_triggers_support.h"

namespace config_triggers_test {
namespace {

using namespace std::chrono_literals;

// kBase with a root `alerts` section from line 13 (first key on line 14).
std::string with_alerts(const char* section) { return kBase + "alerts:\n" + yaml(section); }

std::variant<Options, std::vector<ConfigError>> parse_with(const std::string& text,
                                                           ctd::config::Environment env) {
  return ctd::config::parse(text, "test.yaml", env);
}

TEST(ConfigAlerts, AbsentMeansNoDestinationAndDefaults) {
  const Options o = options_of(kBase);
  EXPECT_FALSE(o.alerts.alertmanager_url);
  EXPECT_TRUE(o.alerts.webhooks.empty());
  EXPECT_EQ(o.alerts.queue_size, 1000u);
  EXPECT_EQ(o.alerts.evaluation_interval, 30s);
  EXPECT_EQ(o.alerts.quarantine_rate, 0.05);
  EXPECT_EQ(o.alerts.consumer_lag, 100000);
  EXPECT_EQ(o.alerts.model_stale, std::chrono::seconds(7 * 24 * 3600));
}

TEST(ConfigAlerts, EveryKeyAndTheSecretFromTheEnvironment) {
  const auto result = parse_with(with_alerts(R"(
  alertmanager: {url: "http://am:9093"}
  webhooks:
    - {name: ops, url: "http://hooks:8000/ctd", secret_env: CTD_WEBHOOK_OPS}
    - {name: audit, url: "http://audit/in"}
  labels: {cluster: eu-1, team: ml}
  queue_size: 50
  timeout_ms: 2000
  retry_initial_ms: 100
  retry_max_ms: 5000
  max_attempts: 3
  event_ttl_s: 600
  evaluation_interval_s: 10
  quarantine_rate: 0.2
  consumer_lag: 0
  model_stale_s: 86400
)"),
                                 {{"CTD_WEBHOOK_OPS", "k3y"}});
  ASSERT_TRUE(std::holds_alternative<Options>(result));
  const auto& a = std::get<Options>(result).alerts;
  EXPECT_EQ(*a.alertmanager_url, "http://am:9093");
  ASSERT_EQ(a.webhooks.size(), 2u);
  EXPECT_EQ(a.webhooks[0].secret, "k3y");
  EXPECT_EQ(a.webhooks[1].secret, "");
  EXPECT_EQ(a.labels.at("team"), "ml");
  EXPECT_EQ(a.queue_size, 50u);
  EXPECT_EQ(a.timeout, 2000ms);
  EXPECT_EQ(a.retry_initial, 100ms);
  EXPECT_EQ(a.retry_max, 5000ms);
  EXPECT_EQ(a.max_attempts, 3);
  EXPECT_EQ(a.event_ttl, 600s);
  EXPECT_EQ(a.evaluation_interval, 10s);
  EXPECT_EQ(a.quarantine_rate, 0.2);
  EXPECT_EQ(a.consumer_lag, 0);
  EXPECT_EQ(a.model_stale, 86400s);

  const std::string rendered = ctd::config::render(std::get<Options>(result));
  EXPECT_NE(rendered.find("secret_env: CTD_WEBHOOK_OPS"), std::string::npos) << rendered;
  EXPECT_EQ(rendered.find("k3y"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("url: http://am:9093"), std::string::npos) << rendered;
}

TEST(ConfigAlerts, HttpsDestinationsTakeACaFileResolvedAgainstTheConfigDirectory) {
  const auto result = parse_with(with_alerts(R"(
  alertmanager: {url: "https://am:9093", ca_file: /etc/ctd/am-ca.pem}
  webhooks:
    - {name: ops, url: "https://hooks.example/ctd", ca_file: certs/hooks-ca.pem}
    - {name: audit, url: "https://audit.example/in"}
)"),
                                 {});
  ASSERT_TRUE(std::holds_alternative<Options>(result));
  const auto& a = std::get<Options>(result).alerts;
  EXPECT_EQ(*a.alertmanager_url, "https://am:9093");
  EXPECT_EQ(*a.alertmanager_ca_file, "/etc/ctd/am-ca.pem");
  ASSERT_EQ(a.webhooks.size(), 2u);
  ASSERT_TRUE(a.webhooks[0].ca_file);
  EXPECT_TRUE(a.webhooks[0].ca_file->starts_with("/")) << *a.webhooks[0].ca_file;
  EXPECT_TRUE(a.webhooks[0].ca_file->ends_with("/certs/hooks-ca.pem")) << *a.webhooks[0].ca_file;
  EXPECT_FALSE(a.webhooks[1].ca_file);  // the system's CAs
  const Options reread = options_of(ctd::config::render(std::get<Options>(result)));
  EXPECT_EQ(reread.alerts.alertmanager_ca_file, a.alertmanager_ca_file);
  EXPECT_EQ(reread.alerts.webhooks[0].ca_file, a.webhooks[0].ca_file);
}

TEST(ConfigAlerts, Errors) {
  const auto result = parse_with(with_alerts(R"(
  alertmanager: {url: "http://am:9093", ca_file: ca.pem}
  webhooks:
    - {name: ops, url: "http://a/x", secret_env: CTD_MISSING}
    - {name: ops, url: "ftp://b"}
    - {name: x, url: "http://c", secret_env: WEBHOOK_KEY}
    - {url: "http://d", secrt_env: CTD_X}
  labels: {"bad-label": x}
  queue_size: 0
  retry_initial_ms: 5000
  retry_max_ms: 100
  quarantine_rate: 1.5
  evaluation_interval_s: 1
)"),
                                 {});
  ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
  const auto& errors = std::get<std::vector<ConfigError>>(result);
  EXPECT_TRUE(HasError(errors, "alerts.alertmanager.ca_file", 14,
                       "'ca_file' is only allowed with an https:// url"));
  EXPECT_TRUE(HasError(errors, "alerts.webhooks[0].secret_env", 16,
                       "environment variable CTD_MISSING (the webhook's signing secret) is not "
                       "set"));
  EXPECT_TRUE(HasError(errors, "alerts.webhooks[1].name", 17, "duplicate webhook name 'ops'"));
  EXPECT_TRUE(HasError(errors, "alerts.webhooks[1].url", 17,
                       "'ftp://b' is not an http:// or https:// URL"));
  EXPECT_TRUE(HasError(errors, "alerts.webhooks[2].secret_env", 18,
                       "'WEBHOOK_KEY' must be a CTD_* environment variable"));
  EXPECT_TRUE(HasError(errors, "alerts.webhooks[3].secrt_env", 19,
                       "unknown key 'secrt_env' (did you mean 'secret_env'?)"));
  EXPECT_TRUE(HasError(errors, "alerts.webhooks[3].name", 19, "missing required key 'name'"));
  EXPECT_TRUE(HasError(errors, "alerts.labels.bad-label", 20, "invalid label name 'bad-label'"));
  EXPECT_TRUE(HasError(errors, "alerts.queue_size", 21, "must be between 1 and 1000000"));
  EXPECT_TRUE(HasError(errors, "alerts.retry_initial_ms", 22,
                       "retry_initial_ms (5000) must not be greater than retry_max_ms (100)"));
  EXPECT_TRUE(HasError(errors, "alerts.quarantine_rate", 24, "1.5"));
  EXPECT_TRUE(HasError(errors, "alerts.evaluation_interval_s", 25, "between 5 and 3600"));
  EXPECT_EQ(errors.size(), 12u) << describe(errors);
}

}  // namespace
}  // namespace config_triggers_test

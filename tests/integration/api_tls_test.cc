// `ctd run` with http.tls, against a real PostgreSQL and certificates made by the openssl tool
// at test time: the API and health endpoints over HTTPS, what fails verification (an untrusted
// CA, a wrong name), plain HTTP and silent clients on the TLS port, `ctd ctl --cacert`, a signed
// alert to an HTTPS webhook, certificate rotation on SIGHUP, and bad certificate files stopping
// the start.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "daemon/alerts.h"
#include "daemon/http_client.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "daemon/tls.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/prometheus_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/support/webhook_receiver.h"

namespace ctd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::KeyPair;

constexpr const char* kReadToken = "read-token-0123456789";
constexpr const char* kAdminToken = "admin-token-0123456789";
constexpr const char* kTokens =
    "viewer read read-token-0123456789\nops admin admin-token-0123456789\n";

std::string failure_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool log_shows(testing::DaemonProcess& daemon, const std::string& needle,
               std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (daemon.log().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

class ApiTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    const std::string database = "api_tls_" + std::to_string(++counter);
    server_->create_database(database);
    dsn_ = server_->dsn(database);
    pg::PgConnection db(dsn_);
    schema::migrate(db, schema::builtin_migrations());
    ca_ = pki_.ca("ca");
    const KeyPair pair = pki_.server("server", ca_, "DNS:localhost");
    // The daemon's files, under fixed names (rotation rewrites them in place).
    std::filesystem::copy_file(pair.cert, cert_file_);
    std::filesystem::copy_file(pair.key, key_file_);
  }

  // `ctd run` on HTTPS with the API's tokens, one pipeline with a manual trigger, a trainer
  // that fails at once and `extra` appended to the configuration.
  std::unique_ptr<testing::DaemonProcess> start(const std::string& extra = "") {
    const std::string trainer = tmp_.write("trainer.sh", "#!/bin/sh\necho fake; exit 3\n");
    std::filesystem::permissions(trainer, std::filesystem::perms::owner_all);
    return std::make_unique<testing::DaemonProcess>(
        fmt::format(R"(
postgres: {{dsn: "{}"}}
kafka: {{brokers: embedded}}
http:
  auth: {{tokens_file: "{}"}}
  tls: {{cert_file: "{}", key_file: "{}", handshake_timeout_s: 1}}
pipelines:
  - name: fraud
    topics: {{labels: fraud.labels}}
    features:
      - {{name: a, type: numeric}}
    label: {{kind: binary}}
    triggers:
      rules:
        - {{name: ask, type: manual}}
)",
                    dsn_, tmp_.write("tokens", kTokens), cert_file_, key_file_) +
            extra,
        std::map<std::string, std::string>{{"CTD_TRAINING_RUN_ROOT", tmp_.path() + "/runs"},
                                           {"CTD_TRAINER", trainer},
                                           {"CTD_HOOK_SECRET", "t0ps3cret"},
                                           {"CTD_ARTIFACT_ROOT", tmp_.path() + "/artifacts"}});
  }

  http::HttpUrl url(const testing::DaemonProcess& daemon, const std::string& target,
                    const std::string& host = "localhost") {
    return *http::parse_http_url(fmt::format("https://{}:{}{}", host, daemon.http_port(), target))
                .url;
  }

  http::ClientResponse get(const testing::DaemonProcess& daemon, const std::string& target,
                           const tls::ClientTls& tls, const std::string& token = "") {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = std::string("Bearer ") + token;
    return http::request("GET", url(daemon, target), headers, "", 5000ms, tls);
  }

  // Polls /readyz over HTTPS until 200 (false if the daemon exits or time runs out).
  bool wait_ready(testing::DaemonProcess& daemon, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && daemon.running()) {
      try {
        if (get(daemon, "/readyz", trusting_ca()).status == 200) return true;
      } catch (const std::exception&) {
        // not listening yet
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  tls::ClientTls trusting_ca() const { return {ca_.cert, "", ""}; }

  testing::RunResult ctl(std::vector<std::string> args, std::map<std::string, std::string> env) {
    args.insert(args.begin(), {CTD_BINARY_DIR "/ctd", "ctl"});
    return testing::run_program(args, env, 30s);
  }

  static std::unique_ptr<testing::PgServer> server_;
  std::string dsn_;
  testing::TempDir tmp_{"ctd-api-tls"};
  testing::TestPki pki_{tmp_.path()};
  KeyPair ca_;
  const std::string cert_file_ = tmp_.path() + "/tls.crt";
  const std::string key_file_ = tmp_.path() + "/tls.key";
};

std::unique_ptr<testing::PgServer> ApiTlsTest::server_;

TEST_F(ApiTlsTest, CtdRunServesHttpsAndRefusesWhatCannotBeVerified) {
  auto daemon = start();
  ASSERT_TRUE(wait_ready(*daemon, 60s)) << daemon->log();
  EXPECT_NE(daemon->log().find("TLS certificate: CN=server, issued by CN=ca"), std::string::npos)
      << daemon->log();
  EXPECT_NE(daemon->log().find("HTTP endpoints on https://"), std::string::npos);
  EXPECT_EQ(get(*daemon, "/healthz", trusting_ca()).status, 200);
  EXPECT_EQ(get(*daemon, "/v1/models", trusting_ca()).status, 401);
  const http::ClientResponse models = get(*daemon, "/v1/models", trusting_ca(), kReadToken);
  EXPECT_EQ(models.status, 200) << models.body;
  EXPECT_NE(get(*daemon, "/metrics", trusting_ca()).body.find("ctd_http_requests_total"),
            std::string::npos);

  // Plain HTTP to the TLS port: a plain 400 saying so, and the daemon goes on.
  const auto plain = testing::http_get(daemon->http_port(), "/healthz");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 400);
  EXPECT_EQ(json::parse(plain->body)["error"]["code"], "tls_required");
  // A client that does not trust the CA, or expects another name, fails verification.
  std::string failure = failure_of([&] { get(*daemon, "/healthz", {}); });
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;
  failure = failure_of([&] {
    http::request("GET", url(*daemon, "/healthz", "127.0.0.1"), {}, "", 5000ms, trusting_ca());
  });
  EXPECT_NE(failure.find("IP address mismatch"), std::string::npos) << failure;

  // A client that connects and never handshakes is dropped after handshake_timeout_s (1 s).
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket silent(io);
  const auto started = std::chrono::steady_clock::now();
  silent.connect({boost::asio::ip::make_address("127.0.0.1"),
                  static_cast<std::uint16_t>(daemon->http_port())});
  char byte = 0;
  boost::system::error_code closed;
  silent.read_some(boost::asio::buffer(&byte, 1), closed);
  const auto held = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(closed == boost::asio::error::eof || closed == boost::asio::error::connection_reset)
      << closed.message();
  EXPECT_GE(held, 500ms);
  EXPECT_LT(held, 10s);

  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(get(*daemon, "/readyz", trusting_ca()).status, 200);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
}

// ctd ctl with --cacert (or CTD_API_CACERT); a manual trigger through it becomes a signed
// CtdTriggerFired alert at an HTTPS webhook that the daemon verifies with its ca_file.
TEST_F(ApiTlsTest, CtdCtlWithItsCacertAndASignedAlertToAnHttpsWebhook) {
  const KeyPair hooks_ca = pki_.ca("hooks-ca");
  const KeyPair hooks = pki_.server("hooks", hooks_ca, "DNS:localhost");
  testing::WebhookReceiver receiver(
      {}, tls::server_context({hooks.cert, hooks.key, std::nullopt, 10s}));
  auto daemon = start(fmt::format(
      "alerts:\n  webhooks: [{{name: ops, url: \"{}\", secret_env: CTD_HOOK_SECRET, ca_file: "
      "\"{}\"}}]\n",
      receiver.url(), hooks_ca.cert));
  ASSERT_TRUE(wait_ready(*daemon, 60s)) << daemon->log();
  const std::string https_url = fmt::format("https://localhost:{}", daemon->http_port());

  auto r =
      ctl({"--url", https_url, "--cacert", ca_.cert, "status"}, {{"CTD_API_TOKEN", kReadToken}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fraud"), std::string::npos) << r.output;
  r = ctl({"--url", https_url, "models", "--json"},
          {{"CTD_API_TOKEN", kReadToken}, {"CTD_API_CACERT", ca_.cert}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Without the CA: not verified, so nothing is sent (exit 1, OpenSSL's reason).
  r = ctl({"--url", https_url, "status"}, {{"CTD_API_TOKEN", kReadToken}});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("certificate verify failed"), std::string::npos) << r.output;
  // --cacert with a plain URL is a usage error; plain HTTP to the TLS port is refused.
  const std::string plain_url = fmt::format("http://localhost:{}", daemon->http_port());
  EXPECT_EQ(ctl({"--url", plain_url, "--cacert", ca_.cert, "status"}, {}).exit_code, 2);
  r = ctl({"--url", plain_url, "status"}, {{"CTD_API_TOKEN", kReadToken}});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("use an https:// URL"), std::string::npos) << r.output;

  // 409 until the daemon has taken the pipeline's leadership.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    r = ctl({"--url", https_url, "--cacert", ca_.cert, "trigger", "fraud", "--reason",
             "rotate the model"},
            {{"CTD_API_TOKEN", kAdminToken}});
  } while (r.exit_code == 3 && r.output.find("409") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(r.exit_code, 0) << r.output << daemon->log();
  EXPECT_NE(r.output.find("training started"), std::string::npos) << r.output;

  bool fired = false;
  const auto alert_deadline = std::chrono::steady_clock::now() + 30s;
  while (!fired && std::chrono::steady_clock::now() < alert_deadline) {
    for (const auto& request : receiver.wait_for(1, 5s)) {
      const std::string timestamp = request.headers.at("x-ctd-timestamp");
      EXPECT_EQ(request.headers.at("x-ctd-signature"),
                "sha256=" + alerts::hmac_sha256_hex("t0ps3cret", timestamp + "." + request.body));
      const json body = json::parse(request.body);
      if (body["alert"]["labels"]["alertname"] == "CtdTriggerFired") {
        fired = true;
        EXPECT_EQ(body["alert"]["labels"]["pipeline"], "fraud");
      }
    }
  }
  EXPECT_TRUE(fired) << daemon->log();
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
}

// Certificate rotation: the files are replaced under the same names and SIGHUP puts them in
// service; files that do not load leave the previous certificate serving.
TEST_F(ApiTlsTest, SighupRotatesTheCertificateAndKeepsTheOldOneWhenTheNewFilesAreBad) {
  auto daemon = start();
  ASSERT_TRUE(wait_ready(*daemon, 60s)) << daemon->log();
  const KeyPair next_ca = pki_.ca("next-ca");
  const KeyPair next = pki_.server("next", next_ca, "DNS:localhost");
  std::filesystem::copy_file(next.cert, cert_file_,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(next.key, key_file_,
                             std::filesystem::copy_options::overwrite_existing);
  daemon->signal(SIGHUP);
  ASSERT_TRUE(log_shows(
      *daemon,
      "SIGHUP: TLS certificate reloaded from " + cert_file_ + ": CN=next, issued by CN=next-ca",
      10s))
      << daemon->log();
  EXPECT_EQ(get(*daemon, "/healthz", {next_ca.cert, "", ""}).status, 200);
  const std::string failure = failure_of([&] { get(*daemon, "/healthz", trusting_ca()); });
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;

  // A key that belongs to another certificate: refused, the rotated one still serves.
  std::filesystem::copy_file(pki_.server("stray", next_ca, "DNS:localhost").key, key_file_,
                             std::filesystem::copy_options::overwrite_existing);
  daemon->signal(SIGHUP);
  ASSERT_TRUE(log_shows(*daemon,
                        "SIGHUP: TLS certificate not reloaded, the previous one still serves: "
                        "http.tls.key_file " +
                            key_file_ + " does not match",
                        10s))
      << daemon->log();
  EXPECT_EQ(get(*daemon, "/healthz", {next_ca.cert, "", ""}).status, 200);
  EXPECT_TRUE(daemon->running());
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
}

// A real Prometheus scrapes /metrics over HTTPS with the CA in its tls_config; a job without it
// is refused by Prometheus's own verification.
TEST_F(ApiTlsTest, ARealPrometheusScrapesOverHttpsWithTheCa) {
  if (!testing::PrometheusServer::binary()) GTEST_SKIP() << "prometheus not installed";
  auto daemon = start();
  ASSERT_TRUE(wait_ready(*daemon, 60s)) << daemon->log();
  const std::string target = "localhost:" + std::to_string(daemon->http_port());
  testing::PrometheusServer prometheus({{"prometheus.yml", fmt::format(R"(
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: verified
    scheme: https
    tls_config: {{ca_file: "{}"}}
    static_configs: [{{targets: ["{}"]}}]
  - job_name: untrusted
    scheme: https
    static_configs: [{{targets: ["{}"]}}]
)",
                                                                       ca_.cert, target, target)}});
  ASSERT_TRUE(prometheus.wait_ready(60s)) << prometheus.log();
  std::map<std::string, json> by_job;
  const auto field = [&](const std::string& job, const char* key) {
    const json& t = by_job[job];
    return t.is_object() ? t.value(key, "") : "";
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto body = prometheus.get_json("/api/v1/targets")) {
      for (const auto& t : (*body)["data"]["activeTargets"]) by_job[t["labels"]["job"]] = t;
    }
    if (field("verified", "health") == "up" && field("untrusted", "health") == "down") break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(field("verified", "health"), "up") << by_job["verified"].dump();
  EXPECT_EQ(by_job["verified"]["scrapeUrl"], "https://" + target + "/metrics");
  EXPECT_EQ(field("untrusted", "health"), "down") << by_job["untrusted"].dump();
  EXPECT_NE(field("untrusted", "lastError").find("certificate"), std::string::npos)
      << by_job["untrusted"].dump();
  std::optional<json> up;
  for (int attempt = 0; attempt < 50 && !(up && up->size() == 1); ++attempt) {
    up = prometheus.query(R"(ctd_postgres_up{job="verified"})");
    if (!(up && up->size() == 1)) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(up && up->size() == 1) << prometheus.log();
  EXPECT_EQ((*up)[0]["value"][1], "1");
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
}

TEST_F(ApiTlsTest, BadCertificateFilesStopCtdRunNamingTheFile) {
  std::filesystem::remove(cert_file_);
  auto missing = start();
  EXPECT_EQ(missing->wait_exit(60s), 2) << missing->log();
  EXPECT_NE(missing->log().find("refusing to start: http.tls.cert_file " + cert_file_ +
                                ": cannot read: No such file or directory"),
            std::string::npos)
      << missing->log();

  std::filesystem::copy_file(pki_.server("other", ca_, "DNS:localhost").cert, cert_file_);
  auto mismatched = start();
  EXPECT_EQ(mismatched->wait_exit(60s), 2) << mismatched->log();
  EXPECT_NE(
      mismatched->log().find("http.tls.key_file " + key_file_ +
                             " does not match the certificate in http.tls.cert_file " + cert_file_),
      std::string::npos)
      << mismatched->log();
}

}  // namespace
}  // namespace ctd

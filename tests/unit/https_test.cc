// TLS end to end inside one process, with certificates made by the openssl tool at test time
// (tests/support/test_pki.h): the HTTP server over TLS with its limits (handshake timeout
// included), plain HTTP on the TLS port, the client's verification (CA, host name, IP address),
// mutual TLS, certificate replacement, the contexts' errors, and signed alerts to an HTTPS
// webhook.
#include <poll.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "daemon/alerts.h"
#include "daemon/http_client.h"
#include "daemon/http_server.h"
#include "daemon/tls.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/support/webhook_receiver.h"

namespace ctd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using testing::KeyPair;

constexpr std::chrono::seconds kWaitBound{10};

config::TlsOptions tls_options(const KeyPair& pair) {
  config::TlsOptions options;
  options.cert_file = pair.cert;
  options.key_file = pair.key;
  return options;
}

// The message of what `call` throws ("" if it does not).
template <class Call>
std::string failure_of(Call&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

class HttpServerTlsTest : public ::testing::Test {
 protected:
  HttpServerTlsTest() : pki_(dir_.path()) {
    ca_ = pki_.ca("ca");
    server_pair_ = pki_.server("server", ca_, "DNS:localhost,IP:127.0.0.1");
  }

  void start(const config::TlsOptions& tls, ServerLimits limits = {}) {
    Router router;
    router.add("GET", "/hello",
               [](const HttpRequest&) { return HttpResponse::text(200, "hello"); });
    router.add("POST", "/echo",
               [](const HttpRequest& request) { return HttpResponse::text(200, request.body); });
    server_ = std::make_unique<HttpServer>(io_, "127.0.0.1", 0, std::move(router), limits,
                                           tls::server_context(tls));
    server_->start();
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  HttpUrl url(const std::string& host, const std::string& target = "/hello", bool tls = true) {
    HttpUrl url;
    url.tls = tls;
    url.host = host;
    url.port = server_->port();
    url.target = target;
    return url;
  }

  ClientResponse get(const std::string& host, const tls::ClientTls& tls) {
    return request("GET", url(host), {}, "", 5000ms, tls);
  }

  tls::ClientTls trusting(const KeyPair& ca) { return {ca.cert, "", ""}; }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return socket;
  }

  // Blocks until the server closes the connection (bounded); how the read ended.
  static beast::error_code read_until_closed(tcp::socket& socket) {
    beast::error_code error;
    while (!error) {
      pollfd ready{socket.native_handle(), POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(std::chrono::milliseconds(kWaitBound).count())) <= 0)
        return asio::error::timed_out;
      char scratch[1024];
      socket.read_some(asio::buffer(scratch), error);
    }
    return error;
  }

  // A TLS connection of our own (keep-alive, partial requests), verified like the client does.
  struct TlsConnection {
    std::shared_ptr<asio::ssl::context> context;
    beast::ssl_stream<beast::tcp_stream> stream;
    TlsConnection(asio::io_context& io, const tls::ClientTls& options, std::uint16_t port)
        : context(tls::client_context(options)), stream(io, *context) {
      tls::expect_host(stream.native_handle(), "localhost");
      beast::get_lowest_layer(stream).connect(
          tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
      stream.handshake(asio::ssl::stream_base::client);
    }
    std::string get(const std::string& target) {
      bhttp::request<bhttp::string_body> request(bhttp::verb::get, target, 11);
      request.set(bhttp::field::host, "localhost");
      bhttp::write(stream, request);
      beast::flat_buffer buffer;
      bhttp::response<bhttp::string_body> response;
      bhttp::read(stream, buffer, response);
      return response.body();
    }
  };

  testing::TempDir dir_{"ctd-https"};
  testing::TestPki pki_;
  KeyPair ca_, server_pair_;
  asio::io_context io_;  // first: outlives the server and its sessions
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<HttpServer> server_;
  std::thread io_thread_;
  asio::io_context client_io_;  // client sockets only
};

TEST_F(HttpServerTlsTest, ServesHttpsToAClientThatTrustsTheCaByNameAndByAddress) {
  start(tls_options(server_pair_));
  EXPECT_TRUE(server_->tls());
  ClientResponse response = get("localhost", trusting(ca_));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(get("127.0.0.1", trusting(ca_)).body, "hello");
  response = request("POST", url("localhost", "/echo"), {{"Content-Type", "text/plain"}},
                     "over TLS", 5000ms, trusting(ca_));
  EXPECT_EQ(response.body, "over TLS");
}

TEST_F(HttpServerTlsTest, AClientThatDoesNotTrustTheCaFailsVerification) {
  start(tls_options(server_pair_));
  // The system's CAs do not know the test CA.
  std::string failure = failure_of([&] { get("localhost", {}); });
  EXPECT_NE(failure.find("TLS handshake failed"), std::string::npos) << failure;
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;
  EXPECT_NE(failure.find("https://localhost:"), std::string::npos) << failure;
  // Nor does another CA.
  const KeyPair other = pki_.ca("other");
  failure = failure_of([&] { get("localhost", trusting(other)); });
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;
  EXPECT_EQ(get("localhost", trusting(ca_)).status, 200);  // and the server goes on
}

TEST_F(HttpServerTlsTest, ACertificateForAnotherNameOrAddressFailsVerification) {
  start(tls_options(pki_.server("elsewhere", ca_, "DNS:ctd.example,IP:10.1.2.3")));
  std::string failure = failure_of([&] { get("localhost", trusting(ca_)); });
  EXPECT_NE(failure.find("hostname mismatch"), std::string::npos) << failure;
  failure = failure_of([&] { get("127.0.0.1", trusting(ca_)); });
  EXPECT_NE(failure.find("IP address mismatch"), std::string::npos) << failure;
}

TEST_F(HttpServerTlsTest, PlainHttpOnTheTlsPortGetsAPlain400AndTheServerGoesOn) {
  start(tls_options(server_pair_));
  const ClientResponse response = request("GET", url("127.0.0.1", "/hello", false), {}, "", 5000ms);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(nlohmann::json::parse(response.body)["error"]["code"], "tls_required");
  // Not HTTP at all: closed.
  tcp::socket socket = connect();
  asio::write(socket, asio::buffer(std::string("\x01\x02garbage\r\n\r\n")));
  const beast::error_code closed = read_until_closed(socket);
  EXPECT_TRUE(closed == asio::error::eof || closed == asio::error::connection_reset)
      << closed.message();
  EXPECT_EQ(get("localhost", trusting(ca_)).body, "hello");
}

TEST_F(HttpServerTlsTest, ASilentClientIsDroppedAfterTheHandshakeTimeout) {
  ServerLimits limits;
  limits.handshake_timeout = 1s;
  start(tls_options(server_pair_), limits);
  const auto started = std::chrono::steady_clock::now();
  tcp::socket socket = connect();  // and never says anything
  const beast::error_code error = read_until_closed(socket);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(error == asio::error::eof || error == asio::error::connection_reset)
      << error.message();
  EXPECT_GE(elapsed, 500ms);
  EXPECT_LT(elapsed, kWaitBound);
}

TEST_F(HttpServerTlsTest, TheReadTimeoutAndSizeLimitsHoldAfterTheHandshake) {
  ServerLimits limits;
  limits.read_timeout = 1s;
  limits.max_body_bytes = 1024;
  limits.max_header_bytes = 512;
  start(tls_options(server_pair_), limits);
  ClientResponse response =
      request("POST", url("localhost", "/echo"), {}, std::string(4096, 'x'), 5000ms, trusting(ca_));
  EXPECT_EQ(response.status, 413);
  response = request("GET", url("localhost"), {{"X-Padding", std::string(2048, 'p')}}, "", 5000ms,
                     trusting(ca_));
  EXPECT_EQ(response.status, 431);

  // Slowloris over TLS: half a request, then silence.
  TlsConnection slow(client_io_, trusting(ca_), server_->port());
  const auto started = std::chrono::steady_clock::now();
  asio::write(slow.stream, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n")));
  char scratch[256];
  beast::error_code error;
  while (!error) slow.stream.read_some(asio::buffer(scratch), error);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 500ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, kWaitBound) << error.message();
}

TEST_F(HttpServerTlsTest, TheConnectionCapCountsConnectionsStillInTheirHandshake) {
  ServerLimits limits;
  limits.max_connections = 1;
  start(tls_options(server_pair_), limits);
  // Accepts are served in order, so this one holds the only slot before the next arrives.
  tcp::socket silent = connect();
  const std::string failure = failure_of([&] { get("localhost", trusting(ca_)); });
  EXPECT_FALSE(failure.empty());
  silent.close();
}

TEST_F(HttpServerTlsTest, AReplacedCertificateServesNewConnectionsWhileOpenOnesKeepTheirs) {
  start(tls_options(server_pair_));
  TlsConnection before(client_io_, trusting(ca_), server_->port());
  EXPECT_EQ(before.get("/hello"), "hello");

  const KeyPair next_ca = pki_.ca("next-ca");
  server_->replace_tls_context(
      tls::server_context(tls_options(pki_.server("rotated", next_ca, "DNS:localhost"))));
  EXPECT_EQ(get("localhost", trusting(next_ca)).body, "hello");
  const std::string failure = failure_of([&] { get("localhost", trusting(ca_)); });
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;
  EXPECT_EQ(before.get("/hello"), "hello");  // keep-alive, on the old certificate
}

TEST_F(HttpServerTlsTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  const KeyPair client_ca = pki_.ca("client-ca");
  config::TlsOptions options = tls_options(server_pair_);
  options.client_ca_file = client_ca.cert;
  start(options);
  const KeyPair client = pki_.client("ops", client_ca);
  EXPECT_EQ(get("localhost", {ca_.cert, client.cert, client.key}).body, "hello");
  EXPECT_FALSE(failure_of([&] { get("localhost", trusting(ca_)); }).empty());
  const KeyPair stranger = pki_.client("stranger", pki_.ca("stranger-ca"));
  EXPECT_FALSE(failure_of([&] {
                 get("localhost", {ca_.cert, stranger.cert, stranger.key});
               }).empty());
}

TEST(HttpServerTlsPlainTest, APlainServerCannotBeSwitchedToTls) {
  testing::TempDir dir("ctd-https");
  testing::TestPki pki(dir.path());
  const KeyPair ca = pki.ca("ca");
  asio::io_context io;
  HttpServer server(io, "127.0.0.1", 0, Router());
  EXPECT_FALSE(server.tls());
  EXPECT_THROW(server.replace_tls_context(
                   tls::server_context(tls_options(pki.server("s", ca, "DNS:localhost")))),
               std::logic_error);
}

// ---------------------------------------------------------------------------------------------
// The contexts' errors name the key and the file.

class TlsContextTest : public ::testing::Test {
 protected:
  TlsContextTest() : pki_(dir_.path()) {
    ca_ = pki_.ca("ca");
    pair_ = pki_.server("server", ca_, "DNS:localhost");
  }
  std::string server_failure(const config::TlsOptions& options) {
    return failure_of([&] { tls::server_context(options); });
  }

  testing::TempDir dir_{"ctd-tls"};
  testing::TestPki pki_;
  KeyPair ca_, pair_;
};

TEST_F(TlsContextTest, MissingOrUnusableFilesAreNamed) {
  config::TlsOptions options = tls_options(pair_);
  options.cert_file = dir_.path() + "/missing.crt";
  EXPECT_EQ(server_failure(options), "http.tls.cert_file " + dir_.path() +
                                         "/missing.crt: cannot read: No such file or "
                                         "directory");
  options = tls_options(pair_);
  options.key_file = dir_.path();
  EXPECT_EQ(server_failure(options), "http.tls.key_file " + dir_.path() + ": is a directory");
  options = tls_options(pair_);
  options.cert_file = dir_.write("garbage.crt", "not a certificate\n");
  EXPECT_NE(server_failure(options).find("http.tls.cert_file " + options.cert_file +
                                         ": not a PEM certificate chain"),
            std::string::npos)
      << server_failure(options);
  options = tls_options(pair_);
  options.key_file = dir_.write("empty.key", "");
  EXPECT_EQ(server_failure(options), "http.tls.key_file " + options.key_file + ": is empty");
}

TEST_F(TlsContextTest, AKeyOfAnotherCertificateOrAnEncryptedKeyIsRefused) {
  config::TlsOptions options = tls_options(pair_);
  options.key_file = pki_.server("other", ca_, "DNS:localhost").key;
  EXPECT_EQ(server_failure(options), "http.tls.key_file " + options.key_file +
                                         " does not match the certificate in http.tls.cert_file " +
                                         pair_.cert);
  options = tls_options(pair_);
  options.key_file = pki_.encrypted_key(pair_);
  EXPECT_NE(server_failure(options).find("http.tls.key_file " + options.key_file +
                                         ": the private key is encrypted"),
            std::string::npos)
      << server_failure(options);
}

TEST_F(TlsContextTest, ClientCaFilesMustHoldCertificates) {
  config::TlsOptions options = tls_options(pair_);
  options.client_ca_file = pair_.key;
  EXPECT_EQ(server_failure(options),
            "http.tls.client_ca_file " + pair_.key + ": no PEM certificate in it");
  const std::string missing = dir_.path() + "/nope.pem";
  EXPECT_EQ(failure_of([&] {
              tls::client_context({missing, "", ""});
            }),
            "CA file " + missing + ": cannot read: No such file or directory");
  EXPECT_NE(failure_of([&] { tls::client_context({ca_.cert, pair_.cert, ""}); }), "");
}

TEST_F(TlsContextTest, TheCertificateSummaryNamesSubjectIssuerAndExpiry) {
  const auto context = tls::server_context(tls_options(pair_));
  const tls::CertificateSummary summary = tls::summarize_certificate(*context);
  EXPECT_EQ(summary.subject, "CN=server");
  EXPECT_EQ(summary.issuer, "CN=ca");
  EXPECT_FALSE(summary.expired);
  EXPECT_NE(summary.not_after.find(" UTC"), std::string::npos) << summary.not_after;
  EXPECT_NE(summary.to_string().find("CN=server, issued by CN=ca, valid until"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The client's URLs, and alerts to an HTTPS webhook.

TEST(HttpClientTlsTest, HttpsUrlsDefaultToPort443) {
  const auto url = parse_http_url("https://hooks.example/in?x=1");
  ASSERT_TRUE(url.url) << url.error;
  EXPECT_TRUE(url.url->tls);
  EXPECT_EQ(url.url->port, 443);
  EXPECT_EQ(url.url->target, "/in?x=1");
  EXPECT_EQ(url.url->to_string(), "https://hooks.example:443/in?x=1");
  EXPECT_FALSE(parse_http_url("http://hooks").url->tls);
  EXPECT_NE(parse_http_url("ftp://hooks").error.find("not an http:// or https:// URL"),
            std::string::npos);
}

TEST(AlertDispatcherTlsTest, AnHttpsWebhookGetsTheSignedAlertOnlyWhenItsCertificateVerifies) {
  testing::TempDir dir("ctd-https");
  testing::TestPki pki(dir.path());
  const KeyPair ca = pki.ca("ca");
  testing::WebhookReceiver receiver(
      {}, tls::server_context(tls_options(pki.server("hooks", ca, "DNS:localhost"))));
  ASSERT_EQ(receiver.url().rfind("https://localhost:", 0), 0u) << receiver.url();
  const auto send = [&](const tls::ClientTls& tls, metrics::Registry& metrics) {
    std::vector<std::unique_ptr<alerts::Destination>> destinations;
    destinations.push_back(alerts::webhook_destination("ops", *parse_http_url(receiver.url()).url,
                                                       "s3cret", 2000ms, tls));
    alerts::AlertDispatcher dispatcher(std::move(destinations), {}, 10, {20ms, 50ms, 2}, metrics);
    dispatcher.notify(alerts::event("CtdModelPromoted", "info", {{"pipeline", "churn"}}, "v2", "",
                                    alerts::Clock::now(), 1h));
    EXPECT_TRUE(dispatcher.drain(kWaitBound));
  };
  metrics::Registry untrusted;
  send({}, untrusted);  // the system's CAs: refused, never sent in the clear or unverified
  EXPECT_NE(untrusted.render().find(
                R"(ctd_alerts_sent_total{destination="webhook:ops",outcome="failed"} 1)"),
            std::string::npos)
      << untrusted.render();
  EXPECT_TRUE(receiver.wait_for(1, 1s).empty());

  metrics::Registry trusted;
  send({ca.cert, "", ""}, trusted);
  const auto requests = receiver.wait_for(1, kWaitBound);
  ASSERT_EQ(requests.size(), 1u);
  const std::string timestamp = requests[0].headers.at("x-ctd-timestamp");
  EXPECT_EQ(requests[0].headers.at("x-ctd-signature"),
            "sha256=" + alerts::hmac_sha256_hex("s3cret", timestamp + "." + requests[0].body));
  EXPECT_EQ(nlohmann::json::parse(requests[0].body)["alert"]["labels"]["pipeline"], "churn");
}

TEST(AlertDispatcherTlsTest, AnUnusableCaFileStopsTheDispatcherFromBeingBuilt) {
  config::AlertsOptions options;
  options.webhooks.push_back({"ops", "https://hooks.example/in", "/nonexistent/ca.pem", "", ""});
  metrics::Registry metrics;
  const std::string failure = failure_of([&] { alerts::make_dispatcher(options, metrics); });
  EXPECT_EQ(failure,
            "alerts: webhook ops: CA file /nonexistent/ca.pem: cannot read: No such file or "
            "directory");
}

}  // namespace
}  // namespace ctd::http

// The /v1 control API on a real PostgreSQL: each route's handler called through the Router
// (no sockets) for its happy path, auth failures, malformed input and unknown ids, promotion
// and rollback changing the registry; and once over a real socket against `ctd run`.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "daemon/api.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "registry/artifact_store.h"
#include "registry/registry.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"
#include "triggers/manual_trigger.h"

namespace ctd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kReadToken = "read-token-0123456789";
constexpr const char* kAdminToken = "admin-token-0123456789";
constexpr const char* kTokens =
    "viewer read read-token-0123456789\nops admin admin-token-0123456789\n";

struct Reply {
  int status = 0;
  json body;
};

class ApiTest : public ::testing::Test {
 protected:
  std::unique_ptr<testing::DaemonProcess> ctd_run_with_api();
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    const std::string database = "api_" + std::to_string(++counter);
    server_->create_database(database);
    dsn_ = server_->dsn(database);
    db_ = std::make_unique<pg::PgConnection>(dsn_);
    schema::migrate(*db_, schema::builtin_migrations());
    artifacts_ = std::make_unique<registry::ArtifactStore>(tmp_.path() + "/artifacts");
    registry_ = std::make_unique<registry::Registry>(dsn_, *artifacts_);
    database_ = std::make_unique<api::Database>(dsn_);
    config::PipelineOptions fraud, churn;
    fraud.name = "fraud";
    fraud.triggers.triggers.push_back({triggers::ManualOptions{"ask"}});
    churn.name = "churn";
    options_.pipelines = {fraud, churn};
    context_ = std::make_unique<api::ApiContext>(
        api::ApiContext{options_,
                        *registry_,
                        *database_,
                        [this](std::int64_t run_id, const std::string& why) {
                          cancelled_.emplace_back(run_id, why);
                          return run_id == cancellable_;
                        },
                        {{"fraud", control_}},
                        std::chrono::milliseconds(2000)});
    api::add_api_routes(router_,
                        std::make_shared<const api::TokenSet>(api::TokenSet::parse(kTokens, "t")),
                        *context_);
  }

  int add_version(const std::string& content, const std::string& model = "fraud") {
    registry::NewVersion v;
    v.model = model;
    v.artifact = tmp_.write("model-" + std::to_string(++files_) + ".pt", content);
    v.manifest = {{"task", "binary"}};
    v.metrics = {{"validation", {{"roc_auc", 0.9}}}};
    v.training_params = {{"epochs", 3}};
    v.seq_first = 1;
    v.seq_last = 100;
    v.row_count = 100;
    v.snapshot_sha256 = std::string(64, 'a');
    v.code_version = "test";
    v.device = "cpu";
    return registry_->register_version(v);
  }

  // A run row of pipeline `pipeline` in `status`; returns its id.
  std::int64_t add_run(const std::string& pipeline, const std::string& status) {
    db_->exec("INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT DO NOTHING", {pipeline});
    return db_
        ->exec(
            "INSERT INTO training_runs (pipeline_id, status, reason, requested_by, spec, "
            "run_dir, supervisor, started_at, finished_at) SELECT pipeline_id, $2, 'manual: "
            "test', 'test', '{}', $3, 'host:1', CASE WHEN $2 <> 'queued' THEN now() END, CASE "
            "WHEN $2 NOT IN ('queued', 'running') THEN now() END FROM pipelines WHERE name = $1 "
            "RETURNING run_id",
            {pipeline, status, tmp_.path() + "/no-run-dir"})
        .integer(0, 0);
  }

  std::int64_t add_event(const std::string& pipeline, std::optional<std::int64_t> run) {
    return db_
        ->exec(
            "INSERT INTO trigger_events (pipeline_id, trigger, kind, reason, evidence, "
            "fired_at, status, run_id, fed_seq, attempts) SELECT pipeline_id, 'decay', "
            "'decay', 'error rose', '{\"error\": 0.3}', now(), $2, $3::bigint, 10, 1 FROM "
            "pipelines WHERE name = $1 RETURNING event_id",
            {pipeline, run ? "started" : "held",
             run ? pg::Param(std::to_string(*run)) : pg::Param()})
        .integer(0, 0);
  }

  Reply call(const std::string& method, const std::string& target, const std::string& token,
             const std::string& body = "") {
    http::HttpRequest r;
    r.method = method;
    const std::size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string rest = target.substr(q + 1);
      while (!rest.empty()) {
        const std::string pair = rest.substr(0, rest.find('&'));
        rest = pair.size() < rest.size() ? rest.substr(pair.size() + 1) : "";
        r.query[pair.substr(0, pair.find('='))] = pair.substr(pair.find('=') + 1);
      }
    }
    if (!token.empty()) r.headers["authorization"] = std::string("Bearer ") + token;
    r.body = body;
    const http::HttpResponse response = router_.handle(r);
    EXPECT_EQ(response.content_type, "application/json");
    return {response.status, json::parse(response.body)};
  }

  // Every route needs a token; POSTs need admin.
  void expect_auth_required(const std::string& method, const std::string& target) {
    const bool admin = method != "GET";
    EXPECT_EQ(call(method, target, "").status, 401) << target;
    EXPECT_EQ(call(method, target, "bad-token-0123456789").status, 401) << target;
    if (admin) {
      const Reply r = call(method, target, kReadToken, R"({"reason": "x"})");
      EXPECT_EQ(r.status, 403) << target;
      EXPECT_EQ(r.body["error"]["code"], "forbidden");
    }
  }

  static std::unique_ptr<testing::PgServer> server_;
  std::string dsn_;
  std::unique_ptr<pg::PgConnection> db_;
  testing::TempDir tmp_{"ctd-api"};
  std::unique_ptr<registry::ArtifactStore> artifacts_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<api::Database> database_;
  config::Options options_;
  std::unique_ptr<api::ApiContext> context_;
  http::Router router_;
  std::vector<std::pair<std::int64_t, std::string>> cancelled_;
  std::int64_t cancellable_ = 0;
  std::shared_ptr<loop::PipelineControl> control_ = std::make_shared<loop::PipelineControl>();
  int files_ = 0;
};

std::unique_ptr<testing::PgServer> ApiTest::server_;

TEST_F(ApiTest, EveryRouteNeedsATokenAndMutationsNeedAdmin) {
  for (const auto& route : router_.routes()) {
    std::string target = route.pattern;
    for (const auto& [name, value] : {std::pair{"{m}", "fraud"}, std::pair{"{v}", "1"},
                                      std::pair{"{id}", "1"}, std::pair{"{p}", "fraud"}}) {
      const std::size_t at = target.find(name);
      if (at != std::string::npos) target.replace(at, std::string(name).size(), value);
    }
    expect_auth_required(route.method, target);
  }
}

TEST_F(ApiTest, ModelsVersionsAndLineage) {
  const int v1 = add_version("one");
  const int v2 = add_version("two");
  add_version("three");
  Reply r = call("GET", "/v1/models", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["model"], "fraud");
  EXPECT_EQ(r.body["items"][0]["version_count"], 3);
  EXPECT_TRUE(r.body["items"][0]["production"].is_null());

  r = call("GET", "/v1/models/fraud/versions?limit=2", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 2u);
  EXPECT_EQ(r.body["items"][0]["version"], 3);
  EXPECT_EQ(r.body["items"][0]["status"], "candidate");
  ASSERT_EQ(r.body["next_cursor"], std::to_string(v2));
  r = call("GET", "/v1/models/fraud/versions?limit=2&cursor=" + std::to_string(v2), kReadToken);
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["version"], v1);
  EXPECT_TRUE(r.body["next_cursor"].is_null());

  r = call("GET", "/v1/models/fraud/versions/" + std::to_string(v2), kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["version"]["version"], v2);
  EXPECT_EQ(r.body["version"]["metrics"]["validation"]["roc_auc"], 0.9);
  EXPECT_EQ(r.body["samples"]["rows"], 100);

  EXPECT_EQ(call("GET", "/v1/models/nobody/versions", kReadToken).status, 404);
  EXPECT_EQ(call("GET", "/v1/models/nobody", kReadToken).status, 404);
  r = call("GET", "/v1/models/fraud/versions/9", kReadToken);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"]["code"], "not_found");
  EXPECT_EQ(call("GET", "/v1/models/fraud/versions/x", kReadToken).status, 400);
  EXPECT_EQ(call("GET", "/v1/models/fraud/versions?cursor=-1", kReadToken).status, 400);
}

TEST_F(ApiTest, ModelsArePagedByName) {
  add_version("z", "zeta");  // created first: pages follow names, not ids
  add_version("f1");
  add_version("f2");
  add_version("a", "alpha");
  Reply r = call("GET", "/v1/models?limit=2", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 2u);
  EXPECT_EQ(r.body["items"][0]["model"], "alpha");
  EXPECT_EQ(r.body["items"][1]["model"], "fraud");
  EXPECT_EQ(r.body["items"][1]["version_count"], 2);
  ASSERT_TRUE(r.body["next_cursor"].is_string()) << r.body;
  r = call("GET", "/v1/models?limit=2&cursor=" + r.body["next_cursor"].get<std::string>(),
           kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["model"], "zeta");
  EXPECT_TRUE(r.body["next_cursor"].is_null());

  r = call("GET", "/v1/models", kReadToken);  // default limit 50: all on one page
  ASSERT_EQ(r.body["items"].size(), 3u);
  EXPECT_TRUE(r.body["next_cursor"].is_null());
  for (const char* bad : {"limit=0", "limit=501", "cursor=x", "cursor=-1", "cursor=999999"}) {
    r = call("GET", std::string("/v1/models?") + bad, kReadToken);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body["error"]["code"], "bad_request") << bad;
  }
}

TEST_F(ApiTest, PromoteNeedsTheGateOrAnExplicitOverrideAndRollbackGoesBack) {
  const int v1 = add_version("one");
  const int v2 = add_version("two");
  const std::string promote1 = "/v1/models/fraud/versions/" + std::to_string(v1) + "/promote";
  Reply r = call("POST", promote1, kAdminToken, R"({"reason": "first"})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.body["error"]["code"], "gate_not_passed");
  EXPECT_FALSE(registry_->production("fraud"));
  EXPECT_EQ(call("POST", promote1, kAdminToken, R"({"override_gate": true})").status, 400);
  EXPECT_EQ(
      call("POST", promote1, kAdminToken, R"({"reason": "x", "override_gate": "yes"})").status,
      400);
  EXPECT_EQ(call("POST", promote1, kAdminToken, R"({"reason": )").status, 400);

  r = call("POST", promote1, kAdminToken, R"({"reason": "first model", "override_gate": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["production"], v1);
  EXPECT_TRUE(r.body["previous_version"].is_null());
  EXPECT_EQ(registry_->production("fraud")->version, v1);

  // A promotion decided against another production version is a conflict (409).
  const std::string promote2 = "/v1/models/fraud/versions/" + std::to_string(v2) + "/promote";
  r = call("POST", promote2, kAdminToken,
           R"({"reason": "race", "override_gate": true, "expected_production": null})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  r = call("POST", promote2, kAdminToken,
           json{{"reason", "better"}, {"override_gate", true}, {"expected_production", v1}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["previous_version"], v1);
  EXPECT_EQ(registry_->production("fraud")->version, v2);
  EXPECT_EQ(
      call("POST", promote2, kAdminToken, R"({"reason": "again", "override_gate": true})").status,
      422);  // already production

  EXPECT_EQ(call("POST", "/v1/models/fraud/rollback", kAdminToken, "{}").status, 400);
  r = call("POST", "/v1/models/fraud/rollback", kAdminToken, R"({"reason": "bad model"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["production"], v1);
  EXPECT_EQ(r.body["previous_version"], v2);
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  EXPECT_EQ(call("POST", "/v1/models/nobody/rollback", kAdminToken, R"({"reason": "x"})").status,
            404);

  r = call("GET", "/v1/models/fraud/aliases/history?limit=2", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 2u);
  EXPECT_EQ(r.body["items"][0]["reason"], "bad model");  // newest first
  EXPECT_EQ(r.body["items"][0]["actor"], "ops");
  EXPECT_EQ(r.body["items"][0]["to_version"], v1);
  ASSERT_FALSE(r.body["next_cursor"].is_null());
  r = call("GET",
           "/v1/models/fraud/aliases/history?cursor=" + r.body["next_cursor"].get<std::string>(),
           kReadToken);
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["reason"], "first model");
  const auto audit = registry_->audit("fraud");
  EXPECT_TRUE(std::any_of(audit.begin(), audit.end(), [](const registry::AuditEntry& a) {
    return a.detail.value("gate_overridden", false) && a.actor == "ops";
  }));
}

TEST_F(ApiTest, RunsAndTriggerEventsArePagedAndFiltered) {
  const std::int64_t a = add_run("fraud", "succeeded");
  const std::int64_t b = add_run("fraud", "failed");
  const std::int64_t c = add_run("churn", "running");
  const std::int64_t e1 = add_event("fraud", a);
  add_event("fraud", std::nullopt);
  Reply r = call("GET", "/v1/runs?limit=2", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 2u);
  EXPECT_EQ(r.body["items"][0]["id"], c);
  EXPECT_EQ(r.body["items"][0]["pipeline"], "churn");
  EXPECT_EQ(r.body["next_cursor"], std::to_string(b));
  r = call("GET", "/v1/runs?cursor=" + std::to_string(b), kReadToken);
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["id"], a);
  r = call("GET", "/v1/runs?pipeline=fraud&status=failed", kReadToken);
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["id"], b);
  EXPECT_EQ(call("GET", "/v1/runs?status=exploded", kReadToken).status, 400);

  r = call("GET", "/v1/runs/" + std::to_string(a), kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["status"], "succeeded");
  EXPECT_EQ(r.body["reason"], "manual: test");
  EXPECT_EQ(r.body["trigger_events"], json::array({e1}));
  EXPECT_TRUE(r.body["log_tail"]["stdout"].empty());
  EXPECT_EQ(call("GET", "/v1/runs/999", kReadToken).status, 404);
  EXPECT_EQ(call("GET", "/v1/runs/abc", kReadToken).status, 400);

  r = call("GET", "/v1/trigger-events?pipeline=fraud&limit=1", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["status"], "held");
  EXPECT_EQ(r.body["items"][0]["evidence"]["error"], 0.3);
  r = call("GET",
           "/v1/trigger-events?pipeline=fraud&cursor=" + r.body["next_cursor"].get<std::string>(),
           kReadToken);
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["run_id"], a);
  EXPECT_TRUE(call("GET", "/v1/trigger-events?pipeline=churn", kReadToken).body["items"].empty());
}

TEST_F(ApiTest, CancelReachesTheTrainingServiceOnlyForLiveRuns) {
  const std::int64_t running = add_run("fraud", "running");
  const std::int64_t elsewhere = add_run("fraud", "queued");
  const std::int64_t done = add_run("fraud", "succeeded");
  cancellable_ = running;
  Reply r = call("POST", "/v1/runs/" + std::to_string(running) + "/cancel", kAdminToken,
                 R"({"reason": "wrong data"})");
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(cancelled_.size(), 1u);
  EXPECT_EQ(cancelled_[0].first, running);
  EXPECT_EQ(cancelled_[0].second, "cancelled by ops through the API: wrong data");
  EXPECT_EQ(call("POST", "/v1/runs/" + std::to_string(elsewhere) + "/cancel", kAdminToken).status,
            409);
  r = call("POST", "/v1/runs/" + std::to_string(done) + "/cancel", kAdminToken);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body["error"]["code"], "invalid_state");
  EXPECT_EQ(call("POST", "/v1/runs/999/cancel", kAdminToken).status, 404);
  EXPECT_EQ(call("POST", "/v1/runs/1/cancel", kAdminToken, "[").status, 400);
}

TEST_F(ApiTest, PipelinesArePausedAndResumedInPostgres) {
  Reply r = call("GET", "/v1/pipelines", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 2u);
  EXPECT_EQ(r.body["items"][0]["name"], "fraud");
  EXPECT_EQ(r.body["items"][0]["paused"], false);
  EXPECT_EQ(r.body["items"][0]["triggers"][0], (json{{"name", "ask"}, {"kind", "manual"}}));
  EXPECT_EQ(call("GET", "/v1/pipelines/nobody", kReadToken).status, 404);
  EXPECT_EQ(call("POST", "/v1/pipelines/nobody/pause", kAdminToken, R"({"reason": "x"})").status,
            404);
  EXPECT_EQ(call("POST", "/v1/pipelines/fraud/pause", kAdminToken, "{}").status, 400);
  EXPECT_EQ(call("POST", "/v1/pipelines/fraud/pause", kAdminToken, "{").status, 400);

  r = call("POST", "/v1/pipelines/fraud/pause", kAdminToken, R"({"reason": "bad labels"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["control"]["paused"], true);
  EXPECT_EQ(
      db_->exec("SELECT paused::text || changed_by || reason FROM pipeline_controls").text(0, 0),
      "trueopsbad labels");
  r = call("GET", "/v1/pipelines/fraud", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["paused"], true);
  EXPECT_EQ(r.body["control"]["reason"], "bad labels");
  EXPECT_EQ(r.body["led_here"], false);
  EXPECT_TRUE(r.body["engine"].is_null());

  control_->publish(true, true, {{"triggers", json::array({{{"name", "ask"}}})}});
  r = call("GET", "/v1/pipelines/fraud", kReadToken);
  EXPECT_EQ(r.body["led_here"], true);
  EXPECT_EQ(r.body["engine"]["triggers"][0]["name"], "ask");

  r = call("POST", "/v1/pipelines/fraud/resume", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["control"]["paused"], false);
  EXPECT_EQ(call("GET", "/v1/pipelines", kReadToken).body["items"][0]["paused"], false);
}

TEST_F(ApiTest, ManualTriggerIsAnsweredByTheLeadersNextRound) {
  EXPECT_EQ(call("POST", "/v1/pipelines/fraud/trigger", kAdminToken, R"({"reason": "x"})").status,
            409);  // not led here
  EXPECT_EQ(call("POST", "/v1/pipelines/churn/trigger", kAdminToken, R"({"reason": "x"})").status,
            422);  // no triggers
  control_->publish(true, false, json::object());
  EXPECT_EQ(call("POST", "/v1/pipelines/fraud/trigger", kAdminToken, "{}").status, 400);
  // Nobody drains the queue: the request times out.
  EXPECT_EQ(call("POST", "/v1/pipelines/fraud/trigger", kAdminToken, R"({"reason": "x"})").status,
            503);
  control_->take_requests();

  std::thread leader([this] {  // the manager's side, as PipelineManager::serve_control does it
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& pending : control_->take_requests()) {
        EXPECT_EQ(pending.request.reason, "new labels are in");
        EXPECT_EQ(pending.request.requested_by, "ops");
        EXPECT_EQ(pending.request.trigger, "");
        pending.answer.set_value({true, "training started", {{"kind", "start_training"}}});
        return;
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  const Reply r = call("POST", "/v1/pipelines/fraud/trigger", kAdminToken,
                       R"({"reason": "new labels are in"})");
  leader.join();
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body["outcome"], "training started");
  EXPECT_EQ(r.body["decision"]["kind"], "start_training");
}

TEST_F(ApiTest, TheOpenApiDocumentListsExactlyTheRoutes) {
  const Reply r = call("GET", "/v1/openapi.json", kReadToken);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["openapi"], "3.0.3");
  std::set<std::pair<std::string, std::string>> documented, routed;
  for (const auto& [path, operations] : r.body["paths"].items())
    for (const auto& [method, operation] : operations.items()) {
      std::string upper = method;
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.emplace(upper, path);
      const bool mutating = upper != "GET";
      EXPECT_TRUE(operation["responses"].contains("401")) << path;
      EXPECT_EQ(operation["responses"].contains("403"), mutating) << path;
      // Paged lists document their page parameters.
      if (operation["responses"]["200"].dump().find("#/components/schemas/Page") !=
          std::string::npos) {
        std::set<std::string> parameters;
        for (const auto& parameter : operation["parameters"])
          parameters.insert(parameter["name"].get<std::string>());
        EXPECT_TRUE(parameters.count("limit") && parameters.count("cursor")) << path;
      }
    }
  for (const auto& route : router_.routes()) routed.emplace(route.method, route.pattern);
  EXPECT_EQ(documented, routed);
}

// ---------------------------------------------------------------------------------------------
// Over a real socket against `ctd run`.

Reply send(int port, const std::string& method, const std::string& target, const std::string& token,
           const std::string& body = "") {
  namespace beast = boost::beast;
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  beast::http::request<beast::http::string_body> request(beast::http::string_to_verb(method),
                                                         target, 11);
  request.set(beast::http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(beast::http::field::authorization, "Bearer " + token);
  request.body() = body;
  request.prepare_payload();
  beast::http::write(stream, request);
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> response;
  beast::error_code error;
  beast::http::read(stream, buffer, response, error);
  Reply reply{static_cast<int>(response.result_int()), json()};
  if (!response.body().empty()) reply.body = json::parse(response.body(), nullptr, false);
  return reply;
}

// `ctd run` with the API behind the tokens file, one pipeline with a manual trigger, and a
// trainer that fails at once.
std::unique_ptr<testing::DaemonProcess> ApiTest::ctd_run_with_api() {
  return std::unique_ptr<testing::DaemonProcess>(new testing::DaemonProcess(
      fmt::format(R"(
postgres: {{dsn: "{}"}}
kafka: {{brokers: embedded}}
http: {{auth: {{tokens_file: "{}"}}}}
registry: {{artifact_root: "{}"}}
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
                  dsn_, tmp_.write("tokens", kTokens), tmp_.path() + "/artifacts"),
      {{"CTD_TRAINING_RUN_ROOT", tmp_.path() + "/runs"},
       {"CTD_TRAINER", tmp_.write("trainer.sh", "#!/bin/sh\necho fake trainer; exit 3\n")},
       {"CTD_ARTIFACT_ROOT", tmp_.path() + "/artifacts"}}));
}

TEST_F(ApiTest, CtdRunServesTheApiWithTokensFromAFile) {
  const int v1 = add_version("one");
  const int v2 = add_version("two");
  registry_->promote("fraud", v1, {"test", "first", {}});
  auto started = ctd_run_with_api();
  testing::DaemonProcess& daemon = *started;
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  const int port = daemon.http_port();
  EXPECT_EQ(send(port, "GET", "/healthz", "").status, 200);  // open by default
  EXPECT_EQ(send(port, "GET", "/v1/models", "").status, 401);
  EXPECT_EQ(send(port, "GET", "/v1/models", kReadToken).body["items"][0]["production"], v1);
  const std::string promote = "/v1/models/fraud/versions/" + std::to_string(v2) + "/promote";
  EXPECT_EQ(send(port, "POST", promote, kReadToken, R"({"reason": "x"})").status, 403);
  Reply r = send(port, "POST", promote, kAdminToken,
                 R"({"reason": "over the wire", "override_gate": true})");
  ASSERT_EQ(r.status, 200) << r.body << daemon.log();
  EXPECT_EQ(registry_->production("fraud")->version, v2);
  EXPECT_EQ(artifacts_->current("fraud"), registry_->get("fraud", v2)->artifact_sha256);
  r = send(port, "POST", "/v1/models/fraud/rollback", kAdminToken, R"({"reason": "back"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  // Bodies over the API's limit (64 KiB) are refused before any handler.
  r = send(port, "POST", "/v1/models/fraud/rollback", kAdminToken,
           R"({"reason": ")" + std::string(70 * 1024, 'x') + "\"}");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(registry_->production("fraud")->version, v1);

  // A manual trigger, answered by the leader's next round, starts a training run.
  std::filesystem::permissions(tmp_.path() + "/trainer.sh", std::filesystem::perms::owner_all);
  Reply trigger;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {  // 409 until the daemon has taken the pipeline's leadership
    trigger = send(port, "POST", "/v1/pipelines/fraud/trigger", kAdminToken,
                   R"({"reason": "operator asked"})");
  } while (trigger.status == 409 && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(trigger.status, 202) << trigger.body << daemon.log();
  EXPECT_EQ(trigger.body["outcome"], "training started");
  r = send(port, "GET", "/v1/runs?pipeline=fraud", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["items"].size(), 1u) << r.body;
  // The run is the token's (the person who asked), with the reason; so is the trigger event.
  EXPECT_NE(r.body["items"][0]["reason"].get<std::string>().find("operator asked"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body["items"][0]["requested_by"], "ops") << r.body;
  r = send(port, "GET", "/v1/trigger-events?pipeline=fraud", kReadToken);
  ASSERT_EQ(r.body["items"].size(), 1u) << r.body;
  EXPECT_EQ(r.body["items"][0]["kind"], "manual");
  EXPECT_EQ(r.body["items"][0]["status"], "started");
  EXPECT_NE(r.body["items"][0].dump().find("ops"), std::string::npos) << r.body;
  r = send(port, "GET", "/v1/pipelines/fraud", kReadToken);
  EXPECT_EQ(r.body["led_here"], true) << r.body;
  EXPECT_FALSE(r.body["engine"].is_null()) << r.body;
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(60s), 0) << daemon.log();
}

// ctd ctl, the terminal client, against the same daemon: tables and JSON, a promotion and a
// rollback that change the registry, refusals with exit code 3 and the API's message.
TEST_F(ApiTest, CtdCtlDrivesTheApiFromATerminal) {
  const int v1 = add_version("one");
  const int v2 = add_version("two");
  registry_->promote("fraud", v1, {"test", "first", {}});
  auto daemon = ctd_run_with_api();
  ASSERT_TRUE(daemon->wait_ready(60s)) << daemon->log();
  const std::string url = "http://127.0.0.1:" + std::to_string(daemon->http_port());
  const auto ctl = [&](std::vector<std::string> args, const std::string& token) {
    args.insert(args.begin(), {CTD_BINARY_DIR "/ctd", "ctl", "--url", url});
    std::map<std::string, std::string> env;
    if (!token.empty()) env["CTD_API_TOKEN"] = token;
    return testing::run_program(args, env, 30s);
  };
  auto r = ctl({"status"}, kReadToken);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("PIPELINE"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fraud"), std::string::npos) << r.output;
  r = ctl({"versions", "fraud"}, kReadToken);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("production"), std::string::npos) << r.output;

  // A read token may not promote: the API's 403, exit 3, nothing changed.
  r = ctl({"promote", "fraud", std::to_string(v2), "--reason", "try"}, kReadToken);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("403"), std::string::npos) << r.output;
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  // No token at all: 401.
  EXPECT_EQ(ctl({"runs"}, "").exit_code, 3);
  // A version that has not passed the gate needs --override-gate (422).
  r = ctl({"promote", "fraud", std::to_string(v2), "--reason", "try"}, kAdminToken);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  r = ctl(
      {"promote", "fraud", std::to_string(v2), "--reason", "from a terminal", "--override-gate"},
      kAdminToken);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(registry_->production("fraud")->version, v2);
  r = ctl({"rollback", "fraud", "--reason", "back", "--json"}, kAdminToken);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  r = ctl({"history", "fraud"}, kReadToken);
  EXPECT_NE(r.output.find("from a terminal"), std::string::npos) << r.output;
  // Usage errors are exit 2; an unreachable daemon is exit 1.
  EXPECT_EQ(ctl({"promote", "fraud"}, kAdminToken).exit_code, 2);
  EXPECT_EQ(testing::run_program(
                {CTD_BINARY_DIR "/ctd", "ctl", "--url", "http://127.0.0.1:1", "status"}, {}, 30s)
                .exit_code,
            1);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
}

// A pause set through the API holds the real loop's triggers, also across a restart (it is
// read from PostgreSQL); resume lets an overdue schedule fire.
TEST_F(ApiTest, APausedPipelinesTriggersWaitUntilResume) {
  db_->exec("INSERT INTO pipelines (name) VALUES ('fraud')");
  // The schedule last fired two hours ago: it is overdue as soon as the loop runs.
  db_->exec(
      "INSERT INTO trigger_events (pipeline_id, trigger, kind, reason, evidence, fired_at, "
      "status, fed_seq) SELECT pipeline_id, 'tick', 'schedule', 'old', '{}', now() - interval "
      "'2 hours', 'superseded', 0 FROM pipelines");
  // Paused before this daemon started (by an earlier one, say).
  ASSERT_EQ(call("POST", "/v1/pipelines/fraud/pause", kAdminToken, R"({"reason": "hold"})").status,
            200);
  testing::DaemonProcess daemon(
      fmt::format(R"(
postgres: {{dsn: "{}"}}
kafka: {{brokers: embedded}}
http: {{auth: {{tokens_file: "{}"}}}}
registry: {{artifact_root: "{}"}}
pipelines:
  - name: fraud
    topics: {{labels: fraud.labels}}
    features:
      - {{name: a, type: numeric}}
    label: {{kind: binary}}
    triggers:
      rules:
        - {{name: tick, type: schedule, every_s: 60}}
)",
                  dsn_, tmp_.write("tokens", kTokens), tmp_.path() + "/artifacts"),
      {{"CTD_TRAINING_RUN_ROOT", tmp_.path() + "/runs"},
       {"CTD_ARTIFACT_ROOT", tmp_.path() + "/artifacts"},
       {"CTD_TRAINER", "/bin/false"}});
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  const int port = daemon.http_port();
  const auto schedule_events = [this] {
    return db_->exec("SELECT count(*) FROM trigger_events WHERE kind = 'schedule'").integer(0, 0);
  };
  // Two rounds of the leader published while paused: the overdue schedule did not fire.
  std::optional<std::int64_t> first_round;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  Reply r;
  while (std::chrono::steady_clock::now() < deadline) {
    r = send(port, "GET", "/v1/pipelines/fraud", kReadToken);
    ASSERT_EQ(r.status, 200) << r.body;
    if (r.body["engine_published_ms"].is_number()) {
      const std::int64_t at = r.body["engine_published_ms"];
      if (!first_round) first_round = at;
      if (at > *first_round) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(first_round && r.body["engine_published_ms"].get<std::int64_t>() > *first_round)
      << r.body << daemon.log();
  EXPECT_EQ(r.body["paused"], true);
  EXPECT_EQ(r.body["control"]["reason"], "hold");
  EXPECT_EQ(schedule_events(), 1);

  ASSERT_EQ(send(port, "POST", "/v1/pipelines/fraud/resume", kAdminToken).status, 200);
  while (schedule_events() < 2 && std::chrono::steady_clock::now() < deadline + 30s)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(schedule_events(), 2) << daemon.log();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(60s), 0) << daemon.log();
}

// A malformed tokens file stops the daemon at start-up, naming the line but not the token.
TEST_F(ApiTest, AMalformedTokensFileStopsCtdRun) {
  testing::DaemonProcess daemon(
      fmt::format(
          R"(
postgres: {{dsn: "{}"}}
kafka: {{brokers: embedded}}
http: {{auth: {{tokens_file: "{}"}}}}
pipelines:
  - name: fraud
    topics: {{labels: fraud.labels}}
    features:
      - {{name: a, type: numeric}}
    label: {{kind: binary}}
)",
          dsn_,
          tmp_.write("tokens", "ops admin very-secret-token-1\nci writer x-secret-token-22\n")),
      {{"CTD_ARTIFACT_ROOT", tmp_.path() + "/artifacts"}});
  EXPECT_EQ(daemon.wait_exit(60s), 2) << daemon.log();
  EXPECT_NE(daemon.log().find("tokens:2: role must be read or admin"), std::string::npos)
      << daemon.log();
  EXPECT_EQ(daemon.log().find("secret-token"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace ctd

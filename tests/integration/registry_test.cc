// The model registry on a real PostgreSQL: version registration, promotion with its alias
// history, audit rows and NOTIFY, rollback, refusals that change nothing, artifact garbage
// collection, and two processes promoting and rolling back the same model concurrently.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/pg.h"
#include "daemon/schema.h"
#include "registry/artifact_store.h"
#include "registry/registry.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"

namespace ctd {
namespace {

using namespace std::chrono_literals;
using registry::RegistryError;
using registry::VersionStatus;

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    database_ = "registry_" + std::to_string(++counter);
    server_->create_database(database_);
    dsn_ = server_->dsn(database_);
    db_ = std::make_unique<pg::PgConnection>(dsn_);
    schema::migrate(*db_, schema::builtin_migrations());
    artifacts_ = std::make_unique<registry::ArtifactStore>(tmp_.path() + "/artifacts");
    registry_ = std::make_unique<registry::Registry>(dsn_, *artifacts_);
  }

  // Registers a version whose "model" is `content` (the registry never loads it).
  int add_version(const std::string& content, std::int64_t seq_first = 1,
                  std::int64_t seq_last = 100, std::optional<int> parent = std::nullopt) {
    registry::NewVersion v;
    v.model = "fraud";
    v.artifact = tmp_.write("model-" + std::to_string(++files_) + ".pt", content);
    v.manifest = {{"task", "binary"}, {"note", content}};
    v.metrics = {{"validation", {{"roc_auc", 0.9}}}};
    v.training_params = {{"epochs", 3}};
    v.seq_first = seq_first;
    v.seq_last = seq_last;
    v.row_count = seq_last - seq_first + 1;
    v.snapshot_sha256 = std::string(64, 'a');
    v.code_version = "test";
    v.device = "cpu";
    v.trigger = {{"type", "manual"}, {"reason", "test"}};
    v.parent_version = parent;
    return registry_->register_version(v);
  }

  VersionStatus status(int version) { return registry_->get("fraud", version)->status; }
  long long count(const std::string& sql) { return db_->exec(sql).integer(0, 0); }

  static std::unique_ptr<testing::PgServer> server_;
  std::string database_, dsn_;
  std::unique_ptr<pg::PgConnection> db_;
  testing::TempDir tmp_{"ctd-registry"};
  std::unique_ptr<registry::ArtifactStore> artifacts_;
  std::unique_ptr<registry::Registry> registry_;
  int files_ = 0;
};

std::unique_ptr<testing::PgServer> RegistryTest::server_;

// A LISTEN connection on ctd_model_events, read with libpq directly.
class Listener {
 public:
  explicit Listener(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str()), &PQfinish) {
    EXPECT_EQ(PQstatus(conn_.get()), CONNECTION_OK);
    PQclear(PQexec(conn_.get(), "LISTEN ctd_model_events"));
  }
  // The next notification's payload, or nullopt after `timeout`.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      PQconsumeInput(conn_.get());
      if (PGnotify* n = PQnotifies(conn_.get())) {
        EXPECT_STREQ(n->relname, "ctd_model_events");
        auto payload = nlohmann::json::parse(n->extra);
        PQfreemem(n);
        return payload;
      }
      pollfd p{PQsocket(conn_.get()), POLLIN, 0};
      ::poll(&p, 1, 50);
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

TEST_F(RegistryTest, PromotionMovesTheAliasRecordsHistoryAuditAndNotifies) {
  Listener listener(dsn_);
  const int v1 = add_version("model one");
  const int v2 = add_version("model two", 101, 200, v1);
  EXPECT_EQ(v1, 1);
  EXPECT_EQ(v2, 2);
  EXPECT_EQ(status(v1), VersionStatus::kCandidate);
  EXPECT_FALSE(registry_->production("fraud").has_value());

  EXPECT_EQ(registry_->promote("fraud", v1, {"alice", "first model", {}}), std::nullopt);
  auto event = listener.next(5s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ((*event)["event"], "promoted");
  EXPECT_EQ((*event)["model"], "fraud");
  EXPECT_EQ((*event)["version"], 1);
  EXPECT_TRUE((*event)["previous_version"].is_null());
  EXPECT_EQ((*event)["actor"], "alice");
  EXPECT_EQ((*event)["artifact_sha256"], registry_->get("fraud", v1)->artifact_sha256);

  EXPECT_EQ(registry_->promote("fraud", v2, {"bob", "better", {}}), std::optional<int>(v1));
  event = listener.next(5s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ((*event)["version"], 2);
  EXPECT_EQ((*event)["previous_version"], 1);
  EXPECT_EQ(status(v1), VersionStatus::kArchived);
  EXPECT_EQ(status(v2), VersionStatus::kProduction);
  EXPECT_EQ(registry_->production("fraud")->version, v2);

  const auto history = registry_->alias_history("fraud");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].alias, "production");
  EXPECT_EQ(history[0].from_version, std::nullopt);
  EXPECT_EQ(history[0].to_version, std::optional<int>(1));
  EXPECT_EQ(history[0].actor, "alice");
  EXPECT_EQ(history[0].reason, "first model");
  EXPECT_EQ(history[1].from_version, std::optional<int>(1));
  EXPECT_EQ(history[1].to_version, std::optional<int>(2));
  EXPECT_EQ(history[1].actor, "bob");

  std::vector<std::string> actions;
  for (const auto& a : registry_->audit("fraud"))
    actions.push_back(a.action + ":" + std::to_string(a.version.value_or(0)) + ":" +
                      a.from_status.value_or("-") + ">" + a.to_status.value_or("-"));
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "registered:1:->candidate", "registered:2:->candidate",
                         "promoted:1:candidate>production", "archived:1:production>archived",
                         "promoted:2:candidate>production"}));
  // The current link follows production.
  EXPECT_EQ(artifacts_->current("fraud"), registry_->get("fraud", v2)->artifact_sha256);

  // Lineage and the versions trained on a range.
  const auto lineage = registry_->lineage("fraud", v2);
  EXPECT_EQ(lineage["parent"]["version"], 1);
  EXPECT_EQ(lineage["samples"]["seq_first"], 101);
  EXPECT_EQ(lineage["trigger"]["type"], "manual");
  std::vector<int> on;
  for (const auto& v : registry_->trained_on("fraud", 150, 150)) on.push_back(v.version);
  EXPECT_EQ(on, std::vector<int>{2});
  on.clear();
  for (const auto& v : registry_->trained_on("fraud", 90, 110)) on.push_back(v.version);
  EXPECT_EQ(on, (std::vector<int>{1, 2}));

  // The history and the audit log cannot be rewritten.
  EXPECT_THROW(db_->exec("UPDATE alias_history SET actor = 'mallory'"), pg::PgError);
  EXPECT_THROW(db_->exec("DELETE FROM registry_audit"), pg::PgError);
}

TEST_F(RegistryTest, RollbackGoesBackToThePreviousOrANamedVersion) {
  const int v1 = add_version("one"), v2 = add_version("two"), v3 = add_version("three");
  EXPECT_THROW(registry_->rollback("fraud", std::nullopt, {"ops", "nothing yet", {}}),
               RegistryError);
  registry_->promote("fraud", v1, {"ctd", "gate", {}});
  try {
    registry_->rollback("fraud", std::nullopt, {"ops", "no previous", {}});
    FAIL() << "rollback without a previous version succeeded";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kInvalidState);
    EXPECT_NE(std::string(e.what()).find("no previous production version"), std::string::npos)
        << e.what();
  }
  registry_->promote("fraud", v2, {"ctd", "gate", {}});
  registry_->promote("fraud", v3, {"ctd", "gate", {}});

  Listener listener(dsn_);
  EXPECT_EQ(registry_->rollback("fraud", std::nullopt, {"ops", "v3 misbehaves", {}}), v2);
  EXPECT_EQ(status(v3), VersionStatus::kArchived);
  EXPECT_EQ(status(v2), VersionStatus::kProduction);
  const auto event = listener.next(5s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ((*event)["event"], "rolled_back");
  EXPECT_EQ((*event)["version"], 2);
  EXPECT_EQ((*event)["previous_version"], 3);
  // Rolling back again goes one more promotion back, not forward to 3.
  EXPECT_EQ(registry_->rollback("fraud", std::nullopt, {"ops", "v2 too", {}}), v1);
  EXPECT_THROW(registry_->rollback("fraud", std::nullopt, {"ops", "nothing before 1", {}}),
               RegistryError);

  // To a named version; a guardrail rollback rejects the version it leaves.
  EXPECT_EQ(registry_->rollback("fraud", v3, {"ops", "forward to three", {}}), v3);
  EXPECT_EQ(registry_->rollback("fraud", v1, {"ops", "back to one", {}}, /*reject_current=*/true),
            v1);
  EXPECT_EQ(status(v3), VersionStatus::kRejected);
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  EXPECT_EQ(artifacts_->current("fraud"), registry_->get("fraud", v1)->artifact_sha256);
  // A rejected version is no rollback target, and cannot be promoted.
  EXPECT_THROW(registry_->rollback("fraud", v3, {"ops", "x", {}}), RegistryError);
  EXPECT_THROW(registry_->promote("fraud", v3, {"ops", "x", {}}), RegistryError);

  // After a promotion, rollback finds the version it replaced even if it skipped rejected ones.
  registry_->promote("fraud", v2, {"ops", "two again", {}});
  EXPECT_EQ(registry_->rollback("fraud", std::nullopt, {"ops", "undo", {}}), v1);

  const auto history = registry_->alias_history("fraud");
  ASSERT_EQ(history.size(), 9u);
  EXPECT_EQ(history[3].from_version, std::optional<int>(3));
  EXPECT_EQ(history[3].to_version, std::optional<int>(2));
  EXPECT_EQ(history[3].reason, "v3 misbehaves");
  EXPECT_EQ(history[4].to_version, std::optional<int>(1));
  EXPECT_EQ(history[6].to_version, std::optional<int>(1));
  EXPECT_EQ(history[8].from_version, std::optional<int>(2));
  EXPECT_EQ(history[8].to_version, std::optional<int>(1));
}

TEST_F(RegistryTest, RefusedChangesLeaveNoTrace) {
  const int v1 = add_version("one"), v2 = add_version("two");
  registry_->promote("fraud", v1, {"ctd", "gate", {}});
  registry_->reject("fraud", v2, {"ctd", "worse", {}});
  const auto audit_rows = count("SELECT count(*) FROM registry_audit");
  const auto history_rows = count("SELECT count(*) FROM alias_history");

  auto expect_refused = [&](auto&& call, RegistryError::Code code, const std::string& part) {
    try {
      call();
      ADD_FAILURE() << "not refused: " << part;
    } catch (const RegistryError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    EXPECT_EQ(count("SELECT count(*) FROM registry_audit"), audit_rows) << part;
    EXPECT_EQ(count("SELECT count(*) FROM alias_history"), history_rows) << part;
    EXPECT_EQ(registry_->production("fraud")->version, v1) << part;
  };
  expect_refused(
      [&] {
        registry_->promote("fraud", 9, {"ops", "x", {}});
      },
      RegistryError::Code::kNotFound, "unknown version 9");
  expect_refused(
      [&] {
        registry_->promote("nobody", 1, {"ops", "x", {}});
      },
      RegistryError::Code::kNotFound, "unknown model 'nobody'");
  expect_refused(
      [&] {
        registry_->promote("fraud", v2, {"ops", "x", {}});
      },
      RegistryError::Code::kInvalidState, "rejected");
  expect_refused(
      [&] {
        registry_->promote("fraud", v1, {"ops", "x", {}});
      },
      RegistryError::Code::kInvalidState, "already production");

  // A corrupted artifact: one byte changed on disk.
  const int v3 = add_version("three");
  const auto path = artifacts_->verified_path(registry_->get("fraud", v3)->artifact_sha256);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('T');
  }
  const auto audit_after_register = count("SELECT count(*) FROM registry_audit");
  try {
    registry_->promote("fraud", v3, {"ops", "x", {}});
    ADD_FAILURE() << "a corrupted artifact was promoted";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kArtifact);
    EXPECT_NE(std::string(e.what()).find("sha256 mismatch"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count("SELECT count(*) FROM registry_audit"), audit_after_register);
  EXPECT_EQ(status(v3), VersionStatus::kCandidate);
  // A missing one.
  std::filesystem::remove(path);
  try {
    registry_->promote("fraud", v3, {"ops", "x", {}});
    ADD_FAILURE() << "a missing artifact was promoted";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kArtifact) << e.what();
  }
  EXPECT_EQ(registry_->production("fraud")->version, v1);
  // The database refuses a second production version whatever the caller does.
  EXPECT_THROW(db_->exec("UPDATE model_versions SET status = 'production' WHERE version = 3"),
               pg::PgError);
  // A decision made against a champion that is no longer production is not applied.
  const int v4 = add_version("four");
  const auto audit_now = count("SELECT count(*) FROM registry_audit");
  try {
    registry_->promote("fraud", v4, {"ctd", "gate passed", {}},
                       registry::PromoteOptions{std::nullopt, true, 7, std::nullopt});
    ADD_FAILURE() << "promoted against a stale champion";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kConflict);
    EXPECT_NE(std::string(e.what()).find("changed to version 1 while fraud version 4 was being "
                                         "judged against version 7"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(count("SELECT count(*) FROM registry_audit"), audit_now);
  EXPECT_EQ(status(v4), VersionStatus::kCandidate);
}

TEST_F(RegistryTest, ArtifactsWithoutAVersionAreCollected) {
  const int v1 = add_version("kept");
  // A crash between writing an artifact and committing its version leaves this behind.
  const auto orphan = artifacts_->put(tmp_.write("orphan.pt", "orphan"), nlohmann::json::object());
  EXPECT_TRUE(registry_->collect_garbage(1h).empty());  // too young to tell
  const auto removed = registry_->collect_garbage(0s);
  EXPECT_EQ(removed, std::vector<std::string>{orphan.sha256});
  EXPECT_FALSE(std::filesystem::exists(orphan.path));
  EXPECT_NO_THROW(artifacts_->verified_path(registry_->get("fraud", v1)->artifact_sha256));
}

TEST_F(RegistryTest, ARunRegistersOnce) {
  db_->exec("INSERT INTO pipelines (name) VALUES ('fraud')");
  db_->exec(
      "INSERT INTO training_runs (run_id, pipeline_id, status, reason, requested_by, spec, "
      "run_dir, supervisor, finished_at) SELECT 7, pipeline_id, 'succeeded', 'test', 'test', "
      "'{}', '/tmp', 'test', now() FROM pipelines");
  registry::NewVersion v;
  v.model = "fraud";
  v.artifact = tmp_.write("m.pt", "m");
  v.manifest = v.metrics = v.training_params = nlohmann::json::object();
  v.snapshot_sha256 = "x";
  v.run_id = 7;
  EXPECT_EQ(registry_->register_version(v), 1);
  EXPECT_EQ(registry_->register_version(v), 1);
  EXPECT_EQ(count("SELECT count(*) FROM model_versions"), 1);
}

// Two `ctd registry` processes promote and roll back versions of one model as fast as they
// can. Whatever interleaving happens, there is exactly one production version, the alias
// points at it, and the alias history is one unbroken chain.
TEST_F(RegistryTest, ConcurrentPromotionsFromTwoProcessesKeepOneProductionVersion) {
  for (int i = 0; i < 5; ++i) add_version("model " + std::to_string(i));
  registry_->promote("fraud", 1, {"ctd", "start", {}});
  const std::string config = tmp_.write("ctd.yaml", fmt::format(R"(
postgres: {{dsn: "{}"}}
kafka: {{brokers: embedded}}
registry: {{artifact_root: "{}"}}
pipelines:
  - name: fraud
    topics: {{labels: fraud.labels}}
    features: [{{name: a, type: numeric}}]
    label: {{kind: binary}}
)",
                                                                dsn_, tmp_.path() + "/artifacts"));
  const std::string ctd = CTD_BINARY_DIR "/ctd";
  const std::string loop = tmp_.write("loop.sh", fmt::format(R"(#!/bin/sh
# $1: seed; 60 rounds of a promotion or a rollback; exit codes other than 0 and 3 are failures
i=0; n=$1
while [ $i -lt 60 ]; do
  n=$(( (n * 1103515245 + 12345) % 2147483648 ))
  v=$(( n / 65536 % 5 + 1 ))
  if [ $(( n / 7 % 4 )) -eq 0 ]; then
    {0} registry rollback -c {1} --model fraud --reason "loop $1" --actor p$1 >/dev/null 2>&1
  else
    {0} registry promote -c {1} --model fraud --version $v --reason "loop $1" --actor p$1 \
      --override-gate >/dev/null 2>&1
  fi
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then echo "exit code $rc"; exit 1; fi
  i=$((i + 1))
done
)",
                                                             ctd, config));
  std::filesystem::permissions(loop, std::filesystem::perms::owner_all);
  std::vector<std::thread> workers;
  std::vector<testing::RunResult> results(2);
  for (int p = 0; p < 2; ++p)
    workers.emplace_back([&, p] {
      results[p] = testing::run_program({loop, std::to_string(p + 1)}, {}, 300s);
    });
  for (auto& w : workers) w.join();
  for (const auto& r : results) ASSERT_EQ(r.exit_code, 0) << r.output;

  EXPECT_EQ(count("SELECT count(*) FROM model_versions WHERE status = 'production'"), 1);
  const int production = registry_->production("fraud")->version;
  EXPECT_EQ(count("SELECT version FROM model_aliases WHERE alias = 'production'"), production);
  const auto history = registry_->alias_history("fraud");
  ASSERT_GT(history.size(), 10u);  // most of the 120 attempts change something
  for (std::size_t i = 1; i < history.size(); ++i) {
    EXPECT_EQ(history[i].from_version, history[i - 1].to_version) << "history row " << i;
    EXPECT_NE(history[i].from_version, history[i].to_version);
  }
  EXPECT_EQ(history.back().to_version, std::optional<int>(production));
  // Every move of the alias is one promotion in the audit log.
  EXPECT_EQ(count("SELECT count(*) FROM registry_audit WHERE action = 'promoted'"),
            static_cast<long long>(history.size()));
  EXPECT_EQ(count("SELECT count(DISTINCT actor) FROM alias_history WHERE actor LIKE 'p%'"), 2);
}

}  // namespace
}  // namespace ctd

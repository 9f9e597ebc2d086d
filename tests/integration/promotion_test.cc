// The promotion gate with real models on a real PostgreSQL: trained by ctd-train through the
// TrainingService, scored by `ctd-train evaluate` on held-out samples, and promoted, rejected,
// staged for a canary or rolled back by the guardrail; and `ctd train` + `ctd registry`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/launcher.h"
#include "daemon/pg.h"
#include "daemon/promotion_service.h"
#include "daemon/run_store.h"
#include "daemon/schema.h"
#include "daemon/training_service.h"
#include "registry/artifact_store.h"
#include "registry/registry.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"

namespace ctd {
namespace {

using namespace std::chrono_literals;
using promotion::Verdict;
using registry::VersionStatus;

const std::string kTrainer = CTD_BINARY_DIR "/ctd-train";

config::PipelineOptions pipeline_options() {
  config::PipelineOptions p;
  p.name = "fraud";
  p.topics.labels = "fraud.labels";
  for (const char* f : {"a", "b"})
    p.features.push_back({f, config::FeatureType::kNumeric, false, {}, {}, {}});
  p.features.push_back({"colour", config::FeatureType::kCategorical, false, {}, {}, {}});
  p.label.kind = config::LabelKind::kBinary;
  p.promotion.metric = "roc_auc";
  p.promotion.direction = config::MetricDirection::kHigherIsBetter;
  p.promotion.holdout_samples = 400;
  p.promotion.min_holdout_samples = 100;
  p.promotion.slices = {"colour"};
  return p;
}

class PromotionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    server_->create_database("promotion_" + std::to_string(++counter));
    dsn_ = server_->dsn("promotion_" + std::to_string(counter));
    db_ = std::make_unique<pg::PgConnection>(dsn_);
    schema::migrate(*db_, schema::builtin_migrations());
    pipeline_id_ = db_->exec("INSERT INTO pipelines (name) VALUES ('fraud') RETURNING pipeline_id")
                       .integer(0, 0);
    db_->exec("INSERT INTO topics (name) VALUES ('fraud.labels')");
    db_->exec(
        "INSERT INTO feature_schemas (pipeline_id, fingerprint, definition) VALUES ($1, 'f', "
        "'{\"numeric\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"categorical\":[{\"name\":\"colour\"}]}"
        "')",
        {std::to_string(pipeline_id_)});
    artifacts_ = std::make_unique<registry::ArtifactStore>(tmp_.path() + "/artifacts");
    registry_ = std::make_unique<registry::Registry>(
        dsn_, *artifacts_, registry::TritonPublishing{tmp_.path() + "/triton", 64});
    store_ = std::make_unique<training::RunStore>(dsn_, "test:1");
    training::TrainingSettings s;
    s.trainer = kTrainer;
    s.run_root = tmp_.path() + "/runs";
    s.timeout = 120s;
    s.code_version = "test";
    training_ = std::make_unique<training::TrainingService>(s, dsn_, launcher_, *store_);
    promotion::PromotionSettings ps;
    ps.trainer = kTrainer;
    ps.work_root = tmp_.path() + "/evaluations";
    ps.timeout = 120s;
    promotion_ = std::make_unique<promotion::PromotionService>(ps, dsn_, launcher_, *registry_);
  }

  // Samples first..last: label 1 exactly when a > 0 (a learnable concept), colours cycling.
  void insert_samples(std::int64_t first, std::int64_t last,
                      const std::string& colours = "{red,green,blue}") {
    db_->exec(
        "INSERT INTO samples (pipeline_id, seq, schema_id, topic_id, kafka_partition, "
        "kafka_offset, event_time, label, numeric, categorical) SELECT $1, s, 1, 1, 0, s, "
        "to_timestamp(1700000000 + s * 60), (a > 0)::int, ARRAY[a, cos(s)], "
        "ARRAY[($4::text[])[s % cardinality($4::text[]) + 1]] FROM (SELECT s, "
        "((abs(hashtext(s::text)) % 2000) / 500.0 - 2.0) AS a FROM generate_series($2::bigint, "
        "$3::bigint) s) t",
        {std::to_string(pipeline_id_), std::to_string(first), std::to_string(last), colours});
  }

  // A user TorchScript model that ignores its input: every score equal, ROC AUC 0.5.
  std::string constant_model() {
    const std::string path = tmp_.path() + "/constant.pt";
    // torch.jit.script reads the class's source, so the script must be a file.
    const std::string script = tmp_.write("constant.py", R"(
import sys, torch
class Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(1))
    def logits(self, x):
        return self.bias.expand(x.shape[0], 1) + 0.0 * torch.nan_to_num(x[:, :1], 0.0)
    def forward(self, x):
        return torch.sigmoid(self.logits(x)).squeeze(1)
torch.jit.script(Constant()).save(sys.argv[1])
)");
    const auto r = testing::run_program({"/usr/bin/python3", script, path}, {}, 120s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path;
  }

  // Trains on the pipeline's samples up to the held-out reserve; returns the run id.
  std::int64_t train(bool good) {
    training::RunRequest r;
    r.pipeline = pipeline_options();
    r.spec.model.kind = trainers::ModelKind::kMlp;
    r.spec.model.hidden = {16};
    r.spec.epochs = 6;
    r.spec.batch_size = 32;
    r.spec.threads = 1;
    r.spec.optimizer.learning_rate = 0.02;
    if (!good) {
      r.spec.model.kind = trainers::ModelKind::kTorchScript;
      r.spec.model.script_path = constant_model();
      r.spec.epochs = 1;
    }
    r.selection.seq_last = promotion::training_seq_last(*db_, static_cast<int>(pipeline_id_),
                                                        pipeline_options().promotion);
    const auto id = training_->start(r);
    const auto result = training_->wait(id);
    EXPECT_EQ(result.state, training::RunState::kSucceeded) << result.failure_reason;
    return id;
  }

  VersionStatus status(int version) { return registry_->get("fraud", version)->status; }

  static std::unique_ptr<testing::PgServer> server_;
  std::string dsn_;
  std::unique_ptr<pg::PgConnection> db_;
  std::int64_t pipeline_id_ = 0;
  testing::TempDir tmp_{"ctd-promotion"};
  training::LocalProcessLauncher launcher_;
  std::unique_ptr<registry::ArtifactStore> artifacts_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<training::RunStore> store_;
  std::unique_ptr<training::TrainingService> training_;
  std::unique_ptr<promotion::PromotionService> promotion_;
};

std::unique_ptr<testing::PgServer> PromotionTest::server_;

TEST_F(PromotionTest, FirstModelNeedsTheValueThresholdAndAWorseCandidateIsRejected) {
  insert_samples(1, 2000);
  auto pipeline = pipeline_options();
  pipeline.promotion.min_value = 0.9;

  // The constant model cannot reach the value threshold: rejected, nothing in production.
  const auto bad = promotion_->consider_run(pipeline, train(false));
  EXPECT_EQ(bad.verdict, Verdict::kRejected) << bad.reason;
  EXPECT_NE(bad.reason.find("roc_auc 0.5000 < min_value 0.9000"), std::string::npos) << bad.reason;
  EXPECT_EQ(status(bad.version), VersionStatus::kRejected);
  EXPECT_FALSE(registry_->production("fraud").has_value());

  const std::int64_t good_run = train(true);
  const auto first = promotion_->consider_run(pipeline, good_run, {{"type", "manual"}});
  ASSERT_EQ(first.verdict, Verdict::kPromoted) << first.reason;
  EXPECT_FALSE(first.previous_version.has_value());
  const auto v = registry_->get("fraud", first.version);
  EXPECT_EQ(v->status, VersionStatus::kProduction);
  // Trained on 1..1600, judged on the 400 held-out samples after it.
  EXPECT_EQ(v->seq_last, 1600);
  EXPECT_EQ(v->gate["samples"]["seq_first"], 1601);
  EXPECT_EQ(v->gate["samples"]["rows"], 400);
  EXPECT_GT(v->gate["candidate"].get<double>(), 0.9);
  EXPECT_TRUE(v->gate["champion"].is_null());
  EXPECT_TRUE(v->gate["candidate_evaluation"]["slices"]["colour"].contains("red"));
  // A second look at the same run finds the same version.
  EXPECT_EQ(promotion_->consider_run(pipeline, good_run).version, first.version);

  // Lineage: run, snapshot and trigger.
  const auto lineage = registry_->lineage("fraud", first.version);
  EXPECT_EQ(lineage["run"]["id"], good_run);
  EXPECT_EQ(lineage["snapshot"]["seq_last"], 1600);
  EXPECT_EQ(lineage["trigger"]["type"], "manual");
  // Published: the current link and the Triton repository.
  EXPECT_EQ(artifacts_->current("fraud"), v->artifact_sha256);
  EXPECT_TRUE(std::filesystem::exists(tmp_.path() + "/triton/fraud/config.pbtxt"));
  EXPECT_TRUE(std::filesystem::exists(tmp_.path() +
                                      fmt::format("/triton/fraud/{}/model.pt", first.version)));

  // New data, with a colour no model has seen; a candidate worse than production is rejected
  // with the numbers, production stays.
  insert_samples(2001, 2600, "{red,green,blue,purple}");
  const auto worse = promotion_->consider_run(pipeline, train(false));
  EXPECT_EQ(worse.verdict, Verdict::kRejected);
  EXPECT_NE(worse.reason.find("improvement"), std::string::npos) << worse.reason;
  EXPECT_EQ(registry_->production("fraud")->version, first.version);
  EXPECT_EQ(worse.gate["champion_version"], first.version);
  // Both models were scored on the same samples, sliced by their own values: the new colour is
  // a slice of its own, not folded into "(missing)".
  for (const char* side : {"candidate_evaluation", "champion_evaluation"}) {
    const auto& colour = worse.gate[side]["slices"]["colour"];
    EXPECT_EQ(colour["purple"]["rows"], 100) << side << ": " << colour.dump();
    EXPECT_FALSE(colour.contains("(missing)")) << side << ": " << colour.dump();
  }
}

TEST_F(PromotionTest, OnlyTheModelsOwnFailureFailsACandidate) {
  insert_samples(1, 2000);
  const auto pipeline = pipeline_options();
  const auto first = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(first.verdict, Verdict::kPromoted) << first.reason;
  const auto production = registry_->get("fraud", first.version);

  // A candidate whose artifact is no TorchScript model: the scorer fails on it -> failed.
  registry::NewVersion junk;
  junk.model = "fraud";
  junk.artifact = tmp_.write("junk.pt", "not a model");
  junk.manifest = production->manifest;
  junk.metrics = junk.training_params = nlohmann::json::object();
  junk.seq_first = 1;
  junk.seq_last = 1600;
  junk.snapshot_sha256 = "x";
  const int junk_version = registry_->register_version(junk);
  const auto failed = promotion_->gate(pipeline, junk_version);
  EXPECT_EQ(failed.verdict, Verdict::kFailed);
  EXPECT_NE(failed.reason.find("held-out evaluation failed"), std::string::npos) << failed.reason;
  EXPECT_EQ(status(junk_version), VersionStatus::kFailed);
  EXPECT_THROW(promotion_->gate(pipeline, junk_version), registry::RegistryError);

  // Production's artifact is corrupt: a good candidate cannot be judged, and is not blamed.
  const auto path = artifacts_->verified_path(production->artifact_sha256);
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::ofstream out(path, std::ios::app);
    out << "tampered";
  }
  const std::int64_t run = train(true);
  try {
    promotion_->consider_run(pipeline, run);
    ADD_FAILURE() << "judged against an unusable production model";
  } catch (const promotion::EvaluationError& e) {
    EXPECT_FALSE(e.model_fault());
    EXPECT_NE(std::string(e.what()).find("production version 1 could not be scored"),
              std::string::npos)
        << e.what();
  }
  const auto waiting = registry_->versions("fraud").front();
  EXPECT_EQ(waiting.status, VersionStatus::kCandidate);
  EXPECT_EQ(registry_->production("fraud")->version, first.version);
}

TEST_F(PromotionTest, CanaryPromotesOrRejectsOnTheNextSamples) {
  insert_samples(1, 2000);
  auto pipeline = pipeline_options();
  const auto first = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(first.verdict, Verdict::kPromoted) << first.reason;

  pipeline.promotion.canary = config::CanaryOptions{300};
  pipeline.promotion.min_improvement = -0.05;  // a retrain of the same concept may tie
  const auto second = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(second.verdict, Verdict::kStaged) << second.reason;
  EXPECT_EQ(status(second.version), VersionStatus::kStaging);
  EXPECT_EQ(registry_->staging("fraud")->version, second.version);

  // Not enough new samples yet: the canary waits.
  insert_samples(2001, 2200);
  auto results = promotion_->check_watches(pipeline);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].state, "waiting");
  insert_samples(2201, 2400);
  results = promotion_->check_watches(pipeline);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].state, "passed") << results[0].reason;
  EXPECT_EQ(registry_->production("fraud")->version, second.version);
  EXPECT_EQ(status(first.version), VersionStatus::kArchived);
  EXPECT_FALSE(registry_->staging("fraud").has_value());
  EXPECT_EQ(registry_->get("fraud", second.version)->gate["samples"]["seq_first"], 2001);
  EXPECT_TRUE(promotion_->check_watches(pipeline).empty());

  // A canary that loses: staged under lenient rules, judged under a bar it cannot clear.
  const auto third = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(third.verdict, Verdict::kStaged) << third.reason;
  insert_samples(2401, 2800);
  pipeline.promotion.min_improvement = 0.5;
  results = promotion_->check_watches(pipeline);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].state, "failed");
  EXPECT_NE(results[0].reason.find("min_improvement 0.5000"), std::string::npos)
      << results[0].reason;
  EXPECT_EQ(status(third.version), VersionStatus::kRejected);
  EXPECT_EQ(registry_->production("fraud")->version, second.version);
  EXPECT_FALSE(registry_->staging("fraud").has_value());
}

TEST_F(PromotionTest, GuardrailRollsBackAVersionThatFallsBehind) {
  insert_samples(1, 2000);
  auto pipeline = pipeline_options();
  const auto first = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(first.verdict, Verdict::kPromoted) << first.reason;

  // Lenient rules let a useless model through; the guardrail catches it on live samples.
  pipeline.promotion.min_improvement = -1.0;
  pipeline.promotion.slices.clear();
  pipeline.promotion.guardrail = config::GuardrailOptions{300, 0.05, std::chrono::hours(1)};
  const auto bad = promotion_->consider_run(pipeline, train(false));
  ASSERT_EQ(bad.verdict, Verdict::kPromoted) << bad.reason;
  EXPECT_EQ(registry_->production("fraud")->version, bad.version);

  insert_samples(2001, 2300);
  const auto results = promotion_->check_watches(pipeline);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].kind, registry::WatchKind::kGuardrail);
  EXPECT_EQ(results[0].state, "failed") << results[0].reason;
  EXPECT_EQ(registry_->production("fraud")->version, first.version);
  EXPECT_EQ(status(bad.version), VersionStatus::kRejected);
  const auto history = registry_->alias_history("fraud");
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().from_version, std::optional<int>(bad.version));
  EXPECT_EQ(history.back().to_version, std::optional<int>(first.version));
  EXPECT_NE(history.back().reason.find("guardrail"), std::string::npos) << history.back().reason;
  EXPECT_EQ(artifacts_->current("fraud"), registry_->get("fraud", first.version)->artifact_sha256);

  // A guard whose samples do not come in time ends without judging.
  pipeline.promotion.guardrail->window = std::chrono::seconds(1);
  const auto again = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(again.verdict, Verdict::kPromoted) << again.reason;
  std::this_thread::sleep_for(1500ms);
  const auto expired = promotion_->check_watches(pipeline);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].state, "expired") << expired[0].reason;
  EXPECT_EQ(registry_->production("fraud")->version, again.version);
}

TEST_F(PromotionTest, TheDaemonJudgesACanaryWhenItsSamplesArrive) {
  insert_samples(1, 2000);
  auto pipeline = pipeline_options();
  const auto first = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(first.verdict, Verdict::kPromoted) << first.reason;
  pipeline.promotion.canary = config::CanaryOptions{300};
  pipeline.promotion.min_improvement = -0.05;
  const auto second = promotion_->consider_run(pipeline, train(true));
  ASSERT_EQ(second.verdict, Verdict::kStaged) << second.reason;
  // Production's current link was removed as if a daemon died before publishing it.
  std::filesystem::remove(tmp_.path() + "/artifacts/current/fraud.pt");

  testing::DaemonProcess daemon(fmt::format(R"(
postgres: {{dsn: "{}"}}
kafka: {{brokers: embedded}}
registry: {{artifact_root: "{}", watch_interval_s: 1}}
pipelines:
  - name: fraud
    topics: {{labels: fraud.labels}}
    features:
      - {{name: a, type: numeric, required: false}}
      - {{name: b, type: numeric, required: false}}
      - {{name: colour, type: categorical, required: false}}
    label: {{kind: binary}}
    promotion:
      holdout_samples: 400
      min_holdout_samples: 100
      min_improvement: -0.05
      slices: [colour]
      canary: {{samples: 300}}
)",
                                            dsn_, tmp_.path() + "/artifacts"),
                                {{"CTD_TRAINING_RUN_ROOT", tmp_.path() + "/daemon-runs"},
                                 {"CTD_ARTIFACT_ROOT", tmp_.path() + "/artifacts"}});
  ASSERT_TRUE(daemon.wait_ready(60s)) << daemon.log();
  // Republished at start-up.
  EXPECT_EQ(artifacts_->current("fraud"), registry_->get("fraud", first.version)->artifact_sha256);
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(registry_->staging("fraud")->version, second.version);  // waiting for samples
  insert_samples(2001, 2400);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (registry_->production("fraud")->version != second.version &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(200ms);
  EXPECT_EQ(registry_->production("fraud")->version, second.version) << daemon.log();
  EXPECT_EQ(artifacts_->current("fraud"), registry_->get("fraud", second.version)->artifact_sha256);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(60s), 0) << daemon.log();
  EXPECT_NE(daemon.log().find(fmt::format("canary of fraud version {}: passed", second.version)),
            std::string::npos)
      << daemon.log();
}

TEST_F(PromotionTest, CtdTrainGatesItsModelAndCtdRegistryRollsBack) {
  insert_samples(1, 2000);
  const std::string config = tmp_.write("ctd.yaml", R"(
postgres: {dsn: unused}
kafka: {brokers: embedded}
pipelines:
  - name: fraud
    topics: {labels: fraud.labels}
    features:
      - {name: a, type: numeric, required: false}
      - {name: b, type: numeric, required: false}
      - {name: colour, type: categorical, required: false}
    label: {kind: binary}
    training:
      model: {type: mlp, hidden: [16]}
      optimizer: {name: adam, learning_rate: 0.02}
      epochs: 6
      batch_size: 32
      threads: 1
    promotion: {holdout_samples: 400, min_holdout_samples: 100, min_improvement: -0.5}
)");
  const std::map<std::string, std::string> env = {
      {"CTD_POSTGRES_DSN", dsn_},
      {"CTD_TRAINING_RUN_ROOT", tmp_.path() + "/cli-runs"},
      {"CTD_ARTIFACT_ROOT", tmp_.path() + "/cli-artifacts"}};
  const std::string ctd = CTD_BINARY_DIR "/ctd";
  auto json_of = [](const testing::RunResult& r) {
    const auto start = r.output.find_first_of("{[");
    return nlohmann::json::parse(r.output.substr(start));
  };
  for (int i = 1; i <= 2; ++i) {
    const auto run = testing::run_program(
        {ctd, "train", "-c", config, "--pipeline", "fraud", "--reason", "cli"}, env, 180s);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto summary = json_of(run);
    EXPECT_EQ(summary["promotion"]["verdict"], "promoted") << summary.dump();
    EXPECT_EQ(summary["promotion"]["version"], i);
  }
  auto list = testing::run_program({ctd, "registry", "list", "-c", config}, env, 60s);
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(json_of(list)[0]["production"], 2);

  const auto rollback = testing::run_program(
      {ctd, "registry", "rollback", "-c", config, "--model", "fraud", "--reason", "ops test"}, env,
      60s);
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output;
  EXPECT_EQ(json_of(rollback)["production"], 1);
  // Promoting a version that never passed the gate needs an explicit override.
  const auto refused = testing::run_program({ctd, "registry", "promote", "-c", config, "--model",
                                             "fraud", "--version", "9", "--reason", "x"},
                                            env, 60s);
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.output.find("unknown version 9"), std::string::npos) << refused.output;
  const auto history = testing::run_program(
      {ctd, "registry", "history", "-c", config, "--model", "fraud"}, env, 60s);
  ASSERT_EQ(history.exit_code, 0) << history.output;
  const auto h = json_of(history);
  ASSERT_EQ(h["alias_history"].size(), 3u);
  EXPECT_EQ(h["alias_history"][2]["reason"], "ops test");
  EXPECT_EQ(h["alias_history"][2]["actor"], "cli");
}

}  // namespace
}  // namespace ctd

// Training runs end to end on a real PostgreSQL: snapshot export against the stored rows, the
// TrainingService driving the real ctd-train and misbehaving fake trainers, recovery of runs
// abandoned by a dead daemon, and `ctd train`.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/launcher.h"
#include "daemon/metrics.h"
#include "daemon/pg.h"
#include "daemon/run_store.h"
#include "daemon/schema.h"
#include "daemon/snapshot_export.h"
#include "daemon/training_service.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"
#include "trainers/snapshot.h"

namespace ctd {
namespace {

using namespace std::chrono_literals;
using training::RunState;

const std::string kTrainer = CTD_BINARY_DIR "/ctd-train";

config::PipelineOptions pipeline_options(const std::string& name) {
  config::PipelineOptions p;
  p.name = name;
  p.topics.labels = name + ".labels";
  for (const char* f : {"a", "b", "c"})
    p.features.push_back({f, config::FeatureType::kNumeric, false, {}, {}, {}});
  for (const char* f : {"colour", "shape"})
    p.features.push_back({f, config::FeatureType::kCategorical, false, {}, {}, {}});
  p.label.kind = config::LabelKind::kBinary;
  return p;
}

// One stored sample as the test wrote it, in the pipeline's layout.
struct Expected {
  std::int64_t seq;
  double a, b, c;             // NaN = missing
  std::string colour, shape;  // "" = missing
  double label, weight;
  std::int64_t event_ms;
};

class TrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    database_ = "training_" + std::to_string(++counter);
    server_->create_database(database_);
    dsn_ = server_->dsn(database_);
    db_ = std::make_unique<pg::PgConnection>(dsn_);
    schema::migrate(*db_, schema::builtin_migrations());
    pipeline_id_ = static_cast<int>(
        db_->exec("INSERT INTO pipelines (name) VALUES ('fraud') RETURNING pipeline_id")
            .integer(0, 0));
    topic_id_ = static_cast<int>(
        db_->exec("INSERT INTO topics (name) VALUES ('fraud.labels') RETURNING topic_id")
            .integer(0, 0));
    // Two schema generations: the old one lacked c and shape and stored b before a.
    old_schema_ =
        add_schema(R"({"numeric":[{"name":"b"},{"name":"a"}],"categorical":[{"name":"colour"}]})");
    new_schema_ = add_schema(
        R"({"numeric":[{"name":"a"},{"name":"b"},{"name":"c"}],"categorical":[{"name":"colour"},{"name":"shape"}]})");
  }

  int add_schema(const std::string& definition) {
    return static_cast<int>(
        db_->exec("INSERT INTO feature_schemas (pipeline_id, fingerprint, definition) "
                  "VALUES ($1, md5($2), $2::jsonb) RETURNING schema_id",
                  {std::to_string(pipeline_id_), definition})
            .integer(0, 0));
  }

  static std::string array_literal(const std::vector<std::string>& items) {
    std::string out = "{";
    for (const auto& i : items) out += (out.size() > 1 ? "," : "") + i;
    return out + "}";
  }

  // Inserts `n` samples with seq first..first+n-1; the first `old_count` use the old schema.
  // Labels are 1 exactly when a > 0 (separable), so a trained model can be checked.
  void insert_samples(std::int64_t first, int n, int old_count) {
    const std::vector<std::string> colours = {"red", "green", "blue"};
    for (int i = 0; i < n; ++i) {
      Expected e;
      e.seq = first + i;
      const double u = std::sin(e.seq * 12.9898) * 43758.5453;
      const double r = u - std::floor(u);  // deterministic pseudo-random in [0, 1)
      e.a = (r - 0.5) * 4;
      e.b = e.seq % 7 == 0 ? NAN : std::cos(static_cast<double>(e.seq));
      e.c = i < old_count ? NAN : e.seq * 0.5;
      e.colour = e.seq % 11 == 0 ? "" : colours[e.seq % 3];
      e.shape = i < old_count ? "" : (e.seq % 2 ? "round" : "square");
      e.label = e.a > 0 ? 1 : 0;
      e.weight = 1 + (e.seq % 3);
      e.event_ms = 1'700'000'000'000LL + e.seq * 60'000;
      auto num = [](double v) {
        return std::isnan(v) ? std::string("NULL") : fmt::format("{:.17g}", v);
      };
      auto cat = [](const std::string& v) { return v.empty() ? std::string("NULL") : v; };
      const bool old = i < old_count;
      const std::string numeric =
          old ? array_literal({num(e.b), num(e.a)}) : array_literal({num(e.a), num(e.b), num(e.c)});
      const std::string categorical =
          old ? array_literal({cat(e.colour)}) : array_literal({cat(e.colour), cat(e.shape)});
      db_->exec(
          "INSERT INTO samples (pipeline_id, seq, schema_id, topic_id, kafka_partition, "
          "kafka_offset, event_time, label, weight, numeric, categorical) VALUES "
          "($1, $2, $3, $4, 0, $2, to_timestamp($5::bigint / 1000.0), $6, $7, $8, $9)",
          {std::to_string(pipeline_id_), std::to_string(e.seq),
           std::to_string(old ? old_schema_ : new_schema_), std::to_string(topic_id_),
           std::to_string(e.event_ms), num(e.label), num(e.weight), numeric, categorical});
      expected_.push_back(e);
    }
  }

  trainers::SnapshotInfo export_to(const std::string& file, const training::DatasetSelection& s,
                                   const training::ExportOptions& options = {}) {
    const auto resolved = training::resolve_selection(*db_, pipeline_id_, s);
    EXPECT_TRUE(resolved.has_value());
    return training::export_snapshot(*db_, pipeline_options("fraud"), pipeline_id_, *resolved,
                                     options, file);
  }

  training::RunRequest request(int epochs = 5) {
    training::RunRequest r;
    r.pipeline = pipeline_options("fraud");
    r.spec.model.kind = trainers::ModelKind::kMlp;
    r.spec.model.hidden = {16};
    r.spec.epochs = epochs;
    r.spec.batch_size = 32;
    r.spec.threads = 1;
    r.spec.optimizer.learning_rate = 0.02;
    r.reason = "manual: test";
    return r;
  }

  training::TrainingSettings settings(const std::string& trainer) {
    training::TrainingSettings s;
    s.trainer = trainer;
    s.run_root = tmp_.path() + "/runs";
    s.timeout = 60s;
    s.kill_grace = 300ms;
    s.code_version = "test";
    return s;
  }

  // A fake trainer: a shell script that ignores its arguments.
  std::string script(const std::string& name, const std::string& body) {
    const std::string path = tmp_.write(name, "#!/bin/sh\n" + body + "\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

  static std::unique_ptr<testing::PgServer> server_;
  std::string database_, dsn_;
  std::unique_ptr<pg::PgConnection> db_;
  int pipeline_id_ = 0, topic_id_ = 0, old_schema_ = 0, new_schema_ = 0;
  std::vector<Expected> expected_;
  testing::TempDir tmp_{"ctd-training"};
};

std::unique_ptr<testing::PgServer> TrainingTest::server_;

TEST_F(TrainingTest, SnapshotExportMatchesTheRowsInPostgres) {
  insert_samples(1, 300, 120);
  const std::string file = tmp_.path() + "/all.safetensors";
  const trainers::SnapshotInfo info = export_to(file, {});
  EXPECT_EQ(info.rows, 300);
  EXPECT_EQ(info.seq_first, 1);
  EXPECT_EQ(info.seq_last, 300);

  const trainers::Dataset d = trainers::read_snapshot(file);
  ASSERT_EQ(d.rows(), 300u);
  ASSERT_EQ(d.info.numeric_features, (std::vector<std::string>{"a", "b", "c"}));
  const auto& colours = d.info.categorical_features[0].vocabulary;
  EXPECT_EQ(colours, (std::vector<std::string>{"blue", "green", "red"}));
  const auto& shapes = d.info.categorical_features[1].vocabulary;
  EXPECT_EQ(shapes, (std::vector<std::string>{"round", "square"}));
  auto decode = [](const std::vector<std::string>& vocab, std::int64_t code) {
    return code == 0 ? std::string() : vocab.at(code - 1);
  };
  auto same = [](float got, double want) {
    return std::isnan(want) ? std::isnan(got) : got == static_cast<float>(want);
  };
  for (std::size_t r = 0; r < d.rows(); ++r) {
    const Expected& e = expected_[r];
    SCOPED_TRACE("seq " + std::to_string(e.seq));
    EXPECT_EQ(d.seqs[r], e.seq);
    EXPECT_TRUE(same(d.numeric[r * 3 + 0], e.a)) << d.numeric[r * 3 + 0] << " vs " << e.a;
    EXPECT_TRUE(same(d.numeric[r * 3 + 1], e.b));
    EXPECT_TRUE(same(d.numeric[r * 3 + 2], e.c));
    EXPECT_EQ(decode(colours, d.categorical[r * 2 + 0]), e.colour);
    EXPECT_EQ(decode(shapes, d.categorical[r * 2 + 1]), e.shape);
    EXPECT_EQ(d.labels[r], e.label);
    EXPECT_EQ(d.weights[r], e.weight);
    EXPECT_EQ(d.event_time_ms[r], e.event_ms);
  }

  // Python reads the same file with numpy alone and finds the recorded content hash.
  const auto py = testing::run_program(
      {"/usr/bin/python3", CTD_SOURCE_DIR "/tests/trainers/fixtures.py", "read-snapshot", file}, {},
      60s);
  ASSERT_EQ(py.exit_code, 0) << py.output;
  const auto j = nlohmann::json::parse(py.output);
  EXPECT_TRUE(j["hash_ok"].get<bool>());
  EXPECT_EQ(j["rows"], 300);
  EXPECT_EQ(j["info"]["content_sha256"], info.content_sha256);

  // The same selection exports the same content.
  EXPECT_EQ(export_to(tmp_.path() + "/again.safetensors", {}).content_sha256, info.content_sha256);
}

TEST_F(TrainingTest, SelectionsByRangeNewestSamplesAndEventTime) {
  insert_samples(1, 200, 0);
  training::DatasetSelection newest;
  newest.last_samples = 50;
  auto info = export_to(tmp_.path() + "/n.safetensors", newest);
  EXPECT_EQ(info.seq_first, 151);
  EXPECT_EQ(info.seq_last, 200);
  EXPECT_EQ(info.rows, 50);

  training::DatasetSelection window;
  window.event_time_from_ms = expected_[99].event_ms;  // seq 100
  window.event_time_to_ms = expected_[120].event_ms;   // seq 121, excluded
  info = export_to(tmp_.path() + "/w.safetensors", window);
  EXPECT_EQ(info.seq_first, 100);
  EXPECT_EQ(info.seq_last, 120);
  EXPECT_EQ(info.rows, 21);
  EXPECT_EQ(trainers::read_snapshot(tmp_.path() + "/w.safetensors").seqs.front(), 100);

  training::DatasetSelection empty;
  empty.seq_first = 500;
  EXPECT_FALSE(training::resolve_selection(*db_, pipeline_id_, empty).has_value());
}

TEST_F(TrainingTest, ABaseVocabularyKeepsItsCodesAndNewValuesAreAppended) {
  insert_samples(1, 60, 0);
  training::ExportOptions options;
  options.base_vocabularies["colour"] = {"red", "purple"};
  const auto info = export_to(tmp_.path() + "/v.safetensors", {}, options);
  EXPECT_EQ(info.categorical_features[0].vocabulary,
            (std::vector<std::string>{"red", "purple", "blue", "green"}));
  const auto d = trainers::read_snapshot(tmp_.path() + "/v.safetensors");
  for (std::size_t r = 0; r < d.rows(); ++r) {
    if (expected_[r].colour == "red") {
      EXPECT_EQ(d.categorical[r * 2], 1);
    }
  }
}

TEST_F(TrainingTest, ARunTrainsWithCtdTrainAndIsRecorded) {
  insert_samples(1, 1500, 500);
  training::RunStore store(dsn_, "test:1");
  training::LocalProcessLauncher launcher;
  training::TrainingService service(settings(kTrainer), dsn_, launcher, store);
  const auto run_id = service.start(request(8));
  const training::RunResult result = service.wait(run_id);
  ASSERT_EQ(result.state, RunState::kSucceeded) << result.failure_reason;
  EXPECT_GT(result.metrics["validation"]["accuracy"].get<double>(), 0.9) << result.metrics.dump();

  const auto row = store.get(run_id);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, "succeeded");
  EXPECT_TRUE(row->started && row->finished);
  EXPECT_EQ(row->reason, "manual: test");
  EXPECT_GE(row->progress_lines, 10);  // load, start, 8 epochs, done
  EXPECT_EQ(row->progress["phase"], "done");
  ASSERT_TRUE(row->snapshot_id.has_value());
  const auto snapshot = db_->exec(
      "SELECT content_sha256, row_count, seq_first, seq_last FROM "
      "snapshots WHERE snapshot_id = $1",
      {std::to_string(*row->snapshot_id)});
  EXPECT_EQ(row->manifest["snapshot"]["sha256"], std::string(snapshot.text(0, 0)));
  EXPECT_EQ(snapshot.integer(0, 1), 1500);
  EXPECT_EQ(row->spec["run_id"], std::to_string(run_id));
  EXPECT_TRUE(std::filesystem::exists(result.run_dir / "model.pt"));
  EXPECT_TRUE(std::filesystem::exists(result.run_dir / "stdout.log"));
}

TEST_F(TrainingTest, MisbehavingTrainersFailOnlyTheirOwnRun) {
  insert_samples(1, 400, 0);
  training::RunStore store(dsn_, "test:1");
  training::LocalProcessLauncher launcher;

  struct Case {
    std::string name, body;
    RunState state;
    std::string reason_part, log_part;
    std::chrono::milliseconds timeout = 60s;
  };
  const std::vector<Case> cases = {
      {"crash", "echo '{\"phase\":\"start\"}'; echo 'about to crash' >&2; kill -SEGV $$",
       RunState::kFailed, "SIGSEGV", "about to crash"},
      {"numeric",
       "echo '{\"phase\":\"failed\",\"code\":\"non_finite\",\"reason\":\"loss is NaN\"}';"
       " echo 'training failed' >&2; exit 3",
       RunState::kFailed, "exited with code 3: non_finite: loss is NaN", "training failed"},
      {"hang", "echo '{\"phase\":\"train\"}'; exec sleep 600", RunState::kFailed, "timed out", "",
       500ms},
      {"stubborn", "trap '' TERM; while true; do sleep 0.1; done", RunState::kFailed, "timed out",
       "", 500ms},
      {"lazy", "exit 0", RunState::kFailed, "metrics.json", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto s = settings(script(c.name + ".sh", c.body));
    s.timeout = c.timeout;
    training::TrainingService service(s, dsn_, launcher, store);
    const auto run_id = service.start(request());
    const auto result = service.wait(run_id);
    EXPECT_EQ(result.state, c.state);
    EXPECT_NE(result.failure_reason.find(c.reason_part), std::string::npos)
        << result.failure_reason;
    const auto row = store.get(run_id);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->status, "failed");
    EXPECT_EQ(row->failure_reason, result.failure_reason);
    EXPECT_NE(row->last_log.find(c.log_part), std::string::npos) << row->last_log;
  }

  // Cancelled while it runs.
  training::TrainingService service(
      settings(script("slow.sh", "echo '{\"phase\":\"train\"}'; exec sleep 600")), dsn_, launcher,
      store);
  const auto cancelled = service.start(request());
  for (int i = 0; i < 500 && !(store.get(cancelled)->started); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(service.cancel(cancelled, "operator asked"));
  const auto result = service.wait(cancelled);
  EXPECT_EQ(result.state, RunState::kCancelled);
  EXPECT_NE(result.failure_reason.find("operator asked"), std::string::npos);
  EXPECT_EQ(store.get(cancelled)->status, "cancelled");
  EXPECT_FALSE(service.cancel(cancelled, "again"));

  // After all that, the same store and launcher train a real model.
  training::TrainingService real(settings(kTrainer), dsn_, launcher, store);
  const auto ok = real.start(request(3));
  EXPECT_EQ(real.wait(ok).state, RunState::kSucceeded);
}

TEST_F(TrainingTest, RunsAreTimedByStatusAndTheirEpochThroughputIsRecorded) {
  insert_samples(1, 400, 0);
  training::RunStore store(dsn_, "test:1");
  training::LocalProcessLauncher launcher;
  metrics::Registry registry;
  training::TrainingMetrics metrics(registry);
  const std::string failed =
      R"(ctd_training_duration_seconds_count{pipeline="fraud",status="failed"})";
  const std::string succeeded =
      R"(ctd_training_duration_seconds_count{pipeline="fraud",status="succeeded"})";
  const std::string throughput = R"(ctd_training_samples_per_second{pipeline="fraud"})";

  // Two epochs at 100 and 300 samples/s (the same samples each): 150 samples/s over both.
  training::TrainingService epochs(
      settings(script("epochs.sh",
                      "echo '{\"phase\":\"epoch\",\"epoch\":1,\"samples_per_s\":100}';"
                      " echo '{\"phase\":\"epoch\",\"epoch\":2,\"samples_per_s\":300}'; exit 3")),
      dsn_, launcher, store, &metrics);
  ASSERT_EQ(epochs.wait(epochs.start(request())).state, RunState::kFailed);
  std::string text = registry.render();
  EXPECT_EQ(testing::metric_sample(text, failed), 1) << text;
  EXPECT_EQ(testing::metric_sample(text, succeeded), std::nullopt) << text;
  ASSERT_TRUE(testing::metric_sample(text, throughput)) << text;
  EXPECT_DOUBLE_EQ(*testing::metric_sample(text, throughput), 150);

  // A run without a completed epoch is timed but leaves the throughput as it was.
  training::TrainingService crash(settings(script("crash.sh", "kill -SEGV $$")), dsn_, launcher,
                                  store, &metrics);
  ASSERT_EQ(crash.wait(crash.start(request())).state, RunState::kFailed);
  text = registry.render();
  EXPECT_EQ(testing::metric_sample(text, failed), 2) << text;
  EXPECT_DOUBLE_EQ(*testing::metric_sample(text, throughput), 150);

  // The real trainer: its own epoch lines give the figure.
  training::TrainingService real(settings(kTrainer), dsn_, launcher, store, &metrics);
  const auto run_id = real.start(request(3));
  const training::RunResult result = real.wait(run_id);
  ASSERT_EQ(result.state, RunState::kSucceeded) << result.failure_reason;
  std::vector<double> rates;
  std::ifstream log(result.run_dir / "stdout.log");
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("phase", "") == "epoch")
      rates.push_back(j["samples_per_s"].get<double>());
  }
  ASSERT_EQ(rates.size(), 3u);
  text = registry.render();
  EXPECT_EQ(testing::metric_sample(text, succeeded), 1) << text;
  EXPECT_DOUBLE_EQ(*testing::metric_sample(text, throughput),
                   3 / (1 / rates[0] + 1 / rates[1] + 1 / rates[2]));
  // Every observation lies in the buckets: the +Inf bucket counts all three runs' ends.
  EXPECT_EQ(
      testing::metric_sample(
          text,
          R"(ctd_training_duration_seconds_bucket{pipeline="fraud",status="failed",le="+Inf"})"),
      2);
  EXPECT_GT(*testing::metric_sample(
                text, R"(ctd_training_duration_seconds_sum{pipeline="fraud",status="succeeded"})"),
            0);
}

TEST_F(TrainingTest, RunsAbandonedByADeadDaemonAreMarkedFailed) {
  auto alive = std::make_unique<training::RunStore>(dsn_, "host:111");
  const auto [run_id, dir] =
      alive->create_run({pipeline_id_, "manual", "test", nlohmann::json::object(), tmp_.path()});
  alive->mark_running(run_id, 4242);
  EXPECT_NE(dir.find("/run-" + std::to_string(run_id)), std::string::npos);

  training::RunStore restarted(dsn_, "host:222");
  EXPECT_TRUE(restarted.recover_abandoned().empty());  // its supervisor still holds the lock
  EXPECT_EQ(restarted.get(run_id)->status, "running");

  alive.reset();  // the supervising daemon dies: its session, and lock, go away
  // The server ends the closed session's backend, releasing its lock, a moment after the
  // client disconnects (seen under load): look again until then, within a bound.
  std::vector<std::int64_t> recovered;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((recovered = restarted.recover_abandoned()).empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(recovered, std::vector<std::int64_t>{run_id});
  const auto row = restarted.get(run_id);
  EXPECT_EQ(row->status, "failed");
  EXPECT_NE(row->failure_reason.find("abandoned"), std::string::npos);
  EXPECT_NE(row->failure_reason.find("host:111"), std::string::npos);
  EXPECT_TRUE(row->finished);
}

TEST_F(TrainingTest, CtdTrainCommandTrainsAConfiguredPipeline) {
  insert_samples(1, 800, 0);
  const std::string config = tmp_.write("ctd.yaml", R"(
postgres:
  dsn: unused
kafka:
  brokers: embedded
pipelines:
  - name: fraud
    topics: {labels: fraud.labels}
    features:
      - {name: a, type: numeric, required: false}
      - {name: b, type: numeric, required: false}
      - {name: c, type: numeric, required: false}
      - {name: colour, type: categorical, required: false}
      - {name: shape, type: categorical, required: false}
    label: {kind: binary}
    dataset: {last_samples: 600}
    training:
      model: {type: mlp, hidden: [16]}
      optimizer: {name: adam, learning_rate: 0.02}
      epochs: 8
      batch_size: 32
      threads: 1
)");
  const auto run = testing::run_program(
      {CTD_BINARY_DIR "/ctd", "train", "-c", config, "--pipeline", "fraud", "--reason", "cli test"},
      {{"CTD_POSTGRES_DSN", dsn_},
       {"CTD_TRAINING_RUN_ROOT", tmp_.path() + "/cli-runs"},
       {"CTD_ARTIFACT_ROOT", tmp_.path() + "/cli-artifacts"}},
      120s);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto json_start = run.output.find("{\n");
  ASSERT_NE(json_start, std::string::npos) << run.output;
  const auto summary = nlohmann::json::parse(run.output.substr(json_start));
  EXPECT_EQ(summary["state"], "succeeded");
  EXPECT_GT(summary["metrics"]["accuracy"].get<double>(), 0.8);
  // The first model of the pipeline passes the default gate (no value threshold).
  EXPECT_EQ(summary["promotion"]["verdict"], "promoted") << summary.dump();
  EXPECT_EQ(summary["promotion"]["version"], 1);
  const auto rows = db_->exec(
      "SELECT s.row_count, s.seq_first, r.reason, r.requested_by, s.seq_last FROM "
      "training_runs r JOIN snapshots s USING (snapshot_id)");
  ASSERT_EQ(rows.rows(), 1);
  // 800 samples: the newest min_holdout_samples (100) are the gate's held-out data, and
  // dataset.last_samples takes the newest 600 of the rest.
  EXPECT_EQ(rows.integer(0, 0), 600);
  EXPECT_EQ(rows.integer(0, 1), 101);
  EXPECT_EQ(rows.integer(0, 4), 700);
  EXPECT_EQ(std::string(rows.text(0, 2)), "manual: cli test");
  EXPECT_EQ(std::string(rows.text(0, 3)), "cli");

  const auto bad =
      testing::run_program({CTD_BINARY_DIR "/ctd", "train", "-c", config, "--pipeline", "nope"},
                           {{"CTD_POSTGRES_DSN", dsn_}}, 60s);
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace ctd

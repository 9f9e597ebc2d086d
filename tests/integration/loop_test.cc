// The continuous-training loop inside `ctd run`: new samples make a new-data trigger fire,
// the fire becomes a trigger event, a training run and a registry version linked to both, and
// a restarted daemon resumes counting from the last training instead of firing again.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "daemon/alerts.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "tests/support/daemon_process.h"
#include "tests/support/pg_server.h"
#include "tests/support/run_program.h"
#include "tests/support/temp_dir.h"
#include "tests/support/webhook_receiver.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = PgServer::start();
    db_ = std::make_unique<pg::PgConnection>(pg_->dsn());
    schema::migrate(*db_, schema::builtin_migrations());
    db_->exec("INSERT INTO pipelines (name) VALUES ('fraud')");
    db_->exec("INSERT INTO topics (name) VALUES ('fraud.labels'), ('fraud.inferences')");
    db_->exec(
        R"(INSERT INTO feature_schemas (pipeline_id, fingerprint, definition) VALUES (1, 'f',
           '{"numeric":[{"name":"a"},{"name":"b"}],"categorical":[{"name":"colour"}]}'))");
  }

  // Samples first..last of a learnable concept: label 1 exactly when a > 0 (when a <= 0 once
  // the concept is `flipped`).
  void insert_samples(std::int64_t first, std::int64_t last, bool flipped = false) {
    db_->exec(
        std::string("INSERT INTO samples (pipeline_id, seq, schema_id, topic_id, kafka_partition, "
                    "kafka_offset, event_time, label, numeric, categorical) SELECT 1, s, 1, 1, 0, "
                    "s, to_timestamp(1700000000 + s * 60), (a ") +
            (flipped ? "<=" : ">") +
            " 0)::int, ARRAY[a, cos(s)], "
            "ARRAY[(ARRAY['red','green','blue'])[s % 3 + 1]] FROM (SELECT s, "
            "((abs(hashtext(s::text)) % 2000) / 500.0 - 2.0) AS a FROM generate_series($1::bigint, "
            "$2::bigint) s) t",
        {std::to_string(first), std::to_string(last)});
  }

  long long count(const std::string& sql) { return db_->exec(sql).integer(0, 0); }

  static std::string metrics_text(DaemonProcess& d) {
    const auto reply = http_get(d.http_port(), "/metrics");
    return reply && reply->status == 200 ? reply->body : "";
  }
  // The value of `series` (name{labels} exactly as rendered) on the daemon's /metrics, once it
  // is there (polled for at most `timeout`).
  static std::optional<double> eventually_sample(DaemonProcess& d, const std::string& series,
                                                 std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto value = metric_sample(metrics_text(d), series)) return value;
      std::this_thread::sleep_for(250ms);
    }
    return metric_sample(metrics_text(d), series);
  }

  bool eventually(const std::string& sql, long long want, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (count(sql) == want) return true;
      std::this_thread::sleep_for(250ms);
    }
    return count(sql) == want;
  }

  // Inferences first..last with `a` shifted by `shift`.
  void insert_inferences(std::int64_t first, std::int64_t last, double shift) {
    db_->exec(
        "INSERT INTO inferences (pipeline_id, seq, schema_id, topic_id, kafka_partition, "
        "kafka_offset, event_time, numeric, categorical) SELECT 1, s, 1, 2, 0, s, "
        "to_timestamp(1700000000 + s * 60), ARRAY[a + $3::float8, cos(s)], "
        "ARRAY[(ARRAY['red','green','blue'])[s % 3 + 1]] FROM (SELECT s, "
        "((abs(hashtext(s::text)) % 2000) / 500.0 - 2.0) AS a FROM generate_series($1::bigint, "
        "$2::bigint) s) t",
        {std::to_string(first), std::to_string(last), std::to_string(shift)});
  }

  std::map<std::string, std::string> environment(std::map<std::string, std::string> env = {}) {
    env["CTD_POSTGRES_DSN"] = pg_->dsn();
    env["CTD_TRAINING_RUN_ROOT"] = tmp_.path() + "/runs";
    env["CTD_ARTIFACT_ROOT"] = tmp_.path() + "/artifacts";
    return env;
  }

  std::unique_ptr<DaemonProcess> daemon(const std::string& extra_rules = "",
                                        std::map<std::string, std::string> env = {},
                                        const std::string& limits = "",
                                        const std::string& min_improvement = "-0.5",
                                        const std::string& root_extra = "") {
    return std::make_unique<DaemonProcess>(
        root_extra + config(extra_rules, limits, min_improvement), environment(std::move(env)));
  }

  static std::string config(const std::string& extra_rules = "", const std::string& limits = "",
                            const std::string& min_improvement = "-0.5") {
    return
        R"(
postgres: {dsn: "set by CTD_POSTGRES_DSN"}
kafka: {brokers: embedded}
registry: {watch_interval_s: 1}
pipelines:
  - name: fraud
    topics: {labels: fraud.labels, inferences: fraud.inferences}
    features:
      - {name: a, type: numeric, required: false}
      - {name: b, type: numeric, required: false}
      - {name: colour, type: categorical, required: false}
    label: {kind: binary}
    training:
      model: {type: mlp, hidden: [16]}
      optimizer: {name: adam, learning_rate: 0.02}
      epochs: 5
      batch_size: 32
      threads: 1
    promotion: {holdout_samples: 200, min_holdout_samples: 100, min_improvement: )" +
        min_improvement + R"(}
    triggers:
)" + limits +
        R"(
      rules:
        - {name: fresh, type: new_data, min_samples: 1000}
)" + extra_rules;
  }

  // A trainer wrapper: each `train` first creates the file `started`, then runs `train_body`
  // (shell) before, unless it exits or execs, ctd-train itself.
  std::string trainer(const std::string& train_body) {
    const std::string wrapper = tmp_.write(
        "trainer.sh", "#!/bin/sh\nif [ \"$1\" = train ]; then touch " + started() + "; " +
                          train_body + "; fi\nexec " CTD_BINARY_DIR "/ctd-train \"$@\"\n");
    std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
    return wrapper;
  }
  std::string started() const { return tmp_.path() + "/started"; }
  bool training_started(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!std::filesystem::exists(started()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100ms);
    return std::filesystem::exists(started());
  }
  // A daemon (`root_extra` added to its configuration) whose trigger's training has started
  // with a trainer that runs `train_body` first; nullptr (after a failure) otherwise.
  std::unique_ptr<DaemonProcess> daemon_while_training(const std::string& train_body,
                                                       const std::string& root_extra = "") {
    auto d = daemon("", {{"CTD_TRAINER", trainer(train_body)}}, "", "-0.5", root_extra);
    if (!d->wait_ready(60s)) {
      ADD_FAILURE() << "the daemon is not ready\n" << d->log();
      return nullptr;
    }
    insert_samples(1, 1500);
    if (!training_started(90s)) {
      ADD_FAILURE() << "no training started\n" << d->log();
      return nullptr;
    }
    return d;
  }
  std::string run_row(const std::string& column) {
    return std::string(db_->exec("SELECT " + column + " FROM training_runs").text(0, 0));
  }

  RunResult ctd(const std::vector<std::string>& args) {
    std::vector<std::string> argv{CTD_BINARY_DIR "/ctd"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, environment(), 120s);
  }

  std::unique_ptr<PgServer> pg_;
  std::unique_ptr<pg::PgConnection> db_;
  TempDir tmp_{"ctd-loop"};
};

TEST_F(LoopTest, NewSamplesTriggerATrainingThatIsGatedAndLinked) {
  auto d = daemon();
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 600);
  std::this_thread::sleep_for(3s);  // below the trigger's 1,000: nothing happens
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events"), 0) << d->log();

  insert_samples(601, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();
  // One fire, one event, one run, one version, all linked.
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events"), 1);
  const auto row = db_->exec(
      "SELECT e.trigger, e.kind, e.status, e.run_id, v.run_id, v.trigger_event_id, e.event_id, "
      "r.reason, e.evidence->>'samples' FROM trigger_events e JOIN model_versions v ON "
      "v.trigger_event_id = e.event_id JOIN training_runs r ON r.run_id = e.run_id");
  ASSERT_EQ(row.rows(), 1) << d->log();
  EXPECT_EQ(row.text(0, 0), "fresh");
  EXPECT_EQ(row.text(0, 1), "new_data");
  EXPECT_EQ(row.text(0, 2), "started");
  EXPECT_EQ(row.integer(0, 3), row.integer(0, 4));
  EXPECT_NE(std::string(row.text(0, 7)).find("trigger: fresh:"), std::string::npos)
      << row.text(0, 7);
  EXPECT_EQ(count("SELECT count(*) FROM training_runs"), 1);
  // The training was timed before its model was gated; the trigger was evaluated (it fired);
  // no drift trigger, no drift series.
  std::string text = metrics_text(*d);
  EXPECT_EQ(
      metric_sample(text,
                    R"(ctd_training_duration_seconds_count{pipeline="fraud",status="succeeded"})"),
      1)
      << text;
  EXPECT_GT(metric_sample(text, R"(ctd_training_samples_per_second{pipeline="fraud"})").value_or(0),
            0)
      << text;
  EXPECT_GE(
      metric_sample(
          text,
          R"(ctd_trigger_evaluations_total{pipeline="fraud",trigger="fresh",kind="new_data"})")
          .value_or(0),
      1)
      << text;
  EXPECT_EQ(text.find("ctd_drift_statistic{"), std::string::npos) << text;

  // A restart resumes from the newest training's snapshot: no second training for old data.
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_exit(60s), 0) << d->log();
  d = daemon();
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(count("SELECT count(*) FROM training_runs"), 1) << d->log();

  // Enough new samples fire again: a second version, judged against the first.
  insert_samples(1501, 2600);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions", 2, 90s)) << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events WHERE status = 'started'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM model_versions WHERE trigger_event_id IS NOT NULL"), 2);
  EXPECT_TRUE(eventually(
      "SELECT count(*) FROM model_versions WHERE version = 2 AND gate IS NOT NULL", 1, 30s))
      << d->log();
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// A fire held by the rate limits outlives its daemon: the next one holds it again and starts
// its training once the minimum interval has passed.
TEST_F(LoopTest, HeldEventsSurviveARestartAndStartWhenTheLimitAllows) {
  auto d = daemon("", {}, "      min_interval_s: 30");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();
  insert_samples(1501, 2600);
  ASSERT_TRUE(eventually("SELECT count(*) FROM trigger_events WHERE status = 'held'", 1, 30s))
      << d->log();
  EXPECT_EQ(db_->exec("SELECT deferred_by FROM trigger_events WHERE status = 'held'").text(0, 0),
            "min_interval");
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_exit(60s), 0) << d->log();

  d = daemon("", {}, "      min_interval_s: 30");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  ASSERT_TRUE(eventually("SELECT count(*) FROM trigger_events WHERE status = 'started'", 2, 90s))
      << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events"), 2);  // the same event, not a new one
  EXPECT_TRUE(eventually("SELECT count(*) FROM model_versions", 2, 90s)) << d->log();
  EXPECT_NE(d->log().find("resuming 1 held trigger event"), std::string::npos) << d->log();
  // The interval held: the second run started at least 30 s after the first.
  EXPECT_GE(count("SELECT extract(epoch FROM max(created_at) - min(created_at))::int FROM "
                  "training_runs"),
            29);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// A retraining that produces a worse model is rejected by the gate: production keeps serving
// the first version, and the rejection with its numbers is on the version.
TEST_F(LoopTest, AWorseRetrainedModelIsRejectedAndProductionStays) {
  // ctd-train, but once the marker file exists its runs learn nothing (learning rate 1e-9,
  // one epoch): the spec the daemon wrote is edited before ctd-train reads it.
  const std::string marker = tmp_.path() + "/weak";
  const std::string wrapper = tmp_.write(
      "trainer.sh", "#!/bin/sh\nif [ -e " + marker + " ] && [ \"$1\" = train ]; then\n" +
                        "  /usr/bin/python3 -c 'import json,sys; p=sys.argv[1]+\"/spec.json\"; "
                        "s=json.load(open(p)); s[\"optimizer\"][\"learning_rate\"]=1e-9; "
                        "s[\"epochs\"]=1; json.dump(s, open(p, \"w\"))' \"$3\"\nfi\nexec " +
                        CTD_BINARY_DIR "/ctd-train \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  auto d = daemon("", {{"CTD_TRAINER", wrapper}}, "", "0.0");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();

  tmp_.write("weak", "");
  insert_samples(1501, 2600);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'rejected'", 1, 90s))
      << d->log();
  EXPECT_EQ(count("SELECT version FROM model_versions WHERE status = 'production'"), 1);
  const auto rejected = db_->exec(
      "SELECT status_reason, trigger_event_id IS NOT NULL FROM model_versions WHERE version = 2");
  EXPECT_NE(std::string(rejected.text(0, 0)).find("gate failed: improvement"), std::string::npos)
      << rejected.text(0, 0);
  EXPECT_EQ(rejected.text(0, 1), "t");
  EXPECT_EQ(count("SELECT count(*) FROM training_runs WHERE status = 'succeeded'"), 2);
  // The second model really learned nothing (the first reaches about 0.98).
  EXPECT_EQ(count("SELECT count(*) FROM training_runs WHERE run_id = 2 AND "
                  "(metrics->'validation'->>'accuracy')::float8 < 0.8"),
            1);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// A trainer that crashes fails its run; production keeps serving, and the trigger fires again
// on the next new samples.
TEST_F(LoopTest, ACrashingTrainerLeavesProductionServingAndTheTriggersReArmed) {
  // ctd-train, unless the marker file exists: then the "trainer" dies by SIGSEGV.
  const std::string marker = tmp_.path() + "/crash";
  const std::string wrapper = tmp_.write("trainer.sh", "#!/bin/sh\nif [ -e " + marker +
                                                           " ]; then kill -SEGV $$; fi\nexec " +
                                                           CTD_BINARY_DIR "/ctd-train \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  auto d = daemon("", {{"CTD_TRAINER", wrapper}}, "      failure_backoff_s: 10");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();

  tmp_.write("crash", "");
  insert_samples(1501, 2600);
  ASSERT_TRUE(eventually("SELECT count(*) FROM training_runs WHERE status = 'failed'", 1, 90s))
      << d->log();
  EXPECT_NE(std::string(db_->exec("SELECT failure_reason FROM training_runs WHERE status = "
                                  "'failed'")
                            .text(0, 0))
                .find("SIGSEGV"),
            std::string::npos);
  EXPECT_EQ(count("SELECT version FROM model_versions WHERE status = 'production'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM model_versions"), 1);

  // The next fire comes within the failure backoff (10 s after the failed run ended): it is
  // held, and its training starts once the backoff is over.
  std::filesystem::remove(marker);
  insert_samples(2601, 3700);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions", 2, 90s)) << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events WHERE status = 'started'"), 3);
  EXPECT_NE(d->log().find("held: failure_backoff"), std::string::npos) << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM training_runs r3, training_runs r2 WHERE r3.run_id = 3 "
                  "AND r2.run_id = 2 AND r3.created_at >= r2.finished_at + interval '10 s'"),
            1);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// The production model scores new labeled samples before they are used (prequential scoring):
// when the concept changes, its errors make a decay trigger fire on the labels alone, and the
// loop retrains. The scores are stored per window, by the version that made them. The trigger
// judges the errors against the model's own validation error rate (1 - validation accuracy).
TEST_F(LoopTest, PrequentialErrorsAfterAConceptChangeTriggerADecayRetraining) {
  auto d = daemon(
      "        - {name: errors, type: decay, criterion: baseline_drop, drop: 0.25,\n"
      "           baseline_metric: error_rate, window_samples: 200}\n");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();
  ASSERT_TRUE(
      eventually("SELECT count(*) FROM training_runs WHERE finished_at IS NOT NULL", 1, 30s));
  std::this_thread::sleep_for(3s);  // version 1 is loaded for scoring by now

  // The same concept: version 1 scores it well, and the decay trigger stays quiet.
  insert_samples(1501, 1900);
  ASSERT_TRUE(eventually("SELECT coalesce(sum(samples), 0) FROM prequential_scores", 400, 30s))
      << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM prequential_scores WHERE version <> 1 OR seq_first < "
                  "1501 OR seq_last > 1900"),
            0);
  EXPECT_EQ(count("SELECT (sum(error_sum) / sum(samples) < 0.1)::int FROM prequential_scores"), 1);
  // Rows never span a window of 500 sequence numbers.
  EXPECT_EQ(count("SELECT count(*) FROM prequential_scores WHERE (seq_first - 1) / 500 <> "
                  "(seq_last - 1) / 500"),
            0);

  // The concept flips (500 samples: fewer than the new-data trigger's 1,000).
  insert_samples(1901, 2400, /*flipped=*/true);
  ASSERT_TRUE(eventually("SELECT count(*) FROM trigger_events WHERE kind = 'decay'", 1, 60s))
      << d->log();
  const auto event = db_->exec(
      "SELECT e.status, e.reason, (e.evidence->>'model_version')::int, e.evidence->>"
      "'baseline_source', abs((e.evidence->>'baseline')::float8 - (1 - "
      "(v.metrics->'validation'->>'accuracy')::float8)) "
      "< 1e-9 FROM trigger_events e, model_versions v WHERE e.kind = 'decay' AND v.version = 1");
  EXPECT_EQ(event.text(0, 0), "started") << event.text(0, 1);
  EXPECT_EQ(event.integer(0, 2), 1) << event.text(0, 1);
  EXPECT_EQ(event.text(0, 3), "baseline_metrics.error_rate") << event.text(0, 1);
  EXPECT_EQ(event.text(0, 4), "t") << event.text(0, 1);
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events WHERE kind = 'new_data'"), 1);
  EXPECT_EQ(count("SELECT (sum(error_sum) / sum(samples) > 0.8)::int FROM prequential_scores "
                  "WHERE seq_first > 1900 AND version = 1"),
            1);
  ASSERT_TRUE(
      eventually("SELECT count(*) FROM model_versions v JOIN trigger_events e ON "
                 "e.event_id = v.trigger_event_id WHERE e.kind = 'decay'",
                 1, 90s))
      << d->log();
  // Each sample was scored at most once.
  EXPECT_EQ(count("SELECT count(*) FROM prequential_scores a JOIN prequential_scores b ON "
                  "a.seq_first < b.seq_first AND b.seq_first <= a.seq_last"),
            0);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// A daemon killed while its trigger's training runs: the next daemon marks the run abandoned,
// holds the trigger event again and retries its training, so the event is answered once,
// by one new version, and nothing is lost or duplicated.
TEST_F(LoopTest, ATrainingAbandonedByAKilledDaemonIsRetriedForTheSameEvent) {
  // ctd-train, except for the first run after the marker appears: it removes the marker and
  // sleeps in the trainer's place (exec keeps the launcher's parent-death signal).
  const std::string marker = tmp_.path() + "/slow";
  const std::string wrapper = tmp_.write(
      "trainer.sh", "#!/bin/sh\nif [ \"$1\" = train ] && [ -e " + marker + " ]; then rm " + marker +
                        "; exec sleep 120; fi\nexec " CTD_BINARY_DIR "/ctd-train \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  auto d = daemon("", {{"CTD_TRAINER", wrapper}}, "      failure_backoff_s: 10");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();

  tmp_.write("slow", "");
  insert_samples(1501, 2600);
  ASSERT_TRUE(
      eventually("SELECT count(*) FROM training_runs WHERE status = 'running' AND pid IS "
                 "NOT NULL",
                 1, 60s))
      << d->log();
  for (int i = 0; i < 100 && std::filesystem::exists(marker); ++i)  // the trainer sleeps
    std::this_thread::sleep_for(100ms);
  ASSERT_FALSE(std::filesystem::exists(marker)) << d->log();
  const std::int64_t abandoned = count("SELECT run_id FROM training_runs WHERE status = 'running'");
  d->signal(SIGKILL);
  d->wait_exit(30s);

  d = daemon("", {{"CTD_TRAINER", wrapper}});
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions", 2, 90s)) << d->log();
  EXPECT_NE(std::string(db_->exec("SELECT failure_reason FROM training_runs WHERE run_id = $1",
                                  {std::to_string(abandoned)})
                            .text(0, 0))
                .find("abandoned"),
            std::string::npos);
  // The same event, now answered by a third run and the second version.
  EXPECT_EQ(count("SELECT count(*) FROM trigger_events"), 2) << d->log();
  const auto event = db_->exec(
      "SELECT e.status, e.attempts, e.abandoned_runs::text, e.run_id, v.version FROM "
      "trigger_events e JOIN model_versions v ON v.trigger_event_id = e.event_id WHERE "
      "e.event_id = 2");
  ASSERT_EQ(event.rows(), 1) << d->log();
  EXPECT_EQ(event.text(0, 0), "started");
  EXPECT_EQ(event.integer(0, 1), 2);
  EXPECT_EQ(event.text(0, 2), "{" + std::to_string(abandoned) + "}");
  EXPECT_GT(event.integer(0, 3), abandoned);
  EXPECT_EQ(event.integer(0, 4), 2);
  EXPECT_EQ(count("SELECT count(*) FROM training_runs"), 3);
  EXPECT_NE(d->log().find("is retried: its training run"), std::string::npos) << d->log();
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// Production moved by an operator (a rollback from the command line) reaches the loop: the
// rolled-back version scores the next samples and is the triggers' model.
TEST_F(LoopTest, AProductionChangeOutsideTheLoopReachesScoringAndTheTriggers) {
  const std::string rules =
      "        - {name: errors, type: decay, criterion: static_threshold, threshold: 0.3,\n"
      "           window_samples: 200}\n";
  const std::string file = tmp_.write("ctd.yaml", config(rules));
  auto d = daemon(rules);
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();
  insert_samples(1501, 2600);
  ASSERT_TRUE(eventually("SELECT version FROM model_versions WHERE status = 'production'", 2, 90s))
      << d->log();
  ASSERT_TRUE(
      eventually("SELECT count(*) FROM training_runs WHERE finished_at IS NOT NULL", 2, 30s));

  const RunResult rollback =
      ctd({"registry", "rollback", "-c", file, "--model", "fraud", "--reason", "operator says so"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output;
  ASSERT_TRUE(eventually("SELECT version FROM model_versions WHERE status = 'production'", 1, 10s));
  std::this_thread::sleep_for(4s);  // a round or two of the loop
  EXPECT_NE(d->log().find("production is now version 1 (changed outside the loop)"),
            std::string::npos)
      << d->log();
  // The next samples are scored by version 1 again.
  insert_samples(2601, 2900);
  ASSERT_TRUE(eventually(
      "SELECT coalesce(sum(samples), 0) FROM prequential_scores WHERE seq_first > 2600", 300, 30s))
      << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM prequential_scores WHERE seq_first > 2600 AND version "
                  "<> 1"),
            0);
  // A concept change is judged against version 1: the decay fire names it.
  insert_samples(2901, 3400, /*flipped=*/true);
  ASSERT_TRUE(eventually("SELECT count(*) FROM trigger_events WHERE kind = 'decay'", 1, 60s))
      << d->log();
  EXPECT_EQ(count("SELECT (evidence->>'model_version')::int FROM trigger_events WHERE kind = "
                  "'decay'"),
            1);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// Serving features that move away from the production model's training data make a drift
// trigger fire, and the loop retrains.
TEST_F(LoopTest, DriftInTheInferencesTriggersARetraining) {
  auto d = daemon(
      "        - {name: shift, type: drift, features: [a], source: inferences,\n"
      "           window: {type: tumbling, rows: 500}}\n");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();
  ASSERT_TRUE(
      eventually("SELECT count(*) FROM training_runs WHERE finished_at IS NOT NULL", 1, 30s));
  std::this_thread::sleep_for(3s);  // the new model is the drift reference by now
  insert_inferences(1, 500, 5.0);
  ASSERT_TRUE(eventually("SELECT count(*) FROM trigger_events WHERE kind = 'drift'", 1, 60s))
      << d->log();
  const auto event =
      db_->exec("SELECT status, reason, evidence FROM trigger_events WHERE kind = 'drift'");
  EXPECT_EQ(event.text(0, 0), "started") << event.text(0, 1);
  EXPECT_NE(std::string(event.text(0, 2)).find("\"a\""), std::string::npos) << event.text(0, 2);
  // The check that fired is the trigger's last: its statistic for a, past its threshold.
  const std::string labels =
      R"({pipeline="fraud",trigger="shift",feature="a",statistic="wasserstein"})";
  const std::optional<double> statistic =
      eventually_sample(*d, "ctd_drift_statistic" + labels, 30s);
  ASSERT_TRUE(statistic) << metrics_text(*d);
  const auto fired = db_->exec(
      "SELECT (evidence->'features'->0->>'value')::float8, "
      "(evidence->'features'->0->>'threshold')::float8 FROM trigger_events WHERE kind = 'drift'");
  EXPECT_NEAR(*statistic, std::stod(std::string(fired.text(0, 0))), 1e-9);
  const std::optional<double> threshold =
      metric_sample(metrics_text(*d), "ctd_drift_threshold" + labels);
  ASSERT_TRUE(threshold);
  EXPECT_NEAR(*threshold, std::stod(std::string(fired.text(0, 1))), 1e-12);
  EXPECT_GT(*statistic, *threshold);
  EXPECT_TRUE(eventually("SELECT count(*) FROM model_versions", 2, 90s)) << d->log();
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// The loop's events go out as ops alerts: a webhook receiver gets the trigger's fire and the
// promotion of the version it trained, signed with the configured secret.
TEST_F(LoopTest, LoopEventsReachAWebhookSigned) {
  WebhookReceiver receiver;
  auto d = daemon("", {{"CTD_HOOK_SECRET", "t0ps3cret"}}, "", "-0.5",
                  "alerts:\n  webhooks: [{name: ops, url: \"" + receiver.url() +
                      "\", secret_env: CTD_HOOK_SECRET}]\n  labels: {cluster: test}\n");
  ASSERT_TRUE(d->wait_ready(60s)) << d->log();
  insert_samples(1, 1500);
  ASSERT_TRUE(eventually("SELECT count(*) FROM model_versions WHERE status = 'production'", 1, 90s))
      << d->log();
  std::map<std::string, nlohmann::json> alerts;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!alerts.contains("CtdModelPromoted") && std::chrono::steady_clock::now() < deadline) {
    for (const auto& request : receiver.wait_for(alerts.size() + 1, 5s)) {
      const std::string timestamp = request.headers.at("x-ctd-timestamp");
      EXPECT_EQ(request.headers.at("x-ctd-signature"),
                "sha256=" + alerts::hmac_sha256_hex("t0ps3cret", timestamp + "." + request.body));
      const auto body = nlohmann::json::parse(request.body);
      alerts[body["alert"]["labels"]["alertname"]] = body;
    }
  }
  ASSERT_TRUE(alerts.contains("CtdTriggerFired")) << d->log();
  ASSERT_TRUE(alerts.contains("CtdModelPromoted")) << d->log();
  const auto& fired = alerts["CtdTriggerFired"]["alert"];
  EXPECT_EQ(fired["labels"]["pipeline"], "fraud");
  EXPECT_EQ(fired["labels"]["trigger"], "fresh");
  EXPECT_EQ(fired["labels"]["cluster"], "test");
  EXPECT_EQ(alerts["CtdTriggerFired"]["status"], "firing");
  const auto& promoted = alerts["CtdModelPromoted"]["alert"];
  EXPECT_EQ(promoted["labels"]["version"], "1");
  EXPECT_EQ(promoted["labels"]["actor"], "ctd");
  EXPECT_NE(promoted["annotations"]["summary"].get<std::string>().find("from none to v1"),
            std::string::npos);
  d->signal(SIGTERM);
  EXPECT_EQ(d->wait_exit(60s), 0) << d->log();
}

// SIGTERM with shutdown.running_training: finish while a trigger's training runs: intake stops,
// no new training starts, the running one ends and its model is gated and promoted, then the
// daemon exits 0.
TEST_F(LoopTest, SigtermWithFinishLetsTheRunningTrainingEndAndBePromoted) {
  const auto d = daemon_while_training(
      "sleep 4", "shutdown: {running_training: finish, drain_timeout_s: 300}\n");
  ASSERT_TRUE(d);
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_exit(300s), 0) << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM training_runs"), 1) << d->log();
  EXPECT_EQ(run_row("status"), "succeeded") << d->log();
  EXPECT_EQ(count("SELECT count(*) FROM model_versions WHERE status = 'production' AND run_id = "
                  "(SELECT run_id FROM training_runs)"),
            1)
      << d->log();
  EXPECT_NE(d->log().find("waiting for 1 training(s) to finish"), std::string::npos) << d->log();
  EXPECT_NE(d->log().find("drain: the running trainings have ended"), std::string::npos);
}

// With finish and a training that does not end by the deadline: it is cancelled, recorded with
// the deadline as its reason, and the daemon still exits 0, soon after the deadline.
TEST_F(LoopTest, SigtermWithFinishCancelsATrainingStillRunningAtTheDeadline) {
  const auto d = daemon_while_training("exec sleep 300",
                                       "shutdown: {running_training: finish, drain_timeout_s: 3}\n"
                                       "training: {kill_grace_s: 2}\n");
  ASSERT_TRUE(d);
  const auto signalled = std::chrono::steady_clock::now();
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_exit(60s), 0) << d->log();
  const auto took = std::chrono::steady_clock::now() - signalled;
  EXPECT_GE(took, 3s);  // it waited for the deadline
  EXPECT_LT(took, 3s + 2s + 20s) << "deadline + kill grace + a generous margin";
  EXPECT_EQ(run_row("status"), "cancelled") << d->log();
  EXPECT_NE(
      run_row("failure_reason").find("the drain deadline (shutdown.drain_timeout_s: 3) passed"),
      std::string::npos)
      << run_row("failure_reason");
  EXPECT_EQ(count("SELECT count(*) FROM model_versions"), 0);
}

// A second SIGTERM during a finish drain cuts it short: the training is cancelled at once.
TEST_F(LoopTest, ASecondSigtermCutsAFinishDrainShort) {
  const auto d = daemon_while_training(
      "exec sleep 300", "shutdown: {running_training: finish, drain_timeout_s: 600}\n");
  ASSERT_TRUE(d);
  d->signal(SIGTERM);
  ASSERT_TRUE(d->wait_for_log("waiting for 1 training(s) to finish", 30s)) << d->log();
  EXPECT_TRUE(d->running());
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_exit(60s), 0) << d->log();
  EXPECT_EQ(run_row("status"), "cancelled") << d->log();
  EXPECT_NE(run_row("failure_reason").find("a second SIGTERM cut the drain short"),
            std::string::npos)
      << run_row("failure_reason");
}

// The default, running_training: cancel: a SIGTERM cancels the running training at once.
TEST_F(LoopTest, SigtermCancelsTheRunningTrainingByDefault) {
  const auto d = daemon_while_training("exec sleep 300");
  ASSERT_TRUE(d);
  d->signal(SIGTERM);
  ASSERT_EQ(d->wait_exit(60s), 0) << d->log();
  EXPECT_EQ(run_row("status"), "cancelled") << d->log();
  EXPECT_NE(run_row("failure_reason").find("the daemon is stopping"), std::string::npos)
      << run_row("failure_reason");
  EXPECT_NE(d->log().find("cancelling running trainings"), std::string::npos) << d->log();
}

}  // namespace
}  // namespace ctd::testing

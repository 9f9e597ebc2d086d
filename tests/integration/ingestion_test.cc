// End-to-end ingestion against a real PostgreSQL (PgServer) and the embedded Kafka broker,
// with the real `ctd` binary as a child process: exactly-once across volume, crashes, a
// database outage and bad input.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "daemon/embedded_broker.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "tests/support/daemon_process.h"
#include "tests/support/kafka_producer.h"
#include "tests/support/pg_server.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTopic = "it.labels";
constexpr int kPartitions = 8;

// Polls /metrics until `done(exposition)` holds (metrics follow the database commit by a
// moment: the consumer thread records them when it collects the writer's report). Returns the
// last exposition, for messages.
template <typename Done>
std::string wait_for_metrics(int port, Done done) {
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto reply = http_get(port, "/metrics")) body = reply->body;
    if (done(body)) break;
    std::this_thread::sleep_for(50ms);
  }
  return body;
}

std::string wait_for_metric(int port, const std::string& line) {
  return wait_for_metrics(
      port, [&](const std::string& body) { return body.find(line) != std::string::npos; });
}

std::string good_record(long i) {
  return R"({"id":"m)" + std::to_string(i) + R"(","event_time":)" +
         std::to_string(1700000000000 + i) + R"(,"features":{"f0":)" +
         std::to_string(i % 200 - 100) + R"(,"f1":0.5,"f2":-1.25,"c":"a"},"label":)" +
         std::to_string(i % 2) + "}";
}

class IngestionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = PgServer::start();
    pg::PgConnection connection(pg_->dsn());
    schema::migrate(connection, schema::builtin_migrations());
    broker_ = std::make_unique<kafka::EmbeddedBroker>();
    broker_->create_topic(kTopic, kPartitions);
    producer_ = std::make_unique<TestProducer>(broker_->bootstrap_servers());
  }

  std::string config(const std::string& extra_topics = "") const {
    return R"(
postgres: {dsn: "unused, set by CTD_POSTGRES_DSN"}
kafka:
  brokers: ")" +
           broker_->bootstrap_servers() + R"("
  group_id: it
  # A SIGKILLed member holds its partitions until its session expires; keep that short.
  properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500"}
ingest: {batch_max_records: 2000, batch_max_wait_ms: 50, retry_initial_ms: 50, retry_max_ms: 500,
         max_message_bytes: 4096, quarantine_raw_max_bytes: 64}
log: {level: info}
pipelines:
  - name: p1
    topics: {labels: )" +
           std::string(kTopic) + extra_topics + R"(}
    features:
      - {name: f0, type: numeric, min: -100, max: 100}
      - {name: f1, type: numeric}
      - {name: f2, type: numeric, required: false}
      - {name: c, type: categorical, allowed_values: [a, b]}
    label: {kind: binary}
)";
  }

  std::unique_ptr<DaemonProcess> start_daemon(const std::string& extra_topics = "") {
    return std::make_unique<DaemonProcess>(
        config(extra_topics), std::map<std::string, std::string>{{"CTD_POSTGRES_DSN", pg_->dsn()}});
  }

  long long query(const std::string& sql) {
    pg::PgConnection connection(pg_->dsn());
    return connection.exec(sql).integer(0, 0);
  }

  // Polls until `count_sql` (by default: samples + quarantine) reaches `expected` or the
  // timeout passes; returns the last count.
  long long wait_for_records(
      long long expected, std::chrono::seconds timeout,
      const std::string& count_sql =
          "SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM quarantine)") {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    long long stored = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      stored = query(count_sql);
      if (stored >= expected) return stored;
      std::this_thread::sleep_for(100ms);
    }
    return stored;
  }

  // Round-robin over the partitions: the embedded broker keeps only ~5 MB per partition, so
  // the sticky partitioner's skew could push records out before they are consumed.
  void produce_good(long from, long to) {
    for (long i = from; i < to; ++i) {
      producer_->produce(kTopic, good_record(i), static_cast<int>(i % kPartitions));
    }
    producer_->flush();
  }

  // Every produced record stored once, sequence numbers dense, offsets at the end of the log.
  void expect_exactly_once(long long produced) {
    EXPECT_EQ(query("SELECT count(*) FROM samples"), produced);
    EXPECT_EQ(
        query("SELECT count(DISTINCT (topic_id, kafka_partition, kafka_offset)) FROM samples"),
        produced);
    EXPECT_EQ(query("SELECT count(DISTINCT sample_id) FROM samples"), produced);
    EXPECT_EQ(query("SELECT coalesce(min(seq), 0) FROM samples"), produced > 0 ? 1 : 0);
    EXPECT_EQ(query("SELECT coalesce(max(seq), 0) FROM samples"), produced);
    EXPECT_EQ(query("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"), produced);
  }

  std::unique_ptr<PgServer> pg_;
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  std::unique_ptr<TestProducer> producer_;
};

TEST_F(IngestionTest, HundredThousandMessagesLandExactlyOnce) {
  constexpr long kCount = 100000;
  auto daemon = start_daemon();
  ASSERT_TRUE(daemon->wait_ready(60s)) << daemon->log();
  produce_good(0, kCount);
  EXPECT_EQ(wait_for_records(kCount, 180s), kCount) << daemon->log();
  expect_exactly_once(kCount);
  EXPECT_EQ(query("SELECT count(*) FROM samples WHERE numeric[3] IS NOT NULL"), kCount)
      << "f2 (optional, present in every record) must be stored";
  EXPECT_EQ(query("SELECT count(*) FROM samples WHERE label = 1"), kCount / 2);

  const std::string ingested =
      R"(ctd_ingested_records_total{pipeline="p1",stream="labels"} 100000)";
  const std::string metrics = wait_for_metric(daemon->http_port(), ingested);
  EXPECT_NE(metrics.find(ingested), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(ctd_consumer_lag_records{pipeline="p1",stream="labels",)"
                         R"(topic="it.labels",partition="7"})"),
            std::string::npos)
      << "lag is reported per partition\n"
      << metrics;
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0) << daemon->log();
}

TEST_F(IngestionTest, SurvivesRepeatedSigkillWithoutLossOrDuplicates) {
  constexpr long kCount = 200000;
  constexpr int kKills = 5;
  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_ms(0, 100);
  SCOPED_TRACE("seed " + std::to_string(seed));

  std::thread producer([&] { produce_good(0, kCount); });
  long long stored = 0;
  int kills_mid_ingestion = 0;
  for (int kill = 0; kill < kKills && stored < kCount; ++kill) {
    auto daemon = start_daemon();
    // Kill only once this daemon is writing, at a random point of its batches.
    const long long progressed = wait_for_records(stored + 1, 60s);
    ASSERT_GT(progressed, stored) << "daemon " << kill << " made no progress\n" << daemon->log();
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    daemon->signal(SIGKILL);
    EXPECT_EQ(daemon->wait_exit(10s), 128 + SIGKILL);
    stored = query("SELECT count(*) FROM samples");
    kills_mid_ingestion += stored < kCount;
  }
  producer.join();
  EXPECT_GE(kills_mid_ingestion, 2) << "the kills should land mid-ingestion";

  auto daemon = start_daemon();
  EXPECT_EQ(wait_for_records(kCount, 180s), kCount) << daemon->log();
  expect_exactly_once(kCount);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0);
}

// SIGTERM while records stream in: the daemon stops consuming, writes its open batch and exits
// 0; what it stored is exactly the records below its stored offsets, and the next daemon stores
// the rest, every record once.
TEST_F(IngestionTest, SigtermMidIngestionExitsZeroAndLosesNothing) {
  constexpr long kCount = 200000;
  std::thread producer([&] { produce_good(0, kCount); });
  auto daemon = start_daemon();
  ASSERT_GT(wait_for_records(1, 60s), 0) << daemon->log();
  daemon->signal(SIGTERM);
  const auto status = daemon->wait_exit(30s);
  producer.join();
  ASSERT_EQ(status, 0) << daemon->log();
  const long long stored = query("SELECT count(*) FROM samples");
  ASSERT_LT(stored, kCount) << "the signal should land mid-ingestion";
  EXPECT_EQ(query("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"), stored);
  EXPECT_EQ(query("SELECT count(DISTINCT (topic_id, kafka_partition, kafka_offset)) FROM samples"),
            stored);
  EXPECT_NE(daemon->log().find("received SIGTERM, draining"), std::string::npos) << daemon->log();

  daemon = start_daemon();
  EXPECT_EQ(wait_for_records(kCount, 180s), kCount) << daemon->log();
  expect_exactly_once(kCount);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0) << daemon->log();
}

TEST_F(IngestionTest, PostgresOutageMidIngestionLosesNothing) {
  constexpr long kCount = 40000;
  auto daemon = start_daemon();
  ASSERT_TRUE(daemon->wait_ready(60s)) << daemon->log();
  produce_good(0, kCount / 4);
  ASSERT_GE(wait_for_records(1, 60s), 1);

  std::atomic<bool> producing{true};
  std::thread producer([&] {
    produce_good(kCount / 4, kCount);
    producing = false;
  });
  pg_->stop();
  // The outage is seen (readiness drops) and ridden out (the process stays up).
  bool unready = false;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       !unready && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(100ms)) {
    auto reply = http_get(daemon->http_port(), "/readyz");
    unready = reply && reply->status == 503;
  }
  EXPECT_TRUE(unready) << "/readyz must report PostgreSQL down";
  EXPECT_TRUE(daemon->running());
  pg_->restart();
  producer.join();

  EXPECT_EQ(wait_for_records(kCount, 180s), kCount) << daemon->log();
  expect_exactly_once(kCount);
  const std::string no_failures =
      R"(ctd_ingest_write_failures_total{pipeline="p1",stream="labels"} 0)";
  const std::string metrics = wait_for_metrics(daemon->http_port(), [&](const std::string& body) {
    return body.find("ctd_ingest_write_failures_total") != std::string::npos &&
           body.find(no_failures) == std::string::npos;
  });
  EXPECT_EQ(metrics.find(no_failures), std::string::npos)
      << "the outage must have been seen as failed writes\n"
      << metrics;
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0) << daemon->log();
}

struct BadRecord {
  std::string payload;
  std::string reason;
};

std::vector<BadRecord> bad_records() {
  const std::string ok_features = R"("features":{"f0":1,"f1":2,"c":"a"})";
  return {
      {"", "empty"},
      {std::string(5000, ' ') + "{}", "oversized"},
      {"{\"event_time\":1,\"features\":{\"f0\":1,\"f1\":2,\"c\":\"\xff\"},\"label\":1}",
       "invalid_utf8"},
      {"{not json", "invalid_json"},
      {"[1,2,3]", "not_an_object"},
      {R"({"event_time":1,"features":{"f0":1,"f1":2,"c":"a"}})", "missing_field"},
      {R"({"event_time":1,"features":{"f0":"x","f1":2,"c":"a"},"label":1})", "wrong_type"},
      {R"({"event_time":1,"features":{"f0":1,"f1":1e999,"c":"a"},"label":1})", "non_finite"},
      {R"({"event_time":1,)" + ok_features + R"(,"label":3})", "label_out_of_range"},
      {R"({"event_time":1,"features":{"f0":1,"f1":2,"c":"a","zz":1},"label":1})",
       "unknown_feature"},
      {R"({"event_time":1,"features":{"f0":1,"c":"a"},"label":1})", "missing_feature"},
      {R"({"event_time":1,"features":{"f0":1,"f0":1,"f1":2,"c":"a"},"label":1})",
       "duplicate_feature"},
      {R"({"event_time":1,"features":{"f0":1000,"f1":2,"c":"a"},"label":1})", "value_out_of_range"},
      {R"({"event_time":1,"features":{"f0":1,"f1":2,"c":"q"},"label":1})", "unknown_category"},
      {R"({"event_time":"yesterday",)" + ok_features + R"(,"label":1})", "invalid_event_time"},
      {R"({"event_time":1,)" + ok_features + R"(,"label":1,"weight":-2})", "invalid_weight"},
      {R"({"event_time":1,"features":{"f0":1,"f1":2,"c":"a\u0000"},"label":1})", "invalid_string"},
  };
}

TEST_F(IngestionTest, EveryBadInputClassIsQuarantinedWhileGoodRecordsFlow) {
  const std::vector<BadRecord> bad = bad_records();
  // On one partition, good and bad interleaved: good, bad, good, bad, ..., good.
  std::map<long, std::string> expected_reason;  // offset -> reason
  long offset = 0, good = 0;
  for (const BadRecord& record : bad) {
    producer_->produce(kTopic, good_record(good++), 0);
    ++offset;
    producer_->produce(kTopic, record.payload, 0);
    expected_reason[offset++] = record.reason;
  }
  producer_->produce(kTopic, good_record(good++), 0);
  ++offset;
  producer_->flush();

  auto daemon = start_daemon();
  EXPECT_EQ(wait_for_records(offset, 120s), offset) << daemon->log();
  EXPECT_EQ(query("SELECT count(*) FROM samples"), good);
  EXPECT_EQ(query("SELECT count(*) FROM quarantine"), static_cast<long long>(bad.size()));
  pg::PgConnection connection(pg_->dsn());
  pg::PgResult rows = connection.exec(
      "SELECT kafka_offset, reason, detail, raw_size, length(raw) FROM quarantine ORDER BY 1");
  ASSERT_EQ(rows.rows(), static_cast<int>(bad.size()));
  for (int row = 0; row < rows.rows(); ++row) {
    const long at = rows.integer(row, 0);
    EXPECT_EQ(rows.text(row, 1), expected_reason[at])
        << "offset " << at << ": " << rows.text(row, 2);
    EXPECT_FALSE(rows.text(row, 2).empty());
    EXPECT_LE(rows.integer(row, 4), 64) << "raw bytes are truncated to quarantine_raw_max_bytes";
  }
  EXPECT_EQ(query("SELECT next_offset FROM consumer_offsets WHERE kafka_partition = 0"), offset);
  const std::string invalid_json =
      R"(ctd_quarantined_records_total{pipeline="p1",stream="labels",reason="invalid_json"} 1)";
  const std::string metrics = wait_for_metric(daemon->http_port(), invalid_json);
  EXPECT_NE(metrics.find(invalid_json), std::string::npos) << metrics;
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0);
}

// Two replicas share the partitions; one is paused by a PostgreSQL outage when the other joins
// and the group rebalances. Everything lands once, and no partition stays paused.
TEST_F(IngestionTest, TwoDaemonsRebalanceDuringAnOutageWithoutLossOrDuplicates) {
  constexpr long kCount = 40000;
  auto first = start_daemon();
  ASSERT_TRUE(first->wait_ready(60s)) << first->log();
  produce_good(0, kCount / 2);
  ASSERT_EQ(wait_for_records(kCount / 2, 120s), kCount / 2) << first->log();

  auto second = start_daemon();
  ASSERT_TRUE(second->wait_for_log("ctd running", 60s)) << second->log();
  pg_->stop();
  std::thread producer([&] { produce_good(kCount / 2, kCount); });
  EXPECT_TRUE(second->wait_for_log("assigned", 60s)) << second->log();
  EXPECT_TRUE(first->wait_for_log("assigned 4 partition(s)", 60s)) << first->log();
  producer.join();
  pg_->restart();

  EXPECT_EQ(wait_for_records(kCount, 180s), kCount) << first->log() << second->log();
  expect_exactly_once(kCount);
  first->signal(SIGTERM);
  second->signal(SIGTERM);
  EXPECT_EQ(first->wait_exit(30s), 0) << first->log();
  EXPECT_EQ(second->wait_exit(30s), 0) << second->log();
}

TEST_F(IngestionTest, StartsFromTheOffsetsStoredInPostgresNotFromKafka) {
  {
    pg::PgConnection connection(pg_->dsn());
    const long long topic_id =
        connection.exec("INSERT INTO topics (name) VALUES ($1) RETURNING topic_id", {kTopic})
            .integer(0, 0);
    connection.exec(
        "INSERT INTO consumer_offsets (topic_id, kafka_partition, next_offset) "
        "VALUES ($1, 0, 6)",
        {std::to_string(topic_id)});
  }
  for (long i = 0; i < 10; ++i) producer_->produce(kTopic, good_record(i), 0);
  producer_->flush();
  auto daemon = start_daemon();
  EXPECT_EQ(wait_for_records(4, 60s), 4) << daemon->log();
  EXPECT_EQ(query("SELECT min(kafka_offset) FROM samples"), 6);
  EXPECT_EQ(query("SELECT max(kafka_offset) FROM samples"), 9);
  EXPECT_EQ(query("SELECT next_offset FROM consumer_offsets WHERE kafka_partition = 0"), 10);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0);
  EXPECT_EQ(query("SELECT count(*) FROM samples"), 4) << "offsets 0..5 were stored before";
}

TEST_F(IngestionTest, InferencesAndMetricsAreStoredWithTheirFields) {
  broker_->create_topic("it.inferences", 2);
  broker_->create_topic("it.metrics", 2);
  producer_->produce("it.inferences",
                     R"({"id":"i1","event_time":"2026-01-01T00:00:00Z","features":{"f0":1,"f1":2,)"
                     R"("c":"b"},"model_version":3,"prediction":0.75})");
  producer_->produce("it.inferences",
                     R"({"event_time":1767225600000,"features":{"f0":-1,"f1":0,"c":"a"}})");
  producer_->produce("it.inferences", R"({"event_time":1,"features":{"f0":1},"prediction":1})");
  producer_->produce("it.metrics", R"({"model":"p1","version":3,"metric":"accuracy","value":0.91,)"
                                   R"("event_time":1767225600000,"count":500})");
  producer_->produce("it.metrics", R"({"model":"p1","version":3,"value":0.9,"event_time":1})");
  producer_->flush();

  auto daemon = start_daemon(", inferences: it.inferences, metrics: it.metrics");
  EXPECT_EQ(wait_for_records(5, 60s,
                             "SELECT (SELECT count(*) FROM inferences) + "
                             "(SELECT count(*) FROM metric_points) + "
                             "(SELECT count(*) FROM quarantine)"),
            5)
      << daemon->log();
  pg::PgConnection connection(pg_->dsn());
  pg::PgResult inference = connection.exec(
      "SELECT sample_id, model_version, prediction, numeric::text, categorical::text, "
      "extract(epoch FROM event_time)::bigint FROM inferences WHERE sample_id = 'i1'");
  ASSERT_EQ(inference.rows(), 1);
  EXPECT_EQ(inference.integer(0, 1), 3);
  EXPECT_EQ(inference.text(0, 2), "0.75");
  EXPECT_EQ(inference.text(0, 3), "{1,2,NULL}");
  EXPECT_EQ(inference.text(0, 4), "{b}");
  EXPECT_EQ(inference.integer(0, 5), 1767225600);
  EXPECT_EQ(query("SELECT count(*) FROM inferences WHERE model_version IS NULL AND "
                  "prediction IS NULL"),
            1);
  pg::PgResult metric = connection.exec(
      "SELECT model, model_version, metric, value, sample_count FROM metric_points");
  ASSERT_EQ(metric.rows(), 1);
  EXPECT_EQ(metric.text(0, 0), "p1");
  EXPECT_EQ(metric.text(0, 2), "accuracy");
  EXPECT_EQ(metric.text(0, 3), "0.91");
  EXPECT_EQ(metric.integer(0, 4), 500);
  EXPECT_EQ(query("SELECT count(*) FROM quarantine WHERE stream = 'inferences' AND "
                  "reason = 'missing_feature'"),
            1);
  EXPECT_EQ(query("SELECT count(*) FROM quarantine WHERE stream = 'metrics' AND "
                  "reason = 'missing_field'"),
            1);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(30s), 0);
}

}  // namespace
}  // namespace ctd::testing

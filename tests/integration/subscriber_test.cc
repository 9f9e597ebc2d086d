// In-process ingestion: committed batches reach BatchSubscribers in commit order, with the
// sequence numbers PostgreSQL holds for them.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "daemon/embedded_broker.h"
#include "daemon/metrics.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "daemon/stream_ingestor.h"
#include "tests/support/kafka_producer.h"
#include "tests/support/pg_server.h"

namespace ctd::testing {
namespace {

using namespace std::chrono_literals;

struct SeenBatch {
  std::int64_t first_seq;
  std::vector<ingest::RecordKey> keys;
  std::size_t quarantined;
};

class RecordingSubscriber : public ingest::BatchSubscriber {
 public:
  void on_committed(const ingest::CommittedBatch& batch) override {
    std::lock_guard lock(mutex_);
    seen_.push_back({batch.first_seq, batch.records.keys, batch.quarantined});
    total_ += batch.records.size() + batch.quarantined;
    changed_.notify_all();
  }
  bool wait_for(std::size_t records, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return total_ >= records; });
  }
  std::vector<SeenBatch> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<SeenBatch> seen_;
  std::size_t total_ = 0;
};

TEST(SubscriberTest, CommittedBatchesArriveInSequenceOrderWithTheirStoredRows) {
  auto pg = PgServer::start();
  {
    pg::PgConnection connection(pg->dsn());
    schema::migrate(connection, schema::builtin_migrations());
  }
  kafka::EmbeddedBroker broker;
  broker.create_topic("sub.labels", 2);
  constexpr int kGood = 500;
  {
    TestProducer producer(broker.bootstrap_servers());
    for (int i = 0; i < kGood; ++i) {
      producer.produce(
          "sub.labels",
          R"({"event_time":1,"features":{"x":)" + std::to_string(i) + R"(},"label":1})", i % 2);
      if (i % 200 == 0) producer.produce("sub.labels", "not json", i % 2);
    }
    producer.flush();
  }
  config::Options options;
  options.postgres.dsn = pg->dsn();
  options.kafka.brokers = broker.bootstrap_servers();
  options.ingest.batch_max_records = 64;
  config::PipelineOptions pipeline;
  pipeline.name = "sub";
  pipeline.topics.labels = "sub.labels";
  config::FeatureSpec feature;
  feature.name = "x";
  pipeline.features.push_back(feature);
  pipeline.label.kind = config::LabelKind::kRegression;
  options.pipelines.push_back(pipeline);

  metrics::Registry registry;
  ingest::IngestMetrics metrics(registry);
  ingest::StreamIngestor ingestor(
      options, options.pipelines[0], ingest::Stream::kLabels, "sub.labels",
      std::make_unique<ingest::PgIngestStore>(pg->dsn(), options.pipelines[0],
                                              ingest::Stream::kLabels, "sub.labels"),
      metrics);
  RecordingSubscriber subscriber;
  ingestor.subscribe(&subscriber);
  std::atomic<bool> stop{false};
  std::thread runner([&] { ingestor.run(stop); });
  const bool all_seen = subscriber.wait_for(kGood + 3, 120s);
  stop = true;
  runner.join();
  ASSERT_TRUE(all_seen);

  const std::vector<SeenBatch> seen = subscriber.seen();
  EXPECT_GT(seen.size(), 1u) << "batches of at most 64 records";
  std::int64_t expected_seq = 1;
  std::size_t quarantined = 0;
  pg::PgConnection connection(pg->dsn());
  for (const SeenBatch& batch : seen) {
    EXPECT_EQ(batch.first_seq, expected_seq) << "dense, in commit order";
    quarantined += batch.quarantined;
    for (std::size_t i = 0; i < batch.keys.size(); ++i) {
      pg::PgResult row =
          connection.exec("SELECT kafka_partition, kafka_offset FROM samples WHERE seq = $1",
                          {std::to_string(batch.first_seq + static_cast<std::int64_t>(i))});
      ASSERT_EQ(row.rows(), 1);
      EXPECT_EQ(row.integer(0, 0), batch.keys[i].partition);
      EXPECT_EQ(row.integer(0, 1), batch.keys[i].offset);
    }
    expected_seq += static_cast<std::int64_t>(batch.keys.size());
  }
  EXPECT_EQ(expected_seq - 1, kGood);
  EXPECT_EQ(quarantined, 3u);
}

}  // namespace
}  // namespace ctd::testing

// Ingests one pipeline stream (one Kafka topic) exactly once into PostgreSQL.
//
// The consumer reads in a consumer group, but Kafka's committed offsets are only advisory:
// on every partition assignment it seeks to the offsets stored in PostgreSQL, and every batch
// is written in one transaction together with a compare-and-set of those offsets. Records are
// validated; invalid ones go to the quarantine table in the same transaction, so a bad record
// never blocks its partition. When PostgreSQL is unreachable the assigned partitions are
// paused and the batch is retried with capped exponential backoff; afterwards consumption
// resumes from the stored offsets. Memory is bounded by the batch limits and librdkafka's
// prefetch queue, whatever the backlog.
//
// Threading: run() owns the consumer and blocks its calling thread until stop is requested;
// the accessors below may be called from any thread. Committed batches are handed to
// BatchSubscribers on the ingestor's thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/options.h"
#include "daemon/ingest_store.h"
#include "daemon/metrics.h"
#include "daemon/records.h"

namespace ctd::ingest {

// A batch that is durable in PostgreSQL.
struct CommittedBatch {
  const std::string& pipeline;
  Stream stream;
  std::int64_t first_seq;  // records got first_seq, first_seq + 1, ...
  const DecodedBatch& records;
  std::size_t quarantined;
};

// Receives committed batches in commit order (e.g. the trigger engine). Must not block long:
// it runs on the ingestor's thread.
class BatchSubscriber {
 public:
  virtual ~BatchSubscriber() = default;
  virtual void on_committed(const CommittedBatch& batch) = 0;
};

// The metric families ingestion reports to; registered once per daemon.
struct IngestMetrics {
  explicit IngestMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& ingested;         // pipeline, stream
  metrics::Family<metrics::Counter>& quarantined;      // pipeline, stream, reason
  metrics::Family<metrics::Gauge>& lag;                // pipeline, stream, topic, partition
  metrics::Family<metrics::Counter>& batches;          // pipeline, stream
  metrics::Family<metrics::Counter>& write_failures;   // pipeline, stream
  metrics::Family<metrics::Histogram>& batch_seconds;  // pipeline, stream
  metrics::Family<metrics::Gauge>& paused;             // pipeline, stream: 1 while paused
  metrics::Family<metrics::Counter>& skipped;  // pipeline, stream: offsets lost to retention
};

class StreamIngestor {
 public:
  StreamIngestor(const config::Options& options, const config::PipelineOptions& pipeline,
                 Stream stream, std::string topic, std::unique_ptr<IngestStore> store,
                 IngestMetrics& metrics);
  ~StreamIngestor();
  StreamIngestor(const StreamIngestor&) = delete;
  StreamIngestor& operator=(const StreamIngestor&) = delete;

  // REQUIRES: called before run().
  void subscribe(BatchSubscriber* subscriber);

  // Consumes until `stop` becomes true, then writes the open batch if it can (one attempt),
  // closes the consumer and returns. Throws std::runtime_error if the consumer cannot be
  // created (bad librdkafka property, for instance).
  void run(const std::atomic<bool>& stop);

  // True once the group has assigned this consumer its partitions (possibly none).
  bool assigned() const { return assigned_.load(); }
  const std::string& topic() const { return topic_; }
  const std::string& pipeline() const;
  Stream stream() const { return stream_; }

 private:
  struct Impl;
  std::string topic_;
  Stream stream_;
  std::atomic<bool> assigned_{false};
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctd::ingest

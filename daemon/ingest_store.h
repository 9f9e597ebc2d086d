// Where ingested batches become durable. IngestStore is the interface the StreamIngestor
// writes through; PgIngestStore is the PostgreSQL implementation (binary COPY, one transaction
// per batch together with the offset compare-and-set).
//
// Thread-safety: one store per ingestor thread (a PgIngestStore owns its connection).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/options.h"
#include "daemon/records.h"

namespace ctd::ingest {

// A partition's share of a batch: the stored next-offset the batch started from (-1 when
// nothing was stored yet) and the offset after its last record.
struct PartitionAdvance {
  std::int32_t partition = 0;
  std::int64_t expected_next_offset = -1;
  std::int64_t new_next_offset = 0;
};

struct WriteResult {
  enum class Status { kCommitted, kOffsetConflict };
  Status status = Status::kCommitted;
  std::int64_t first_seq = 0;  // sequence number of the batch's first record (if committed)
};

class IngestStore {
 public:
  virtual ~IngestStore() = default;
  // Next offsets stored for the topic's partitions; absent partitions have none stored.
  virtual std::map<std::int32_t, std::int64_t> load_offsets() = 0;
  // Writes records, quarantined records and offset advances in one transaction. Returns
  // kOffsetConflict (writing nothing) if any partition's stored offset is no longer
  // expected_next_offset. Throws pg::PgError on database failure (nothing written).
  virtual WriteResult write(const DecodedBatch& batch,
                            const std::vector<QuarantinedRecord>& quarantined,
                            const std::vector<PartitionAdvance>& advances) = 0;
};

class PgIngestStore : public IngestStore {
 public:
  // Connects lazily: the first call connects, a broken connection is replaced on the next
  // call. Registers the pipeline, topic, stream and feature schema on first connect.
  PgIngestStore(std::string dsn, const config::PipelineOptions& pipeline, Stream stream,
                std::string topic);
  ~PgIngestStore() override;

  std::map<std::int32_t, std::int64_t> load_offsets() override;
  WriteResult write(const DecodedBatch& batch, const std::vector<QuarantinedRecord>& quarantined,
                    const std::vector<PartitionAdvance>& advances) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctd::ingest

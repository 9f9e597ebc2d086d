// Writes ingestion batches to an IngestStore on its own thread, so that the consumer decodes
// batch k+1 while batch k is copied into PostgreSQL and committed. At most one batch is in
// flight, so memory holds at most two batches.
//
// A write that fails transiently (PostgreSQL unreachable, ...) is retried with capped
// exponential backoff until it commits, the store reports an offset conflict, or abandon() is
// called; a permanent error (a constraint violation, say) is reported at once.
//
// Thread-safety: submit(), wait(), abandon(), busy() and failing() are called by one owner
// thread (the consumer); the writing happens on the writer's own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ingest_store.h"
#include "daemon/records.h"

namespace ctd::ingest {

// A batch and the offsets it advances.
struct PendingBatch {
  DecodedBatch records;
  std::vector<QuarantinedRecord> quarantined;
  std::vector<PartitionAdvance> advances;

  std::size_t size() const { return records.size() + quarantined.size(); }
  bool empty() const { return size() == 0; }
  void clear();  // keeps capacity
};

struct WriteReport {
  // kFailed: a non-transient error (not retried; see pg::PgError::is_transient).
  enum class Outcome { kCommitted, kOffsetConflict, kFailed, kAbandoned };
  Outcome outcome = Outcome::kCommitted;
  std::int64_t first_seq = 0;
  double seconds = 0;  // duration of the successful attempt
  int failed_attempts = 0;
  std::string last_error;  // of the last failed attempt
};

class BatchWriter {
 public:
  BatchWriter(IngestStore& store, std::chrono::milliseconds retry_initial,
              std::chrono::milliseconds retry_max);
  ~BatchWriter();  // abandons an in-flight batch and joins the thread
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Takes the batch's contents (swapping in the writer's spare buffers, so `batch` comes back
  // empty with reusable capacity). REQUIRES: !busy().
  void submit(PendingBatch& batch);
  // True from submit() until wait() has returned the report.
  bool busy() const { return busy_; }
  // Waits up to `timeout` for the in-flight batch; on completion swaps the written batch into
  // `written` (for subscribers) and returns the report.
  std::optional<WriteReport> wait(std::chrono::milliseconds timeout, PendingBatch& written);
  // The in-flight batch gives up after its current attempt (rebalance, shutdown).
  void abandon();
  // Failed attempts of the in-flight batch so far.
  int failing() const { return failing_.load(); }

 private:
  void run();
  WriteReport write_with_retries();

  IngestStore& store_;
  const std::chrono::milliseconds retry_initial_;
  const std::chrono::milliseconds retry_max_;

  std::mutex mutex_;
  std::condition_variable changed_;
  PendingBatch slot_;                  // GUARDED_BY(mutex_): the batch being written
  bool has_job_ = false;               // GUARDED_BY(mutex_)
  std::optional<WriteReport> report_;  // GUARDED_BY(mutex_)
  bool abandon_ = false;               // GUARDED_BY(mutex_)
  bool shutdown_ = false;              // GUARDED_BY(mutex_)
  bool busy_ = false;                  // owner thread only
  std::atomic<int> failing_{0};
  std::thread thread_;
};

}  // namespace ctd::ingest

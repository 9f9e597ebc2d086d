// BatchWriter against a fake IngestStore with knobs: fail the next N writes, report an offset
// conflict, block a write until released.
#include "daemon/batch_writer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "daemon/pg.h"

namespace ctd::ingest {
namespace {

using namespace std::chrono_literals;

class FakeStore : public IngestStore {
 public:
  std::map<std::int32_t, std::int64_t> load_offsets() override { return {}; }

  WriteResult write(const DecodedBatch& batch, const std::vector<QuarantinedRecord>& quarantined,
                    const std::vector<PartitionAdvance>& advances) override {
    std::unique_lock lock(mutex);
    ++attempts;
    released.wait(lock, [this] { return !hold; });
    if (fail_permanently) {
      throw pg::PgError("duplicate key value violates unique constraint", "23505", false);
    }
    if (fail_next > 0) {
      --fail_next;
      throw pg::PgError("connection refused", "08006", true);
    }
    if (conflict) return {WriteResult::Status::kOffsetConflict, 0};
    written_records += batch.size() + quarantined.size();
    last_advances = advances;
    WriteResult result{WriteResult::Status::kCommitted, next_seq};
    next_seq += static_cast<std::int64_t>(batch.size());
    return result;
  }

  void release() {
    {
      std::lock_guard lock(mutex);
      hold = false;
    }
    released.notify_all();
  }

  std::mutex mutex;
  std::condition_variable released;
  bool hold = false;              // knob: block writes until release()
  int fail_next = 0;              // knob: throw a transient error this many times
  bool fail_permanently = false;  // knob: throw a non-transient error (constraint violation)
  bool conflict = false;          // knob: report an offset conflict
  int attempts = 0;
  std::size_t written_records = 0;
  std::int64_t next_seq = 1;
  std::vector<PartitionAdvance> last_advances;
};

PendingBatch batch_of(std::size_t records) {
  PendingBatch batch;
  for (std::size_t i = 0; i < records; ++i) {
    batch.records.keys.push_back({0, static_cast<std::int64_t>(i)});
  }
  batch.advances.push_back({0, -1, static_cast<std::int64_t>(records)});
  return batch;
}

std::optional<WriteReport> wait_for(BatchWriter& writer, PendingBatch& written) {
  return writer.wait(10s, written);
}

TEST(BatchWriterTest, CommitsAndHandsTheBatchBack) {
  FakeStore store;
  BatchWriter writer(store, 1ms, 4ms);
  PendingBatch batch = batch_of(3);
  writer.submit(batch);
  EXPECT_TRUE(batch.empty()) << "submit takes the contents";
  EXPECT_TRUE(writer.busy());
  PendingBatch written;
  auto report = wait_for(writer, written);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, WriteReport::Outcome::kCommitted);
  EXPECT_EQ(report->first_seq, 1);
  EXPECT_EQ(written.records.size(), 3u);
  EXPECT_EQ(written.advances.at(0).new_next_offset, 3);
  EXPECT_FALSE(writer.busy());
  EXPECT_EQ(store.written_records, 3u);
}

TEST(BatchWriterTest, RetriesTransientFailuresUntilTheWriteCommits) {
  FakeStore store;
  store.fail_next = 3;
  BatchWriter writer(store, 1ms, 2ms);
  PendingBatch batch = batch_of(2);
  writer.submit(batch);
  PendingBatch written;
  auto report = wait_for(writer, written);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, WriteReport::Outcome::kCommitted);
  EXPECT_EQ(report->failed_attempts, 3);
  EXPECT_NE(report->last_error.find("connection refused"), std::string::npos);
  EXPECT_EQ(store.attempts, 4);
  EXPECT_EQ(store.written_records, 2u);
}

TEST(BatchWriterTest, ReportsAnOffsetConflictWithoutRetrying) {
  FakeStore store;
  store.conflict = true;
  BatchWriter writer(store, 1ms, 2ms);
  PendingBatch batch = batch_of(2);
  writer.submit(batch);
  PendingBatch written;
  auto report = wait_for(writer, written);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, WriteReport::Outcome::kOffsetConflict);
  EXPECT_EQ(store.attempts, 1);
  EXPECT_EQ(store.written_records, 0u);
}

TEST(BatchWriterTest, ReportsAPermanentErrorWithoutRetrying) {
  FakeStore store;
  store.fail_permanently = true;
  BatchWriter writer(store, 1ms, 2ms);
  PendingBatch batch = batch_of(2);
  writer.submit(batch);
  PendingBatch written;
  auto report = wait_for(writer, written);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, WriteReport::Outcome::kFailed);
  EXPECT_EQ(store.attempts, 1);
  EXPECT_NE(report->last_error.find("unique constraint"), std::string::npos);
}

TEST(BatchWriterTest, AbandonStopsRetryingAfterTheCurrentAttempt) {
  FakeStore store;
  store.fail_next = 1000000;
  BatchWriter writer(store, 1h, 1h);  // without abandon() it would wait an hour to retry
  PendingBatch batch = batch_of(2);
  writer.submit(batch);
  while (writer.failing() == 0) std::this_thread::yield();
  writer.abandon();
  PendingBatch written;
  auto report = wait_for(writer, written);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, WriteReport::Outcome::kAbandoned);
  EXPECT_EQ(store.attempts, 1);
}

TEST(BatchWriterTest, WaitTimesOutWhileTheWriteIsInFlight) {
  FakeStore store;
  store.hold = true;
  BatchWriter writer(store, 1ms, 2ms);
  PendingBatch batch = batch_of(1);
  writer.submit(batch);
  PendingBatch written;
  EXPECT_FALSE(writer.wait(10ms, written)) << "the write is blocked by the fake";
  EXPECT_TRUE(writer.busy());
  store.release();
  auto report = wait_for(writer, written);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, WriteReport::Outcome::kCommitted);
}

}  // namespace
}  // namespace ctd::ingest

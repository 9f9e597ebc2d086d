#include "daemon/batch_writer.h"

#include "daemon/pg.h"

namespace ctd::ingest {

void PendingBatch::clear() {
  records.clear();
  quarantined.clear();
  advances.clear();
}

BatchWriter::BatchWriter(IngestStore& store, std::chrono::milliseconds retry_initial,
                         std::chrono::milliseconds retry_max)
    : store_(store), retry_initial_(retry_initial), retry_max_(retry_max) {
  thread_ = std::thread([this] { run(); });
}

BatchWriter::~BatchWriter() {
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
    abandon_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BatchWriter::submit(PendingBatch& batch) {
  {
    std::lock_guard lock(mutex_);
    std::swap(slot_, batch);
    has_job_ = true;
    abandon_ = false;
    report_.reset();
    failing_ = 0;
  }
  batch.clear();
  busy_ = true;
  changed_.notify_all();
}

std::optional<WriteReport> BatchWriter::wait(std::chrono::milliseconds timeout,
                                             PendingBatch& written) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return report_.has_value(); })) {
    return std::nullopt;
  }
  std::optional<WriteReport> report = std::move(report_);
  report_.reset();
  std::swap(slot_, written);
  busy_ = false;
  return report;
}

void BatchWriter::abandon() {
  {
    std::lock_guard lock(mutex_);
    abandon_ = true;
  }
  changed_.notify_all();
}

WriteReport BatchWriter::write_with_retries() {
  WriteReport report;
  auto delay = retry_initial_;
  while (true) {
    const auto started = std::chrono::steady_clock::now();
    try {
      const WriteResult result = store_.write(slot_.records, slot_.quarantined, slot_.advances);
      report.outcome = result.status == WriteResult::Status::kCommitted
                           ? WriteReport::Outcome::kCommitted
                           : WriteReport::Outcome::kOffsetConflict;
      report.first_seq = result.first_seq;
      report.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return report;
    } catch (const pg::PgError& e) {
      ++report.failed_attempts;
      report.last_error = e.what();
      failing_ = report.failed_attempts;
      if (!e.is_transient()) {
        report.outcome = WriteReport::Outcome::kFailed;
        return report;
      }
    } catch (const std::exception& e) {
      ++report.failed_attempts;
      report.last_error = e.what();
      report.outcome = WriteReport::Outcome::kFailed;
      return report;
    }
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, delay, [this] { return abandon_; })) {
      report.outcome = WriteReport::Outcome::kAbandoned;
      return report;
    }
    delay = std::min(delay * 2, retry_max_);
  }
}

void BatchWriter::run() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return has_job_ || shutdown_; });
      if (shutdown_ && !has_job_) return;
      has_job_ = false;
    }
    WriteReport report = write_with_retries();
    {
      std::lock_guard lock(mutex_);
      report_ = std::move(report);
    }
    changed_.notify_all();
  }
}

}  // namespace ctd::ingest

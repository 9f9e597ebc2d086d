#include "daemon/stream_ingestor.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>

#include "daemon/batch_writer.h"
#include "daemon/kafka_config.h"
#include "daemon/pg.h"
#include "daemon/record_decoder.h"

namespace ctd::ingest {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds a batch's raw payload whatever the record limit, so memory stays bounded.
constexpr std::size_t kMaxBatchBytes = 32u << 20;
constexpr auto kLagInterval = std::chrono::seconds(1);
constexpr int kPollTimeoutMs = 50;
// Messages taken from the consumer queue per call: amortises the queue's locking.
constexpr std::size_t kConsumeBatch = 1000;
constexpr auto kWriterPoll = std::chrono::milliseconds(20);
constexpr auto kCloseDeadline = std::chrono::seconds(5);
// Consecutive batches failed by non-transient database errors before ingestion stops.
constexpr int kMaxPermanentFailures = 3;

// Per assigned partition.
struct PartitionState {
  bool ready = false;             // its stored offset is known and the consumer seeks to it
  std::int64_t stored = -1;       // next offset committed in PostgreSQL (-1: none yet)
  std::int64_t handed = -1;       // next offset after the batches handed to the writer
  std::int64_t next = -1;         // next offset expected from Kafka (-1: from the start)
  std::int64_t batch_first = -1;  // first offset of this partition in the open batch
  std::int64_t batch_last = -1;
  std::int64_t gap_seen = -1;  // offset after a gap already re-read once (see on_message)
  bool awaiting_seek = false;  // dropped messages after a suspect gap until the seek back
  metrics::Gauge* lag = nullptr;
};

bool cooperative(rd_kafka_t* consumer) {
  const char* protocol = rd_kafka_rebalance_protocol(consumer);
  return protocol && std::string_view(protocol) == "COOPERATIVE";
}

struct PartitionList {
  rd_kafka_topic_partition_list_t* list;
  explicit PartitionList(int size) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
};

}  // namespace

IngestMetrics::IngestMetrics(metrics::Registry& registry)
    : ingested(registry.counter("ctd_ingested_records_total",
                                "Records accepted and durably stored, by pipeline and stream.",
                                {"pipeline", "stream"})),
      quarantined(registry.counter("ctd_quarantined_records_total",
                                   "Records rejected by validation and stored in quarantine.",
                                   {"pipeline", "stream", "reason"})),
      lag(registry.gauge("ctd_consumer_lag_records",
                         "Records in the partition not yet durably ingested (high watermark "
                         "minus next offset).",
                         {"pipeline", "stream", "topic", "partition"})),
      batches(registry.counter("ctd_ingest_batches_total", "Batches committed to PostgreSQL.",
                               {"pipeline", "stream"})),
      write_failures(registry.counter("ctd_ingest_write_failures_total",
                                      "Failed attempts to commit a batch (retried).",
                                      {"pipeline", "stream"})),
      batch_seconds(registry.histogram(
          "ctd_ingest_batch_write_seconds", "Time to write and commit one batch.",
          {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}, {"pipeline", "stream"})),
      paused(registry.gauge("ctd_ingest_paused",
                            "1 while consumption is paused because PostgreSQL is unreachable.",
                            {"pipeline", "stream"})),
      skipped(registry.counter("ctd_ingest_skipped_offsets_total",
                               "Offsets that the broker no longer held when ctd reached them "
                               "(retention): records lost before ctd could read them.",
                               {"pipeline", "stream"})) {}

struct StreamIngestor::Impl {
  Impl(StreamIngestor& owner, const config::Options& options,
       const config::PipelineOptions& pipeline, std::unique_ptr<IngestStore> store,
       IngestMetrics& metrics);

  // Lifecycle.
  void create_consumer();
  void loop(const std::atomic<bool>& stop);
  void shutdown();
  void close_consumer();

  // Rebalance and positions.
  static void rebalance_callback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void on_assign(rd_kafka_topic_partition_list_t* partitions);
  void on_revoke(rd_kafka_topic_partition_list_t* partitions);
  bool load_stored_offsets();
  void reload_offsets_later();
  bool seek_ready_partitions();
  void set_paused(bool paused);

  // Records and batches.
  void on_message(const rd_kafka_message_t* message);
  bool batch_due() const;
  void submit_open_batch();
  void abandon_open_batch();
  void wait_for_writer(const std::atomic<bool>& stop);
  void drain_writer();
  void handle_report(const WriteReport& report);
  void after_commit(const WriteReport& report);
  void update_lag();

  StreamIngestor& owner;
  const config::Options& options;
  const config::PipelineOptions& pipeline;
  std::unique_ptr<IngestStore> store;
  BatchWriter writer;
  RecordDecoder decoder;
  std::vector<BatchSubscriber*> subscribers;

  rd_kafka_t* consumer = nullptr;
  rd_kafka_queue_t* queue = nullptr;  // the consumer queue (messages and rebalance events)
  std::vector<rd_kafka_message_t*> messages = std::vector<rd_kafka_message_t*>(kConsumeBatch);
  std::map<std::int32_t, PartitionState> partitions;
  bool offsets_pending = false;  // some assigned partitions wait for their stored offsets
  bool paused = false;
  bool reposition = false;     // a gap that is not retention: seek back before going on
  int permanent_failures = 0;  // consecutive writes failed by a non-transient error
  std::string fatal_error;     // set when ingestion must stop; run() throws it

  PendingBatch open;     // being filled by the consumer
  PendingBatch written;  // the writer's last batch, returned for subscribers and reuse
  std::size_t batch_bytes = 0;
  Clock::time_point batch_started;
  Clock::time_point next_lag_update;
  Clock::time_point next_offset_retry;
  std::chrono::milliseconds offset_retry_delay{0};

  metrics::Counter& ingested;
  metrics::Counter& batches;
  metrics::Counter& write_failures;
  metrics::Histogram& batch_seconds;
  metrics::Gauge& paused_gauge;
  metrics::Counter& skipped;
  IngestMetrics& metric_families;
  std::vector<metrics::Counter*> quarantined_by_reason;
};

StreamIngestor::Impl::Impl(StreamIngestor& o, const config::Options& opts,
                           const config::PipelineOptions& p, std::unique_ptr<IngestStore> s,
                           IngestMetrics& m)
    : owner(o),
      options(opts),
      pipeline(p),
      store(std::move(s)),
      writer(*store, opts.ingest.retry_initial, opts.ingest.retry_max),
      decoder(p, o.stream_, opts.ingest.max_message_bytes),
      ingested(m.ingested.with({p.name, std::string(stream_name(o.stream_))})),
      batches(m.batches.with({p.name, std::string(stream_name(o.stream_))})),
      write_failures(m.write_failures.with({p.name, std::string(stream_name(o.stream_))})),
      batch_seconds(m.batch_seconds.with({p.name, std::string(stream_name(o.stream_))})),
      paused_gauge(m.paused.with({p.name, std::string(stream_name(o.stream_))})),
      skipped(m.skipped.with({p.name, std::string(stream_name(o.stream_))})),
      metric_families(m) {
  decoder.prepare(open.records);
  decoder.prepare(written.records);
  for (int r = 0; r < kRejectReasonCount; ++r) {
    quarantined_by_reason.push_back(
        &m.quarantined.with({p.name, std::string(stream_name(o.stream_)),
                             std::string(reason_code(static_cast<RejectReason>(r)))}));
  }
}

void StreamIngestor::Impl::create_consumer() {
  const std::string group = options.kafka.group_id + "." + owner.topic_;
  rd_kafka_conf_t* conf = kafka::make_ingest_consumer_config(options.kafka, group);
  rd_kafka_conf_set_rebalance_cb(conf, &Impl::rebalance_callback);
  rd_kafka_conf_set_opaque(conf, this);
  char error[512];
  consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!consumer) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("cannot create Kafka consumer: ") + error);
  }
  rd_kafka_poll_set_consumer(consumer);
  queue = rd_kafka_queue_get_consumer(consumer);
  PartitionList topics(1);
  rd_kafka_topic_partition_list_add(topics.list, owner.topic_.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, topics.list)) {
    throw std::runtime_error("cannot subscribe to " + owner.topic_ + ": " + rd_kafka_err2str(err));
  }
}

void StreamIngestor::Impl::rebalance_callback(rd_kafka_t*, rd_kafka_resp_err_t err,
                                              rd_kafka_topic_partition_list_t* partitions,
                                              void* opaque) {
  Impl* self = static_cast<Impl*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->on_assign(partitions);
  } else {
    self->on_revoke(partitions);
  }
}

bool StreamIngestor::Impl::load_stored_offsets() {
  // REQUIRES: the writer is idle (the store has one connection).
  std::map<std::int32_t, std::int64_t> stored;
  try {
    stored = store->load_offsets();
  } catch (const pg::PgError& e) {
    spdlog::warn("{} {}: cannot read stored offsets, partitions stay paused: {}", pipeline.name,
                 owner.topic_, e.what());
    return false;
  }
  for (auto& [partition, state] : partitions) {
    if (state.ready) continue;
    auto it = stored.find(partition);
    state.stored = state.handed = state.next = it == stored.end() ? -1 : it->second;
    state.ready = true;
  }
  return true;
}

// After an offset conflict or an abandoned write: forget every position and re-read the
// stored offsets (then seek) before consuming again.
void StreamIngestor::Impl::reload_offsets_later() {
  abandon_open_batch();
  for (auto& [partition, state] : partitions) state.ready = false;
  offsets_pending = true;
  offset_retry_delay = options.ingest.retry_initial;
  next_offset_retry = Clock::now();
  set_paused(true);
}

void StreamIngestor::Impl::on_assign(rd_kafka_topic_partition_list_t* assigned) {
  if (writer.busy()) {  // cooperative: a write for the partitions kept; it gets one attempt
    writer.abandon();
    drain_writer();
  }
  for (int i = 0; i < assigned->cnt; ++i) {
    PartitionState& state = partitions[assigned->elems[i].partition];
    state = PartitionState{};
    state.lag =
        &metric_families.lag.with({pipeline.name, std::string(stream_name(owner.stream_)),
                                   owner.topic_, std::to_string(assigned->elems[i].partition)});
  }
  const bool loaded = load_stored_offsets();
  for (int i = 0; i < assigned->cnt; ++i) {
    const PartitionState& state = partitions[assigned->elems[i].partition];
    assigned->elems[i].offset = state.next >= 0 ? state.next : RD_KAFKA_OFFSET_BEGINNING;
  }
  if (cooperative(consumer)) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer, assigned)) {
      spdlog::error("incremental assign failed: {}", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  } else if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer, assigned)) {
    spdlog::error("assign failed: {}", rd_kafka_err2str(err));
  }
  // librdkafka keeps an application pause across unassign and reassign: clear it, then pause
  // the new partitions again if the rest are paused or their offsets are not known yet.
  rd_kafka_resume_partitions(consumer, assigned);
  if (!loaded) {
    offsets_pending = true;
    offset_retry_delay = options.ingest.retry_initial;
    next_offset_retry = Clock::now() + offset_retry_delay;
  }
  if (paused || !loaded) {
    rd_kafka_pause_partitions(consumer, assigned);
    paused = true;
    paused_gauge.set(1);
  }
  owner.assigned_ = true;
  spdlog::info("{} {}: assigned {} partition(s){}", pipeline.name, owner.topic_, assigned->cnt,
               loaded ? "" : " (waiting for PostgreSQL)");
}

void StreamIngestor::Impl::on_revoke(rd_kafka_topic_partition_list_t* revoked) {
  // A write in flight either commits or not; then the open batch is dropped: whoever gets
  // these partitions next re-reads its records from the offsets stored in PostgreSQL.
  writer.abandon();
  drain_writer();
  abandon_open_batch();
  rd_kafka_resume_partitions(consumer, revoked);  // no pause may outlive the assignment
  for (int i = 0; i < revoked->cnt; ++i) {
    auto it = partitions.find(revoked->elems[i].partition);
    if (it == partitions.end()) continue;
    if (it->second.lag) it->second.lag->set(0);
    partitions.erase(it);
  }
  if (cooperative(consumer)) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer, revoked)) {
      spdlog::error("incremental unassign failed: {}", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
    // The partitions kept must not skip the dropped records.
    if (!partitions.empty()) reload_offsets_later();
  } else {
    rd_kafka_assign(consumer, nullptr);
    partitions.clear();
    paused = false;
    paused_gauge.set(0);
  }
}

void StreamIngestor::Impl::set_paused(bool pause) {
  if (pause == paused) return;
  PartitionList list(static_cast<int>(partitions.size()));
  for (const auto& [partition, state] : partitions) {
    rd_kafka_topic_partition_list_add(list.list, owner.topic_.c_str(), partition);
  }
  if (pause) {
    rd_kafka_pause_partitions(consumer, list.list);
  } else {
    rd_kafka_resume_partitions(consumer, list.list);
  }
  paused = pause;
  paused_gauge.set(pause ? 1 : 0);
}

bool StreamIngestor::Impl::seek_ready_partitions() {
  PartitionList list(static_cast<int>(partitions.size()));
  for (const auto& [partition, state] : partitions) {
    rd_kafka_topic_partition_t* p =
        rd_kafka_topic_partition_list_add(list.list, owner.topic_.c_str(), partition);
    p->offset = state.next >= 0 ? state.next : RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer, list.list, 5000)) {
    spdlog::warn("{} {}: seek failed: {}", pipeline.name, owner.topic_,
                 rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return false;
  }
  for (int i = 0; i < list.list->cnt; ++i) {
    if (list.list->elems[i].err) {
      spdlog::warn("{} {} [{}]: seek failed: {}", pipeline.name, owner.topic_,
                   list.list->elems[i].partition, rd_kafka_err2str(list.list->elems[i].err));
      return false;
    }
  }
  reposition = false;
  for (auto& [partition, state] : partitions) state.awaiting_seek = false;
  return true;
}

void StreamIngestor::Impl::on_message(const rd_kafka_message_t* message) {
  if (message->err) {
    if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("{} {}: consumer error: {}", pipeline.name, owner.topic_,
                   rd_kafka_message_errstr(message));
    }
    return;
  }
  auto it = partitions.find(message->partition);
  if (it == partitions.end() || !it->second.ready || paused) return;  // re-read after seek
  PartitionState& state = it->second;
  if (state.awaiting_seek) return;                              // re-read after the seek
  if (state.next >= 0 && message->offset < state.next) return;  // already taken
  if (state.next >= 0 && message->offset > state.next) {
    // A gap is accepted only when the broker no longer has the missing offsets (retention),
    // or when re-reading from state.next led to the same gap again; anything else is a
    // positioning error, and the partition is sought back.
    std::int64_t low = -1, high = -1;
    rd_kafka_get_watermark_offsets(consumer, owner.topic_.c_str(), message->partition, &low, &high);
    if (low <= state.next && state.gap_seen != message->offset) {
      state.gap_seen = message->offset;
      state.awaiting_seek = true;
      reposition = true;
      return;
    }
    spdlog::warn("{} {} [{}]: offsets {}..{} are gone from the broker (retention); skipping",
                 pipeline.name, owner.topic_, message->partition, state.next, message->offset - 1);
    skipped.inc(static_cast<double>(message->offset - state.next));
  }
  if (open.empty()) batch_started = Clock::now();
  const RecordKey key{message->partition, message->offset};
  const std::string_view payload(static_cast<const char*>(message->payload), message->len);
  if (auto rejection = decoder.decode(payload, key, open.records)) {
    const std::size_t kept = std::min(payload.size(), options.ingest.quarantine_raw_max_bytes);
    open.quarantined.push_back(
        QuarantinedRecord{key, rejection->reason, std::move(rejection->detail),
                          std::string(payload.substr(0, kept)), payload.size()});
  }
  if (state.batch_first < 0) state.batch_first = message->offset;
  state.batch_last = message->offset;
  state.next = message->offset + 1;
  batch_bytes += payload.size();
}

bool StreamIngestor::Impl::batch_due() const {
  const std::size_t records = open.size();
  if (records == 0) return false;
  return records >= static_cast<std::size_t>(options.ingest.batch_max_records) ||
         batch_bytes >= kMaxBatchBytes ||
         Clock::now() - batch_started >= options.ingest.batch_max_wait;
}

void StreamIngestor::Impl::abandon_open_batch() {
  open.clear();
  batch_bytes = 0;
  for (auto& [partition, state] : partitions) {
    if (state.batch_first >= 0) state.next = state.batch_first;
    state.batch_first = state.batch_last = -1;
  }
}

void StreamIngestor::Impl::submit_open_batch() {
  for (auto& [partition, state] : partitions) {
    if (state.batch_first < 0) continue;
    open.advances.push_back({partition, state.handed, state.batch_last + 1});
    state.handed = state.batch_last + 1;
    state.batch_first = state.batch_last = -1;
  }
  batch_bytes = 0;
  writer.submit(open);
  decoder.prepare(open.records);  // the spare buffers it got back may be blank
}

// Blocks until the writer is idle. While its write keeps failing, the partitions are paused
// and the consumer only serves rebalance callbacks; on success they resume where the batches
// handed over end.
void StreamIngestor::Impl::wait_for_writer(const std::atomic<bool>& stop) {
  while (writer.busy()) {
    if (auto report = writer.wait(paused ? std::chrono::milliseconds(0) : kWriterPoll, written)) {
      handle_report(*report);
      return;
    }
    if (stop) writer.abandon();
    if (writer.failing() > 0 && !paused) {
      spdlog::warn("{} {}: cannot write to PostgreSQL, pausing consumption and retrying",
                   pipeline.name, owner.topic_);
      set_paused(true);
    }
    if (paused) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, kPollTimeoutMs)) {
        rd_kafka_message_destroy(m);  // paused: re-read after the seek on resume
      }
    }
  }
}

void StreamIngestor::Impl::drain_writer() {
  while (writer.busy()) {
    if (auto report = writer.wait(std::chrono::milliseconds(1000), written)) {
      handle_report(*report);
    }
  }
}

void StreamIngestor::Impl::handle_report(const WriteReport& report) {
  write_failures.inc(report.failed_attempts);
  switch (report.outcome) {
    case WriteReport::Outcome::kCommitted:
      if (report.failed_attempts > 0) {
        spdlog::info("{} {}: batch written after {} failed attempt(s) (last: {})", pipeline.name,
                     owner.topic_, report.failed_attempts, report.last_error);
      }
      permanent_failures = 0;
      after_commit(report);
      break;
    case WriteReport::Outcome::kOffsetConflict:
      spdlog::warn(
          "{} {}: stored offsets moved under this consumer (another replica owns the "
          "partitions now); dropping the batch and re-reading from PostgreSQL",
          pipeline.name, owner.topic_);
      reload_offsets_later();
      break;
    case WriteReport::Outcome::kFailed:
      spdlog::error("{} {}: batch write failed with a permanent error: {}", pipeline.name,
                    owner.topic_, report.last_error);
      if (++permanent_failures >= kMaxPermanentFailures) {
        fatal_error = "writes keep failing: " + report.last_error;
      }
      reload_offsets_later();
      break;
    case WriteReport::Outcome::kAbandoned:
      spdlog::warn("{} {}: batch not written ({}); it will be re-read", pipeline.name, owner.topic_,
                   report.last_error);
      reload_offsets_later();
      break;
  }
  written.clear();
}

void StreamIngestor::Impl::after_commit(const WriteReport& report) {
  PartitionList committed(static_cast<int>(written.advances.size()));
  for (const PartitionAdvance& advance : written.advances) {
    auto it = partitions.find(advance.partition);
    if (it != partitions.end()) it->second.stored = advance.new_next_offset;
    rd_kafka_topic_partition_list_add(committed.list, owner.topic_.c_str(), advance.partition)
        ->offset = advance.new_next_offset;
  }
  // Advisory only, for Kafka tooling (lag dashboards): PostgreSQL holds the truth.
  if (committed.list->cnt > 0) rd_kafka_commit(consumer, committed.list, 1);
  ingested.inc(static_cast<double>(written.records.size()));
  for (const QuarantinedRecord& q : written.quarantined) {
    quarantined_by_reason[static_cast<int>(q.reason)]->inc();
  }
  batches.inc();
  batch_seconds.observe(report.seconds);
  const CommittedBatch done{pipeline.name, owner.stream_, report.first_seq, written.records,
                            written.quarantined.size()};
  for (BatchSubscriber* subscriber : subscribers) subscriber->on_committed(done);
}

void StreamIngestor::Impl::update_lag() {
  const auto now = Clock::now();
  if (now < next_lag_update) return;
  next_lag_update = now + kLagInterval;
  for (auto& [partition, state] : partitions) {
    std::int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer, owner.topic_.c_str(), partition, &low, &high) ||
        high < 0 || !state.lag) {
      continue;
    }
    const std::int64_t position = state.stored >= 0 ? state.stored : low;
    state.lag->set(static_cast<double>(std::max<std::int64_t>(0, high - position)));
  }
}

void StreamIngestor::Impl::loop(const std::atomic<bool>& stop) {
  while (!stop) {
    if (offsets_pending && !writer.busy() && Clock::now() >= next_offset_retry) {
      if (load_stored_offsets() && seek_ready_partitions()) {
        offsets_pending = false;
        set_paused(false);
      } else {
        offset_retry_delay = std::min(offset_retry_delay * 2, options.ingest.retry_max);
        next_offset_retry = Clock::now() + offset_retry_delay;
      }
    }
    // Stops at the batch limit so a batch never outgrows batch_max_records.
    const std::size_t room =
        static_cast<std::size_t>(options.ingest.batch_max_records) -
        std::min<std::size_t>(open.size(), options.ingest.batch_max_records - 1);
    const ssize_t count = rd_kafka_consume_batch_queue(queue, kPollTimeoutMs, messages.data(),
                                                       std::min(room, kConsumeBatch));
    for (ssize_t i = 0; i < count; ++i) {
      on_message(messages[i]);
      rd_kafka_message_destroy(messages[i]);
    }
    if (writer.busy()) {
      if (auto report = writer.wait(std::chrono::milliseconds(0), written)) handle_report(*report);
    }
    if (batch_due()) {
      wait_for_writer(stop);
      if (!open.empty() && !offsets_pending) submit_open_batch();
    }
    if (!fatal_error.empty()) throw std::runtime_error(fatal_error);
    if (reposition && !offsets_pending && !seek_ready_partitions()) reload_offsets_later();
    if (paused && !offsets_pending && !writer.busy()) {
      if (seek_ready_partitions()) {
        set_paused(false);
        spdlog::info("{} {}: PostgreSQL reachable again, consumption resumed", pipeline.name,
                     owner.topic_);
      } else {
        reload_offsets_later();
      }
    }
    update_lag();
  }
}

void StreamIngestor::Impl::shutdown() {
  // The write in flight and then the open batch get one attempt each; what is not written is
  // re-read from the stored offsets next time.
  writer.abandon();
  drain_writer();
  if (!open.empty() && !offsets_pending) {
    submit_open_batch();
    writer.abandon();
    drain_writer();
  }
  close_consumer();
}

// Leaves the group (serving the revoke callback) within kCloseDeadline; a broker that does not
// answer would otherwise hold shutdown for up to the session timeout. Nothing depends on the
// group leave: the stored offsets are in PostgreSQL.
void StreamIngestor::Impl::close_consumer() {
  const auto deadline = Clock::now() + kCloseDeadline;
  bool closed = false;
  if (rd_kafka_error_t* error = rd_kafka_consumer_close_queue(consumer, queue)) {
    spdlog::warn("{} {}: consumer close failed: {}", pipeline.name, owner.topic_,
                 rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else {
    while (!(closed = rd_kafka_consumer_closed(consumer)) && Clock::now() < deadline) {
      if (rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kPollTimeoutMs)) {
        if (rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE) {
          rebalance_callback(consumer, rd_kafka_event_error(event),
                             rd_kafka_event_topic_partition_list(event), this);
        }
        rd_kafka_event_destroy(event);
      }
    }
  }
  if (!closed) {
    spdlog::warn(
        "{} {}: the group did not confirm the leave within {} s (broker gone?); "
        "closing anyway",
        pipeline.name, owner.topic_, kCloseDeadline.count());
  }
  rd_kafka_queue_destroy(queue);
  queue = nullptr;
  rd_kafka_destroy_flags(consumer, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  consumer = nullptr;
}

StreamIngestor::StreamIngestor(const config::Options& options,
                               const config::PipelineOptions& pipeline, Stream stream,
                               std::string topic, std::unique_ptr<IngestStore> store,
                               IngestMetrics& metrics)
    : topic_(std::move(topic)), stream_(stream) {
  impl_ = std::make_unique<Impl>(*this, options, pipeline, std::move(store), metrics);
}

StreamIngestor::~StreamIngestor() {
  if (impl_->queue) rd_kafka_queue_destroy(impl_->queue);
  if (impl_->consumer) rd_kafka_destroy(impl_->consumer);
}

void StreamIngestor::subscribe(BatchSubscriber* subscriber) {
  impl_->subscribers.push_back(subscriber);
}

const std::string& StreamIngestor::pipeline() const { return impl_->pipeline.name; }

void StreamIngestor::run(const std::atomic<bool>& stop) {
  impl_->create_consumer();
  impl_->loop(stop);
  impl_->shutdown();
}

}  // namespace ctd::ingest

#include "daemon/stream_ingestor.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>

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

// Per assigned partition.
struct PartitionState {
  bool ready = false;             // its stored offset is known and the consumer seeks to it
  std::int64_t stored = -1;       // next offset stored in PostgreSQL (-1: none yet)
  std::int64_t next = -1;         // next offset expected from Kafka (-1: from the start)
  std::int64_t batch_first = -1;  // first offset of this partition in the open batch
  std::int64_t batch_last = -1;
  metrics::Gauge* lag = nullptr;
};

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

  // Rebalance.
  static void rebalance_callback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void on_assign(rd_kafka_topic_partition_list_t* partitions);
  void on_revoke(rd_kafka_topic_partition_list_t* partitions);
  bool load_stored_offsets();
  void seek_ready_partitions();
  void set_paused(bool paused);

  // Records and batches.
  void on_message(const rd_kafka_message_t* message);
  bool batch_due() const;
  void flush(const std::atomic<bool>& stop, bool single_attempt);
  bool try_write();
  void abandon_batch();
  void after_commit(std::int64_t first_seq);
  void wait_backoff(const std::atomic<bool>& stop, std::chrono::milliseconds delay);
  void update_lag();

  StreamIngestor& owner;
  const config::Options& options;
  const config::PipelineOptions& pipeline;
  std::unique_ptr<IngestStore> store;
  RecordDecoder decoder;
  std::vector<BatchSubscriber*> subscribers;

  rd_kafka_t* consumer = nullptr;
  std::map<std::int32_t, PartitionState> partitions;
  bool offsets_pending = false;  // some assigned partitions wait for their stored offsets
  bool paused = false;

  DecodedBatch batch;
  std::vector<QuarantinedRecord> quarantined;
  std::size_t batch_bytes = 0;
  Clock::time_point batch_started;
  Clock::time_point next_lag_update;

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
      decoder(p, o.stream_, opts.ingest.max_message_bytes),
      ingested(m.ingested.with({p.name, std::string(stream_name(o.stream_))})),
      batches(m.batches.with({p.name, std::string(stream_name(o.stream_))})),
      write_failures(m.write_failures.with({p.name, std::string(stream_name(o.stream_))})),
      batch_seconds(m.batch_seconds.with({p.name, std::string(stream_name(o.stream_))})),
      paused_gauge(m.paused.with({p.name, std::string(stream_name(o.stream_))})),
      skipped(m.skipped.with({p.name, std::string(stream_name(o.stream_))})),
      metric_families(m) {
  decoder.prepare(batch);
  for (int r = 0; r < kRejectReasonCount; ++r) {
    quarantined_by_reason.push_back(
        &m.quarantined.with({p.name, std::string(stream_name(o.stream_)),
                             std::string(reason_code(static_cast<RejectReason>(r)))}));
  }
}

void StreamIngestor::Impl::create_consumer() {
  const std::string group = options.kafka.group_id + "." + owner.topic_;
  rd_kafka_conf_t* conf = kafka::make_client_config(
      options.kafka, {{"auto.offset.reset", "earliest"}, {"queued.max.messages.kbytes", "32768"}},
      {{"group.id", group},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"}});
  rd_kafka_conf_set_rebalance_cb(conf, &Impl::rebalance_callback);
  rd_kafka_conf_set_opaque(conf, this);
  char error[512];
  consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!consumer) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("cannot create Kafka consumer: ") + error);
  }
  rd_kafka_poll_set_consumer(consumer);
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
  std::map<std::int32_t, std::int64_t> stored;
  try {
    stored = store->load_offsets();
  } catch (const pg::PgError& e) {
    spdlog::warn("{} {}: cannot read stored offsets, partitions stay paused: {}", pipeline.name,
                 owner.topic_, e.what());
    return false;
  }
  for (auto& [partition, state] : partitions) {
    auto it = stored.find(partition);
    state.stored = it == stored.end() ? -1 : it->second;
    state.next = state.stored;
    state.ready = true;
  }
  return true;
}

void StreamIngestor::Impl::on_assign(rd_kafka_topic_partition_list_t* assigned) {
  abandon_batch();
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
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(consumer)) == "COOPERATIVE";
  if (cooperative) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer, assigned)) {
      spdlog::error("incremental assign failed: {}", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  } else {
    rd_kafka_assign(consumer, assigned);
  }
  offsets_pending = !loaded;
  if (!loaded) set_paused(true);
  owner.assigned_ = true;
  spdlog::info("{} {}: assigned {} partition(s){}", pipeline.name, owner.topic_, assigned->cnt,
               loaded ? "" : " (waiting for PostgreSQL)");
}

void StreamIngestor::Impl::on_revoke(rd_kafka_topic_partition_list_t* revoked) {
  // The open batch is not durable: whoever gets these partitions next re-reads its records
  // from the offsets stored in PostgreSQL.
  abandon_batch();
  for (int i = 0; i < revoked->cnt; ++i) {
    auto it = partitions.find(revoked->elems[i].partition);
    if (it == partitions.end()) continue;
    if (it->second.lag) it->second.lag->set(0);
    partitions.erase(it);
  }
  if (std::string_view(rd_kafka_rebalance_protocol(consumer)) == "COOPERATIVE") {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer, revoked)) {
      rd_kafka_error_destroy(error);
    }
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

void StreamIngestor::Impl::seek_ready_partitions() {
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
  }
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
  if (state.next >= 0 && message->offset < state.next) return;  // already stored
  if (state.next >= 0 && message->offset > state.next) {
    spdlog::warn("{} {} [{}]: offsets {}..{} are gone from the broker (retention); skipping",
                 pipeline.name, owner.topic_, message->partition, state.next, message->offset - 1);
    skipped.inc(static_cast<double>(message->offset - state.next));
  }
  if (batch.size() == 0 && quarantined.empty()) batch_started = Clock::now();
  const RecordKey key{message->partition, message->offset};
  const std::string_view payload(static_cast<const char*>(message->payload), message->len);
  if (auto rejection = decoder.decode(payload, key, batch)) {
    const std::size_t kept = std::min(payload.size(), options.ingest.quarantine_raw_max_bytes);
    quarantined.push_back(QuarantinedRecord{key, rejection->reason, std::move(rejection->detail),
                                            std::string(payload.substr(0, kept)), payload.size()});
  }
  if (state.batch_first < 0) state.batch_first = message->offset;
  state.batch_last = message->offset;
  state.next = message->offset + 1;
  batch_bytes += payload.size();
}

bool StreamIngestor::Impl::batch_due() const {
  const std::size_t records = batch.size() + quarantined.size();
  if (records == 0) return false;
  return records >= static_cast<std::size_t>(options.ingest.batch_max_records) ||
         batch_bytes >= kMaxBatchBytes ||
         Clock::now() - batch_started >= options.ingest.batch_max_wait;
}

void StreamIngestor::Impl::abandon_batch() {
  batch.clear();
  quarantined.clear();
  batch_bytes = 0;
  for (auto& [partition, state] : partitions) {
    if (state.batch_first >= 0) state.next = state.batch_first;
    state.batch_first = state.batch_last = -1;
  }
}

bool StreamIngestor::Impl::try_write() {
  std::vector<PartitionAdvance> advances;
  for (const auto& [partition, state] : partitions) {
    if (state.batch_first >= 0) {
      advances.push_back({partition, state.stored, state.batch_last + 1});
    }
  }
  const auto started = Clock::now();
  const WriteResult result = store->write(batch, quarantined, advances);
  if (result.status == WriteResult::Status::kOffsetConflict) {
    spdlog::warn(
        "{} {}: stored offsets moved under this consumer (another replica owns the "
        "partitions now); dropping the batch and re-reading from PostgreSQL",
        pipeline.name, owner.topic_);
    abandon_batch();
    offsets_pending = true;
    set_paused(true);
    return true;
  }
  batch_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
  after_commit(result.first_seq);
  return true;
}

void StreamIngestor::Impl::after_commit(std::int64_t first_seq) {
  PartitionList committed(static_cast<int>(partitions.size()));
  for (auto& [partition, state] : partitions) {
    if (state.batch_first < 0) continue;
    state.stored = state.batch_last + 1;
    state.batch_first = state.batch_last = -1;
    rd_kafka_topic_partition_list_add(committed.list, owner.topic_.c_str(), partition)->offset =
        state.stored;
  }
  // Advisory only, for Kafka tooling (lag dashboards): PostgreSQL holds the truth.
  if (committed.list->cnt > 0) rd_kafka_commit(consumer, committed.list, 1);
  ingested.inc(static_cast<double>(batch.size()));
  for (const QuarantinedRecord& q : quarantined) {
    quarantined_by_reason[static_cast<int>(q.reason)]->inc();
  }
  batches.inc();
  const CommittedBatch done{pipeline.name, owner.stream_, first_seq, batch, quarantined.size()};
  for (BatchSubscriber* subscriber : subscribers) subscriber->on_committed(done);
  batch.clear();
  quarantined.clear();
  batch_bytes = 0;
}

void StreamIngestor::Impl::wait_backoff(const std::atomic<bool>& stop,
                                        std::chrono::milliseconds delay) {
  const auto until = Clock::now() + delay;
  while (!stop && Clock::now() < until) {
    // Serves rebalance callbacks; partitions are paused, and anything already fetched is
    // ignored and re-read after the seek on resume.
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, kPollTimeoutMs)) {
      rd_kafka_message_destroy(m);
    }
  }
}

void StreamIngestor::Impl::flush(const std::atomic<bool>& stop, bool single_attempt) {
  auto delay = options.ingest.retry_initial;
  while (batch.size() + quarantined.size() > 0) {
    try {
      try_write();
      if (paused && !offsets_pending) {
        seek_ready_partitions();
        set_paused(false);
        spdlog::info("{} {}: PostgreSQL reachable again, consumption resumed", pipeline.name,
                     owner.topic_);
      }
      return;
    } catch (const pg::PgError& e) {
      write_failures.inc();
      if (single_attempt || stop) {
        spdlog::warn("{} {}: open batch not written ({}); it will be re-read", pipeline.name,
                     owner.topic_, e.what());
        abandon_batch();
        return;
      }
      spdlog::warn("{} {}: batch write failed, retrying in {} ms: {}", pipeline.name, owner.topic_,
                   delay.count(), e.what());
      set_paused(true);
      wait_backoff(stop, delay);
      delay = std::min(delay * 2, options.ingest.retry_max);
    }
  }
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
  auto delay = options.ingest.retry_initial;
  while (!stop) {
    if (offsets_pending) {
      if (load_stored_offsets()) {
        offsets_pending = false;
        delay = options.ingest.retry_initial;
        seek_ready_partitions();
        set_paused(false);
      } else {
        wait_backoff(stop, delay);
        delay = std::min(delay * 2, options.ingest.retry_max);
        continue;
      }
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, kPollTimeoutMs);
    if (message) {
      on_message(message);
      rd_kafka_message_destroy(message);
    }
    if (batch_due()) flush(stop, false);
    update_lag();
  }
}

void StreamIngestor::Impl::shutdown() {
  static const std::atomic<bool> kNoStop{false};
  flush(kNoStop, true);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
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

#include "daemon/ingest_store.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "daemon/copy_encoder.h"
#include "daemon/pg.h"
#include "daemon/record_decoder.h"
#include "daemon/sha256.h"

namespace ctd::ingest {
namespace {

constexpr const char* kAdvanceOffsets = R"sql(
WITH input AS (
  SELECT * FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS t(part, expected, next)),
updated AS (
  UPDATE consumer_offsets o SET next_offset = i.next, updated_at = now()
  FROM input i
  WHERE o.topic_id = $1 AND o.kafka_partition = i.part AND i.expected >= 0
    AND o.next_offset = i.expected
  RETURNING 1),
inserted AS (
  INSERT INTO consumer_offsets (topic_id, kafka_partition, next_offset)
  SELECT $1, part, next FROM input WHERE expected < 0
  ON CONFLICT DO NOTHING
  RETURNING 1)
SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted))sql";

constexpr const char* kCopySamples =
    "COPY samples (pipeline_id, seq, schema_id, topic_id, kafka_partition, kafka_offset, "
    "sample_id, event_time, label, weight, numeric, categorical) FROM STDIN WITH (FORMAT binary)";
constexpr const char* kCopyInferences =
    "COPY inferences (pipeline_id, seq, schema_id, topic_id, kafka_partition, kafka_offset, "
    "sample_id, event_time, model_version, prediction, numeric, categorical) "
    "FROM STDIN WITH (FORMAT binary)";
constexpr const char* kCopyMetrics =
    "COPY metric_points (pipeline_id, seq, topic_id, kafka_partition, kafka_offset, model, "
    "model_version, metric, value, sample_count, event_time) FROM STDIN WITH (FORMAT binary)";
constexpr const char* kCopyQuarantine =
    "COPY quarantine (pipeline_id, stream, topic_id, kafka_partition, kafka_offset, reason, "
    "detail, raw, raw_size) FROM STDIN WITH (FORMAT binary)";

std::string schema_definition(const config::PipelineOptions& pipeline) {
  const FeatureLayout layout(pipeline);
  nlohmann::json numeric = nlohmann::json::array();
  for (const config::FeatureSpec* f : layout.numeric) {
    nlohmann::json entry = {{"name", f->name}, {"required", f->required}};
    if (f->min) entry["min"] = *f->min;
    if (f->max) entry["max"] = *f->max;
    numeric.push_back(entry);
  }
  nlohmann::json categorical = nlohmann::json::array();
  for (const config::FeatureSpec* f : layout.categorical) {
    categorical.push_back(
        {{"name", f->name}, {"required", f->required}, {"allowed_values", f->allowed_values}});
  }
  return nlohmann::json{{"numeric", numeric}, {"categorical", categorical}}.dump();
}

template <typename T>
std::string pg_array(const std::vector<PartitionAdvance>& advances, T PartitionAdvance::*field) {
  std::string out = "{";
  for (const PartitionAdvance& a : advances) {
    if (out.size() > 1) out += ',';
    out += std::to_string(a.*field);
  }
  return out + "}";
}

// Ids of one pipeline stream's rows in the catalog tables.
struct StreamIds {
  int pipeline_id = 0;
  int topic_id = 0;
  int schema_id = 0;  // 0 for metrics
};

}  // namespace

struct PgIngestStore::Impl {
  std::string dsn;
  const config::PipelineOptions& pipeline;
  Stream stream;
  std::string topic;
  std::unique_ptr<pg::PgConnection> connection;
  StreamIds ids;
  bool registered = false;
  pg::CopyEncoder encoder;

  pg::PgConnection& connect();
  void register_stream();
  void encode_records(const DecodedBatch& batch, std::int64_t first_seq);
  void encode_features(const DecodedBatch& batch, std::size_t row);
  void encode_quarantine(const std::vector<QuarantinedRecord>& records);
  bool advance_offsets(const std::vector<PartitionAdvance>& advances);
  std::int64_t reserve_sequence(std::size_t count);

  // Runs `action` on the connection, dropping the connection if the failure broke it.
  template <typename Action>
  auto guarded(Action action) {
    try {
      return action(connect());
    } catch (const pg::PgError& e) {
      if (e.connection_lost() || (connection && !connection->healthy())) connection.reset();
      throw;
    }
  }
};

pg::PgConnection& PgIngestStore::Impl::connect() {
  if (connection && connection->healthy()) return *connection;
  connection.reset();
  connection = std::make_unique<pg::PgConnection>(dsn);
  if (!registered) {
    try {
      register_stream();
    } catch (...) {
      connection.reset();  // the next call reconnects and registers again
      throw;
    }
  }
  return *connection;
}

void PgIngestStore::Impl::register_stream() {
  pg::PgConnection& c = *connection;
  ids.pipeline_id = static_cast<int>(
      c.exec("INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) DO UPDATE "
             "SET name = EXCLUDED.name RETURNING pipeline_id",
             {pipeline.name})
          .integer(0, 0));
  c.exec(
      "INSERT INTO stream_sequences (pipeline_id, stream) VALUES ($1, $2) "
      "ON CONFLICT DO NOTHING",
      {std::to_string(ids.pipeline_id), std::string(stream_name(stream))});
  ids.topic_id =
      static_cast<int>(c.exec("INSERT INTO topics (name) VALUES ($1) ON CONFLICT (name) DO UPDATE "
                              "SET name = EXCLUDED.name RETURNING topic_id",
                              {topic})
                           .integer(0, 0));
  if (stream != Stream::kMetrics) {
    const std::string definition = schema_definition(pipeline);
    ids.schema_id = static_cast<int>(
        c.exec("INSERT INTO feature_schemas (pipeline_id, fingerprint, definition) "
               "VALUES ($1, $2, $3::jsonb) ON CONFLICT (pipeline_id, fingerprint) DO UPDATE "
               "SET fingerprint = EXCLUDED.fingerprint RETURNING schema_id",
               {std::to_string(ids.pipeline_id), sha256_hex(definition), definition})
            .integer(0, 0));
  }
  registered = true;
}

bool PgIngestStore::Impl::advance_offsets(const std::vector<PartitionAdvance>& advances) {
  pg::PgResult result = connection->exec(
      kAdvanceOffsets,
      {std::to_string(ids.topic_id), pg_array(advances, &PartitionAdvance::partition),
       pg_array(advances, &PartitionAdvance::expected_next_offset),
       pg_array(advances, &PartitionAdvance::new_next_offset)});
  return result.integer(0, 0) == static_cast<long long>(advances.size());
}

std::int64_t PgIngestStore::Impl::reserve_sequence(std::size_t count) {
  const std::string n = std::to_string(count);
  return connection
      ->exec(
          "UPDATE stream_sequences SET next_seq = next_seq + $3::bigint "
          "WHERE pipeline_id = $1 AND stream = $2 RETURNING next_seq - $3::bigint",
          {std::to_string(ids.pipeline_id), std::string(stream_name(stream)), n})
      .integer(0, 0);
}

void PgIngestStore::Impl::encode_features(const DecodedBatch& batch, std::size_t row) {
  if (batch.numeric_width == 0) {
    encoder.null();
  } else {
    encoder.float8_array(&batch.numeric[row * batch.numeric_width], batch.numeric_width);
  }
  if (batch.categorical_width == 0) {
    encoder.null();
  } else {
    const std::size_t at = row * batch.categorical_width;
    encoder.text_array(&batch.categorical[at], &batch.categorical_set[at], batch.categorical_width);
  }
}

void PgIngestStore::Impl::encode_records(const DecodedBatch& batch, std::int64_t first_seq) {
  encoder.begin();
  for (std::size_t row = 0; row < batch.size(); ++row) {
    const bool metrics = stream == Stream::kMetrics;
    encoder.row(metrics ? 11 : 12);
    encoder.int4(ids.pipeline_id);
    encoder.int8(first_seq + static_cast<std::int64_t>(row));
    if (!metrics) encoder.int4(ids.schema_id);
    encoder.int4(ids.topic_id);
    encoder.int4(batch.keys[row].partition);
    encoder.int8(batch.keys[row].offset);
    if (metrics) {
      encoder.text(batch.metric_models[row]);
      encoder.int8(batch.metric_versions[row]);
      encoder.text(batch.metric_names[row]);
      encoder.float8(batch.metric_values[row]);
      batch.metric_counts[row] < 0 ? encoder.null() : encoder.int8(batch.metric_counts[row]);
      encoder.timestamp_ms(batch.event_time_ms[row]);
      continue;
    }
    batch.ids[row].empty() ? encoder.null() : encoder.text(batch.ids[row]);
    encoder.timestamp_ms(batch.event_time_ms[row]);
    if (stream == Stream::kLabels) {
      encoder.float8(batch.labels[row]);
      encoder.float8(batch.weights[row]);
    } else {
      batch.model_versions[row] < 0 ? encoder.null() : encoder.int8(batch.model_versions[row]);
      std::isnan(batch.predictions[row]) ? encoder.null() : encoder.float8(batch.predictions[row]);
    }
    encode_features(batch, row);
  }
  encoder.finish();
}

void PgIngestStore::Impl::encode_quarantine(const std::vector<QuarantinedRecord>& records) {
  encoder.begin();
  for (const QuarantinedRecord& r : records) {
    encoder.row(9);
    encoder.int4(ids.pipeline_id);
    encoder.text(stream_name(stream));
    encoder.int4(ids.topic_id);
    encoder.int4(r.key.partition);
    encoder.int8(r.key.offset);
    encoder.text(reason_code(r.reason));
    encoder.text(r.detail);
    encoder.text(r.raw);
    encoder.int4(static_cast<std::int32_t>(r.raw_size));
  }
  encoder.finish();
}

PgIngestStore::PgIngestStore(std::string dsn, const config::PipelineOptions& pipeline,
                             Stream stream, std::string topic)
    : impl_(new Impl{pg::with_liveness_checks(dsn, 10),
                     pipeline,
                     stream,
                     std::move(topic),
                     nullptr,
                     {},
                     false,
                     {}}) {}

PgIngestStore::~PgIngestStore() = default;

std::map<std::int32_t, std::int64_t> PgIngestStore::load_offsets() {
  return impl_->guarded([this](pg::PgConnection& c) {
    std::map<std::int32_t, std::int64_t> out;
    pg::PgResult rows =
        c.exec("SELECT kafka_partition, next_offset FROM consumer_offsets WHERE topic_id = $1",
               {std::to_string(impl_->ids.topic_id)});
    for (int row = 0; row < rows.rows(); ++row) {
      out[static_cast<std::int32_t>(rows.integer(row, 0))] = rows.integer(row, 1);
    }
    return out;
  });
}

WriteResult PgIngestStore::write(const DecodedBatch& batch,
                                 const std::vector<QuarantinedRecord>& quarantined,
                                 const std::vector<PartitionAdvance>& advances) {
  return impl_->guarded([&](pg::PgConnection& c) {
    pg::Transaction tx(c);
    WriteResult result;
    if (!advances.empty() && !impl_->advance_offsets(advances)) {
      result.status = WriteResult::Status::kOffsetConflict;
      return result;  // the transaction rolls back
    }
    if (batch.size() > 0) {
      result.first_seq = impl_->reserve_sequence(batch.size());
      impl_->encode_records(batch, result.first_seq);
      c.copy_in(impl_->stream == Stream::kLabels       ? kCopySamples
                : impl_->stream == Stream::kInferences ? kCopyInferences
                                                       : kCopyMetrics,
                impl_->encoder.data());
    }
    if (!quarantined.empty()) {
      impl_->encode_quarantine(quarantined);
      c.copy_in(kCopyQuarantine, impl_->encoder.data());
    }
    tx.commit();
    return result;
  });
}

}  // namespace ctd::ingest

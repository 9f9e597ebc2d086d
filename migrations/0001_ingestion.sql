-- Ingestion: pipelines, their streams' sequence counters, topics, feature schemas, the stored
-- samples, inferences and metric points, quarantined records and consumer offsets.
--
-- Exactly-once rests on two rules, both enforced in one transaction per batch:
--   1. consumer_offsets holds, per topic-partition, the offset of the next message to ingest;
--      a batch moves it with a compare-and-set from the value the batch started from;
--   2. every stored record (sample, inference, metric point or quarantined record) is unique
--      on (topic_id, kafka_partition, kafka_offset). Rule 1 alone gives exactly-once; this
--      index turns a bug in it into a failed batch instead of silent duplicates in training
--      data, for about a third of PostgreSQL's COPY time (300k rows: 0.88 s with it, 0.58 s
--      without) and about 15% of end-to-end throughput (docs/benchmarks.md).
-- Sequence numbers come from stream_sequences under a row lock held to commit, so sequence
-- order equals commit order: a sequence range, once committed, never gains rows.
--
-- The high-volume tables (samples, inferences, metric_points) carry no foreign keys: their
-- ids come from the catalog rows ctd registers itself, and a per-row foreign-key check
-- tripled PostgreSQL's cost of a binary COPY (measured: 300k rows in 2.86 s with the two
-- checks, 0.88 s without).

CREATE TABLE pipelines (
  pipeline_id  serial PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stream_sequences (
  pipeline_id  int NOT NULL REFERENCES pipelines,
  stream       text NOT NULL CHECK (stream IN ('labels', 'inferences', 'metrics')),
  next_seq     bigint NOT NULL DEFAULT 1,
  PRIMARY KEY (pipeline_id, stream)
);

CREATE TABLE topics (
  topic_id     serial PRIMARY KEY,
  name         text NOT NULL UNIQUE
);

-- The feature layout of the arrays in samples and inferences: features in storage order.
CREATE TABLE feature_schemas (
  schema_id    serial PRIMARY KEY,
  pipeline_id  int NOT NULL REFERENCES pipelines,
  fingerprint  text NOT NULL,
  definition   jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (pipeline_id, fingerprint)
);

-- Accepted labeled samples. numeric[i] and categorical[j] follow the order of the numeric and
-- categorical features in feature_schemas.definition; a missing optional feature is NULL.
-- sample_id is NULL when the message carried no "id": its id is then topic/partition/offset.
CREATE TABLE samples (
  pipeline_id      int NOT NULL,
  seq              bigint NOT NULL,
  schema_id        int NOT NULL,
  topic_id         int NOT NULL,
  kafka_partition  int NOT NULL,
  kafka_offset     bigint NOT NULL,
  sample_id        text,
  event_time       timestamptz NOT NULL,
  ingest_time      timestamptz NOT NULL DEFAULT now(),
  label            double precision NOT NULL,
  weight           double precision NOT NULL DEFAULT 1,
  numeric          double precision[],
  categorical      text[],
  PRIMARY KEY (pipeline_id, seq),
  UNIQUE (topic_id, kafka_partition, kafka_offset)
);

CREATE TABLE inferences (
  pipeline_id      int NOT NULL,
  seq              bigint NOT NULL,
  schema_id        int NOT NULL,
  topic_id         int NOT NULL,
  kafka_partition  int NOT NULL,
  kafka_offset     bigint NOT NULL,
  sample_id        text,
  event_time       timestamptz NOT NULL,
  ingest_time      timestamptz NOT NULL DEFAULT now(),
  model_version    bigint,
  prediction       double precision,
  numeric          double precision[],
  categorical      text[],
  PRIMARY KEY (pipeline_id, seq),
  UNIQUE (topic_id, kafka_partition, kafka_offset)
);

CREATE TABLE metric_points (
  pipeline_id      int NOT NULL,
  seq              bigint NOT NULL,
  topic_id         int NOT NULL,
  kafka_partition  int NOT NULL,
  kafka_offset     bigint NOT NULL,
  model            text NOT NULL,
  model_version    bigint NOT NULL,
  metric           text NOT NULL,
  value            double precision NOT NULL,
  sample_count     bigint,
  event_time       timestamptz NOT NULL,
  ingest_time      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, seq),
  UNIQUE (topic_id, kafka_partition, kafka_offset)
);

CREATE TABLE quarantine (
  quarantine_id    bigserial PRIMARY KEY,
  pipeline_id      int NOT NULL REFERENCES pipelines,
  stream           text NOT NULL,
  topic_id         int NOT NULL REFERENCES topics,
  kafka_partition  int NOT NULL,
  kafka_offset     bigint NOT NULL,
  reason           text NOT NULL,
  detail           text NOT NULL,
  raw              bytea NOT NULL,
  raw_size         int NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (topic_id, kafka_partition, kafka_offset)
);
CREATE INDEX quarantine_by_pipeline_reason ON quarantine (pipeline_id, reason);

CREATE TABLE consumer_offsets (
  topic_id         int NOT NULL REFERENCES topics,
  kafka_partition  int NOT NULL,
  next_offset      bigint NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic_id, kafka_partition)
);

-- Training: dataset snapshots and training runs.
--
-- A snapshot is an immutable selection of a pipeline's samples (sequence range, optional
-- event-time window) exported to a file, identified by the hash of its content. A training
-- run trains one model on one snapshot in a child process (ctd-train) and moves
-- queued -> running -> succeeded | failed | cancelled.
--
-- The daemon supervising a run holds a session advisory lock on it (key: 1668576370, run_id)
-- for as long as it watches the trainer. A run left queued or running whose lock is free has
-- lost its supervisor (the daemon died), and start-up marks it failed instead of leaving it
-- dangling; a run supervised by another live daemon keeps its lock and is left alone.

CREATE TABLE snapshots (
  snapshot_id        bigserial PRIMARY KEY,
  pipeline_id        int NOT NULL REFERENCES pipelines,
  seq_first          bigint NOT NULL,
  seq_last           bigint NOT NULL,
  event_time_from    timestamptz,
  event_time_to      timestamptz,
  row_count          bigint NOT NULL,
  content_sha256     text NOT NULL,
  schema             jsonb NOT NULL,  -- task, features, categorical vocabularies
  created_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (seq_first <= seq_last)
);
CREATE INDEX snapshots_by_pipeline ON snapshots (pipeline_id, snapshot_id DESC);

CREATE TABLE training_runs (
  run_id             bigserial PRIMARY KEY,
  pipeline_id        int NOT NULL REFERENCES pipelines,
  status             text NOT NULL
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  reason             text NOT NULL,   -- why it was started: "manual: ...", a trigger's reason
  requested_by       text NOT NULL,   -- "ctd", an API token name, "cli"
  spec               jsonb NOT NULL,  -- the run spec given to ctd-train
  snapshot_id        bigint REFERENCES snapshots,
  run_dir            text NOT NULL,
  supervisor         text NOT NULL,   -- host:pid of the daemon that watches it
  pid                int,             -- the trainer's process id while it runs
  progress           jsonb,           -- the last progress line ctd-train printed
  progress_lines     bigint NOT NULL DEFAULT 0,
  metrics            jsonb,           -- metrics.json of a succeeded run
  manifest           jsonb,           -- manifest.json of a succeeded run
  exit_code          int,
  signal             int,
  failure_reason     text,
  last_log           text,            -- the trainer's last log lines, for failed runs
  created_at         timestamptz NOT NULL DEFAULT now(),
  started_at         timestamptz,
  finished_at        timestamptz,
  CHECK ((status IN ('queued', 'running')) = (finished_at IS NULL))
);
CREATE INDEX training_runs_by_pipeline ON training_runs (pipeline_id, run_id DESC);
CREATE INDEX training_runs_unfinished ON training_runs (run_id) WHERE status IN ('queued', 'running');

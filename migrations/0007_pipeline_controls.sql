-- Operator controls of a pipeline set through the API: a paused pipeline's triggers are not
-- evaluated (ingestion goes on, and the samples that arrive meanwhile reach the triggers after
-- resume); manual requests still start trainings. Read by the pipeline's leader every round,
-- so a pause holds across restarts and leadership changes. No row: not paused.

CREATE TABLE pipeline_controls (
  pipeline_id  int PRIMARY KEY REFERENCES pipelines,
  paused       boolean NOT NULL,
  changed_by   text NOT NULL,   -- the API token's name
  reason       text NOT NULL,
  changed_at   timestamptz NOT NULL DEFAULT now()
);

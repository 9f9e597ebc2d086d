-- Prequential scores: the production model's errors on labeled samples before any training
-- used them (test-then-train), summed per window of consecutive samples. Written by the leader
-- of the pipeline (daemon/pipeline_manager.h); read by people, the demo's plot and the API.
--
-- A row never spans a multiple of the window (500) in the sample sequence, and each sample is in
-- at most one row (a window scored over two rounds has two rows). error_sum / samples is the
-- row's error rate (classification: 1 - accuracy) or mean absolute error (regression).

CREATE TABLE prequential_scores (
  pipeline_id  int NOT NULL REFERENCES pipelines,
  seq_first    bigint NOT NULL,   -- the window's first and last scored sample
  seq_last     bigint NOT NULL,
  model        text NOT NULL,
  version      int NOT NULL,      -- the production version that scored them
  samples      int NOT NULL CHECK (samples > 0),
  error_sum    double precision NOT NULL CHECK (error_sum >= 0),
  scored_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, seq_first),
  CHECK (seq_last >= seq_first)
);

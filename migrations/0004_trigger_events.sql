-- Trigger events: every fire of a pipeline's triggers that the engine acted on, with its reason
-- and evidence, and the training run it started (or why it is waiting).
--
--   held        the engine deferred it (a training in flight, cooldown, minimum interval);
--               deferred_by says which
--   started     a training run answers it (run_id)
--   superseded  dropped while held: it judged a model that has since been replaced
-- A new leader holds the `held` events of its predecessor again (they start a training once the
-- rate limits allow).

CREATE TABLE trigger_events (
  event_id     bigserial PRIMARY KEY,
  pipeline_id  int NOT NULL REFERENCES pipelines,
  trigger      text NOT NULL,   -- the configured trigger's name
  kind         text NOT NULL,   -- manual, schedule, new_data, decay, drift, composite
  reason       text NOT NULL,
  evidence     jsonb NOT NULL,
  fired_at     timestamptz NOT NULL,
  status       text NOT NULL CHECK (status IN ('held', 'started', 'superseded')),
  deferred_by  text,            -- in_flight, cooldown, min_interval (held)
  run_id       bigint REFERENCES training_runs,
  -- The newest labeled sample the engine had seen when it fired: a leader that holds this event
  -- again after a restart feeds the samples after it, so they are not counted twice.
  fed_seq      bigint NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'started') = (run_id IS NOT NULL))
);
CREATE INDEX trigger_events_by_pipeline ON trigger_events (pipeline_id, event_id DESC);
CREATE INDEX trigger_events_by_run ON trigger_events (run_id);

ALTER TABLE model_versions ADD CONSTRAINT model_versions_trigger_event_fkey
  FOREIGN KEY (trigger_event_id) REFERENCES trigger_events;

-- Trigger events: every fire of a pipeline's triggers that the engine acted on, with its reason
-- and evidence, and the training run it started (or why it is waiting).
--
--   held        the engine deferred it (a training in flight, cooldown, minimum interval);
--               deferred_by says which
--   started     a training run answers it (run_id)
--   superseded  dropped while held: it judged a model that has since been replaced
--   expired     held when its daemon stopped; the next leader starts from the current state

CREATE TABLE trigger_events (
  event_id     bigserial PRIMARY KEY,
  pipeline_id  int NOT NULL REFERENCES pipelines,
  trigger      text NOT NULL,   -- the configured trigger's name
  kind         text NOT NULL,   -- manual, schedule, new_data, decay, drift, composite
  reason       text NOT NULL,
  evidence     jsonb NOT NULL,
  fired_at     timestamptz NOT NULL,
  status       text NOT NULL CHECK (status IN ('held', 'started', 'superseded', 'expired')),
  deferred_by  text,            -- in_flight, cooldown, min_interval (held)
  run_id       bigint REFERENCES training_runs,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'started') = (run_id IS NOT NULL))
);
CREATE INDEX trigger_events_by_pipeline ON trigger_events (pipeline_id, event_id DESC);
CREATE INDEX trigger_events_by_run ON trigger_events (run_id);

ALTER TABLE model_versions ADD CONSTRAINT model_versions_trigger_event_fkey
  FOREIGN KEY (trigger_event_id) REFERENCES trigger_events;

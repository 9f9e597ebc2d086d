-- Retries of trigger events whose training was abandoned: when the daemon supervising a run
-- dies before it ends, recovery marks the run failed ("abandoned: ..."), and the next leader of
-- the pipeline holds the events that run answered again (deferred_by 'retry'), up to
-- training.retry_abandoned times, so their training is started anew.
--
--   attempts         trainings started for the event so far (the current one included)
--   abandoned_runs   the runs given up on, oldest first (run_id is the current attempt's)

ALTER TABLE trigger_events
  ADD COLUMN attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN abandoned_runs bigint[] NOT NULL DEFAULT '{}';
UPDATE trigger_events SET attempts = 1 WHERE run_id IS NOT NULL;

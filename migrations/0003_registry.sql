-- Registry: models, their versions, aliases with an append-only history, an append-only audit
-- log of every state change, and the canaries and guardrails that watch versions after the
-- gate.
--
-- A model belongs to one pipeline. Its versions are numbered 1, 2, ... in registration order
-- and move through:
--   candidate -> production | staging | rejected | failed
--   staging   -> production | rejected
--   production -> archived (replaced or rolled back) | rejected (rolled back by the guardrail)
--   archived  -> production (rollback or manual promotion)
-- At most one version per model is production, and at most one staging, enforced here by
-- partial unique indexes, so no interleaving of promotions can break it. The aliases
-- `production` and `staging` name those versions for readers; alias_history records every move.

CREATE TABLE models (
  model_id        serial PRIMARY KEY,
  pipeline_id     int NOT NULL UNIQUE REFERENCES pipelines,
  name            text NOT NULL UNIQUE,
  next_version    int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
  model_id         int NOT NULL REFERENCES models,
  version          int NOT NULL CHECK (version >= 1),
  status           text NOT NULL CHECK (status IN
                     ('candidate', 'staging', 'production', 'archived', 'rejected', 'failed')),
  status_reason    text NOT NULL DEFAULT '',
  artifact_uri     text NOT NULL,
  artifact_sha256  text NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
  artifact_size    bigint NOT NULL CHECK (artifact_size >= 0),
  metrics          jsonb NOT NULL,   -- the run's metrics.json (validation split)
  gate             jsonb,            -- the last gate decision (held-out, canary) about it
  training_params  jsonb NOT NULL,   -- the run spec
  manifest         jsonb NOT NULL,   -- ctd-train's manifest.json
  snapshot_id      bigint REFERENCES snapshots,
  seq_first        bigint NOT NULL,
  seq_last         bigint NOT NULL,
  row_count        bigint NOT NULL,
  snapshot_sha256  text NOT NULL,
  code_version     text NOT NULL,
  device           text NOT NULL,
  run_id           bigint REFERENCES training_runs,
  -- The trigger event that started the run (its table comes with the orchestration loop) and
  -- the trigger's reason and evidence as recorded then.
  trigger_event_id bigint,
  trigger          jsonb,
  parent_version   int,              -- the version it was warm-started from
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, version),
  FOREIGN KEY (model_id, parent_version) REFERENCES model_versions (model_id, version)
);
CREATE UNIQUE INDEX model_versions_one_production ON model_versions (model_id)
  WHERE status = 'production';
CREATE UNIQUE INDEX model_versions_one_staging ON model_versions (model_id)
  WHERE status = 'staging';
CREATE UNIQUE INDEX model_versions_by_run ON model_versions (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX model_versions_by_sequence ON model_versions (model_id, seq_first, seq_last);

CREATE TABLE model_aliases (
  model_id    int NOT NULL REFERENCES models,
  alias       text NOT NULL CHECK (alias IN ('production', 'staging')),
  version     int NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, alias),
  FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version)
);

-- Every alias move: set (from NULL), moved, or cleared (to NULL). Append-only.
CREATE TABLE alias_history (
  history_id    bigserial PRIMARY KEY,
  model_id      int NOT NULL REFERENCES models,
  alias         text NOT NULL,
  from_version  int,
  to_version    int,
  -- promotion: the gate, a canary or a person made to_version production (or staging);
  -- rollback: production moved back. Rollback targets are found among promotions.
  kind          text NOT NULL DEFAULT 'promotion' CHECK (kind IN ('promotion', 'rollback')),
  actor         text NOT NULL,   -- "ctd", an API token's name, "cli"
  reason        text NOT NULL,
  changed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alias_history_by_model ON alias_history (model_id, alias, history_id);

-- Every state change of a version or model. Append-only.
CREATE TABLE registry_audit (
  audit_id     bigserial PRIMARY KEY,
  model_id     int NOT NULL REFERENCES models,
  version      int,
  action       text NOT NULL,   -- registered, promoted, staged, rejected, failed, archived,
                                -- rolled_back, canary_*, guardrail_*
  from_status  text,
  to_status    text,
  actor        text NOT NULL,
  detail       jsonb NOT NULL DEFAULT '{}',
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_audit_by_model ON registry_audit (model_id, audit_id);

CREATE FUNCTION registry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER alias_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON alias_history
  FOR EACH STATEMENT EXECUTE FUNCTION registry_append_only();
CREATE TRIGGER registry_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON registry_audit
  FOR EACH STATEMENT EXECUTE FUNCTION registry_append_only();

-- A version under watch: a canary (staging, scored beside production on the next `samples`
-- labeled samples) or a guardrail (just promoted, compared with the version it replaced).
-- Judged on the pipeline's samples with seq > seq_after once `samples` of them exist.
CREATE TABLE model_watches (
  watch_id          bigserial PRIMARY KEY,
  model_id          int NOT NULL REFERENCES models,
  kind              text NOT NULL CHECK (kind IN ('canary', 'guardrail')),
  version           int NOT NULL,
  baseline_version  int,           -- production at the time (canary), the replaced version
  seq_after         bigint NOT NULL,
  samples           bigint NOT NULL CHECK (samples >= 1),
  deadline          timestamptz,   -- guardrail: passes unjudged after this
  state             text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'passed', 'failed', 'expired', 'cancelled')),
  outcome           jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version),
  CHECK ((state = 'open') = (finished_at IS NULL))
);
CREATE UNIQUE INDEX model_watches_one_open ON model_watches (model_id, kind) WHERE state = 'open';

-- Run history, rejected records and the change log of reconciliation.

CREATE TABLE ss_staging.reconciliation_runs (
    run_id          bigserial PRIMARY KEY,
    flow_run_id     uuid,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'aborted')),
    dry_run         boolean NOT NULL DEFAULT false,
    parameters      jsonb NOT NULL DEFAULT '{}'::jsonb,
    stats           jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text
);
CREATE INDEX reconciliation_runs_started_at_idx ON ss_staging.reconciliation_runs (started_at);
COMMENT ON TABLE ss_staging.reconciliation_runs IS 'One row per reconciliation run, whatever its outcome.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.run_id IS 'Run number, increasing.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.flow_run_id IS 'Prefect flow run id, when the run came from a Prefect flow.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.finished_at IS 'When the run ended; NULL while running.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.status IS 'running, succeeded, failed (an error; staging unchanged) or aborted (a safety check stopped it; staging unchanged).';
COMMENT ON COLUMN ss_staging.reconciliation_runs.dry_run IS 'True when the run only computed and reported the changes.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.parameters IS 'The run''s parameters (entities, thresholds, ...); never credentials.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.stats IS 'Per entity: {"users": {"scanned", "added", "changed", "removed", "unchanged", "rejected"}, ...}.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.error IS 'Why the run failed or aborted; NULL on success.';

CREATE TABLE ss_staging.rejects (
    reject_id       bigserial PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES ss_staging.reconciliation_runs (run_id),
    entity          text NOT NULL,
    source_id       text,
    reason          text NOT NULL,
    record          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_run_id_idx ON ss_staging.rejects (run_id);
COMMENT ON TABLE ss_staging.rejects IS 'Records from Secret Server that failed validation and were not loaded, with the reason.';
COMMENT ON COLUMN ss_staging.rejects.reject_id IS 'Reject number.';
COMMENT ON COLUMN ss_staging.rejects.run_id IS 'Run that rejected the record.';
COMMENT ON COLUMN ss_staging.rejects.entity IS 'Entity the record belongs to: users, groups, group_members, folders, folder_permissions, secrets or secret_permissions.';
COMMENT ON COLUMN ss_staging.rejects.source_id IS 'The record''s id in Secret Server, when it has one.';
COMMENT ON COLUMN ss_staging.rejects.reason IS 'Why the record was rejected (missing key, wrong type, duplicate id, unknown related object).';
COMMENT ON COLUMN ss_staging.rejects.record IS 'The record as received from the API.';
COMMENT ON COLUMN ss_staging.rejects.created_at IS 'When the record was rejected.';

CREATE TABLE ss_staging.change_log (
    change_id       bigserial PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES ss_staging.reconciliation_runs (run_id),
    entity          text NOT NULL,
    object_key      text NOT NULL,
    change_type     text NOT NULL CHECK (change_type IN ('added', 'changed', 'removed')),
    before          jsonb,
    after           jsonb,
    changed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_run_id_idx ON ss_staging.change_log (run_id);
CREATE INDEX change_log_entity_key_idx ON ss_staging.change_log (entity, object_key, changed_at);
COMMENT ON TABLE ss_staging.change_log IS 'What each run changed in staging: one row per object added, changed or removed, with its values before and after.';
COMMENT ON COLUMN ss_staging.change_log.change_id IS 'Change number, increasing in the order changes were written.';
COMMENT ON COLUMN ss_staging.change_log.run_id IS 'Run that made the change.';
COMMENT ON COLUMN ss_staging.change_log.entity IS 'Staging table of the object (users, groups, group_members, ...).';
COMMENT ON COLUMN ss_staging.change_log.object_key IS 'The object''s primary key as text; for group_members "group_id:user_id".';
COMMENT ON COLUMN ss_staging.change_log.change_type IS 'added (new, or back after a removal), changed, or removed.';
COMMENT ON COLUMN ss_staging.change_log.before IS 'The contract columns before the change (NULL for a new object).';
COMMENT ON COLUMN ss_staging.change_log.after IS 'The contract columns after the change (NULL for a removal).';
COMMENT ON COLUMN ss_staging.change_log.changed_at IS 'When the change was written.';

-- Reconciliation run outcomes (issue 16): a run that loaded what it could read but withheld some removals is
-- 'partial', a run whose process died before recording its outcome is 'abandoned', and what went wrong after
-- the commit (or what a dry run would have stopped on) is a warning, not a failure.

ALTER TABLE ss_staging.reconciliation_runs DROP CONSTRAINT reconciliation_runs_status_check;
ALTER TABLE ss_staging.reconciliation_runs ADD CONSTRAINT reconciliation_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'aborted', 'abandoned'));
ALTER TABLE ss_staging.reconciliation_runs ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]'::jsonb;

COMMENT ON COLUMN ss_staging.reconciliation_runs.status IS 'running; succeeded (everything read and merged); partial (merged, but some entity was not read completely, or had a record rejected without a usable id, so its removals were withheld: see incomplete); failed (an error; staging unchanged); aborted (a safety limit stopped it; staging unchanged); abandoned (its process ended without recording an outcome; staging unchanged).';
COMMENT ON COLUMN ss_staging.reconciliation_runs.incomplete IS 'Entities loaded without removals, with the reason: extraction cut short ({"group_members": "FanOutError: ..."}), or a record rejected without a usable id. Their rows were loaded but none was marked removed.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.warnings IS 'What went wrong without changing the outcome: housekeeping after the commit that failed (e.g. ANALYZE), or, for a dry run, the safety limit a real run would stop on.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.error IS 'Why the run failed, aborted or was abandoned; NULL otherwise.';

-- A partial run merged its changes too: it counts as the last run that changed staging.
CREATE OR REPLACE VIEW ss_staging.access_gained_last_run AS
WITH last_run AS (
    SELECT r.run_id,
           (SELECT min(c.changed_at) FROM ss_staging.change_log AS c WHERE c.run_id = r.run_id) AS first_change,
           (SELECT max(c.changed_at) FROM ss_staging.change_log AS c WHERE c.run_id = r.run_id) AS last_change
    FROM ss_staging.reconciliation_runs AS r
    WHERE r.status IN ('succeeded', 'partial') AND NOT r.dry_run
    ORDER BY r.run_id DESC
    LIMIT 1
)
SELECT lr.run_id, g.user_id, g.user_name, g.user_enabled, g.secret_id, g.secret_name, g.folder_path,
       g.role, g.previous_role
FROM last_run AS lr
CROSS JOIN LATERAL ss_staging.access_gained_between(
    lr.first_change - interval '1 microsecond', lr.last_change) AS g
WHERE lr.first_change IS NOT NULL;
COMMENT ON VIEW ss_staging.access_gained_last_run IS
    'Accounts that gained access in the last (non dry) reconciliation run that merged its changes (succeeded or partial): user and secret pairs with a new or stronger effective role just after the run''s changes than just before them (from the change log). Empty when that run changed nothing.';

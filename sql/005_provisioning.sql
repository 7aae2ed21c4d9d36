-- Provisioning (igi.event_out -> Secret Server): what the queue and the staging write-back need.
-- Changes that provisioning makes to staging are recorded in the change log too, tied to the request
-- (event_id) instead of a reconciliation run, so that the history of an object stays replayable.

ALTER TABLE ss_staging.change_log ALTER COLUMN run_id DROP NOT NULL;
ALTER TABLE ss_staging.change_log ADD COLUMN event_id bigint REFERENCES igi.event_out (event_id);
ALTER TABLE ss_staging.change_log
    ADD CONSTRAINT change_log_run_or_event CHECK (run_id IS NOT NULL OR event_id IS NOT NULL);
CREATE INDEX change_log_event_id_idx ON ss_staging.change_log (event_id) WHERE event_id IS NOT NULL;
COMMENT ON COLUMN ss_staging.change_log.run_id IS 'Reconciliation run that made the change; NULL when a provisioning request made it (see event_id).';
COMMENT ON COLUMN ss_staging.change_log.event_id IS 'Provisioning request (igi.event_out.event_id) whose execution made the change; NULL for a reconciliation run.';

-- Account names are case-insensitive in Secret Server: per-account ordering compares lower(code).
CREATE INDEX event_out_account_order_idx ON igi.event_out (lower(code), event_id) WHERE state = 1;

ALTER TABLE igi.event_out ADD COLUMN checkpoint jsonb;
COMMENT ON COLUMN igi.event_out.checkpoint IS 'What Secret Server showed just before a non-verifiable call (a password reset: passwordLastChanged), committed before the call, so that a retry after a crash can tell whether the call took effect. Never a password.';

ALTER TABLE igi.event_out ADD COLUMN worker_history text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN igi.event_out.worker_history IS 'Workers that claimed the request, in order (one entry per attempt).';

-- Staging rows written by provisioning keep last_changed_run_id NULL: the change log names the request.
COMMENT ON COLUMN ss_staging.users.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row; NULL when provisioning made the last change (ss_staging.change_log.event_id says which request).';
COMMENT ON COLUMN ss_staging.group_members.last_changed_run_id IS 'Reconciliation run that last inserted, removed or revived this row; NULL when provisioning made the last change (ss_staging.change_log.event_id says which request).';
COMMENT ON COLUMN ss_staging.folder_permissions.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row; NULL when provisioning made the last change (ss_staging.change_log.event_id says which request).';
COMMENT ON COLUMN ss_staging.secret_permissions.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row; NULL when provisioning made the last change (ss_staging.change_log.event_id says which request).';
COMMENT ON COLUMN ss_staging.folders.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row; NULL when provisioning made the last change (ss_staging.change_log.event_id says which request).';
COMMENT ON COLUMN ss_staging.secrets.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row; NULL when provisioning made the last change (ss_staging.change_log.event_id says which request).';

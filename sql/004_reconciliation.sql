-- Reconciliation (issue 5): what a run reports beyond per-entity stats.
--
-- change_log semantics (ss-igi reconcile writes it; the analyst layer replays it):
--   one row per insert, update, removal or revival of a staging row, in the run that made it;
--   object_key = the primary key as text ("group_id:user_id" for group_members);
--   change_type 'added'   : a new object (before NULL) or a revival of a removed one (before = the removed row);
--               'changed' : at least one contract column differs (before and after both set);
--               'removed' : the object is gone from Secret Server (after NULL); staging keeps it with deleted_at.
--   before/after hold every contract column of the entity (the API-derived columns, not the bookkeeping ones),
--   timestamps as ISO 8601 UTC. Replaying a key's rows in change_id order rebuilds its staging row at any time.

ALTER TABLE ss_staging.reconciliation_runs
    ADD COLUMN events jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN incomplete jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN extract_stats jsonb NOT NULL DEFAULT '{}'::jsonb;
COMMENT ON COLUMN ss_staging.reconciliation_runs.events IS 'IGI events written to igi.event_target by the run, per operation name, e.g. {"ACCOUNT_CREATE": 3}; for a dry run, the events it would write.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.incomplete IS 'Entities whose extraction did not complete, with the reason: {"group_members": "..."}; their rows were loaded but none was marked removed.';
COMMENT ON COLUMN ss_staging.reconciliation_runs.extract_stats IS 'Secret Server client counters for the run (requests, retries, logins, pages, ...).';

CREATE INDEX event_target_run_id_idx ON igi.event_target (run_id);

COMMENT ON TABLE ss_staging.change_log IS 'What each run changed in staging, complete and replayable: one row per insert, update, removal or revival of a staging row, with every contract column before and after (before NULL for a new object, the removed row for a revival; after NULL for a removal). Replaying one object''s rows in change_id order rebuilds its row at any time.';

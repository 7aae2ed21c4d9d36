-- IGI event queues: TARGET (reconciliation -> IGI) and OUT (IGI -> provisioning on Secret Server).
-- Operation codes (IGI): 1 PERMISSION_ADD, 2 PERMISSION_REMOVE, 3 ACCOUNT_PWDCHANGE, 6 ACCOUNT_DISABLE,
-- 7 ACCOUNT_ENABLE, 8 ACCOUNT_UNMATCHED, 9 ACCOUNT_MODIFY, 10 ACCOUNT_CREATE, 11 ACCOUNT_REMOVE,
-- 12 RIGHT_ADD, 13 RIGHT_REMOVE. State codes: 1 unprocessed/pending, 2 success, 3 error.

CREATE SCHEMA IF NOT EXISTS igi;
COMMENT ON SCHEMA igi IS 'IGI event queues exchanged with ss-igi, with IGI''s operation and state codes.';

CREATE TABLE igi.event_target (
    event_id            bigserial PRIMARY KEY,
    run_id              bigint REFERENCES ss_staging.reconciliation_runs (run_id),
    code                text NOT NULL,
    operation           smallint NOT NULL CHECK (operation IN (1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13)),
    state               smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
    target              text NOT NULL DEFAULT 'SecretServer',
    functionality       text,
    functionality_type  text CHECK (functionality_type IN ('group', 'folder', 'secret')),
    trace               text,
    attributes          jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    processed_at        timestamptz
);
CREATE INDEX event_target_unprocessed_idx ON igi.event_target (event_id) WHERE state = 1;
COMMENT ON TABLE igi.event_target IS 'TARGET queue: account and permission changes found by reconciliation, for IGI to process.';
COMMENT ON COLUMN igi.event_target.event_id IS 'Event number, increasing.';
COMMENT ON COLUMN igi.event_target.run_id IS 'Reconciliation run that found the change.';
COMMENT ON COLUMN igi.event_target.code IS 'The account: Secret Server user name, as DOMAIN\user when the user belongs to a domain.';
COMMENT ON COLUMN igi.event_target.operation IS 'IGI operation: 10 ACCOUNT_CREATE, 9 ACCOUNT_MODIFY, 6 ACCOUNT_DISABLE, 7 ACCOUNT_ENABLE, 11 ACCOUNT_REMOVE, 1 PERMISSION_ADD, 2 PERMISSION_REMOVE.';
COMMENT ON COLUMN igi.event_target.state IS 'IGI state: 1 unprocessed, 2 processed with success, 3 processed with errors.';
COMMENT ON COLUMN igi.event_target.target IS 'Target system name.';
COMMENT ON COLUMN igi.event_target.functionality IS 'The permission, for PERMISSION_ADD/REMOVE: "group:<name>", "folder:<path>|<folder role>|<secret role>" or "secret:<id>:<name>|<role>".';
COMMENT ON COLUMN igi.event_target.functionality_type IS 'Kind of permission: group, folder or secret.';
COMMENT ON COLUMN igi.event_target.trace IS 'Message set by whoever processes the event.';
COMMENT ON COLUMN igi.event_target.attributes IS 'Account attributes (display name, e-mail, enabled, ...) or permission ids, as JSON.';
COMMENT ON COLUMN igi.event_target.created_at IS 'When the event was written.';
COMMENT ON COLUMN igi.event_target.processed_at IS 'When IGI processed the event.';

CREATE TABLE igi.event_out (
    event_id            bigserial PRIMARY KEY,
    operation           smallint NOT NULL CHECK (operation IN (1, 2, 3, 6, 7, 9, 10, 11)),
    code                text NOT NULL,
    person_code         text,
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    permission_type     text CHECK (permission_type IN ('group', 'folder', 'secret')),
    permission_id       integer,
    permission_name     text,
    folder_access_role  text,
    secret_access_role  text,
    password            text,
    password_encrypted  boolean NOT NULL DEFAULT true,
    state               smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
    erc_status          text,
    trace               text,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    claimed_by          text,
    claimed_until       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    processed_at        timestamptz,
    CHECK (permission_type IS NOT NULL OR operation NOT IN (1, 2))
);
CREATE INDEX event_out_pending_idx ON igi.event_out (next_attempt_at, event_id) WHERE state = 1;
CREATE INDEX event_out_code_idx ON igi.event_out (code, event_id) WHERE state = 1;
COMMENT ON TABLE igi.event_out IS 'OUT queue: provisioning requests from IGI, executed on Secret Server by ss-igi provision, with their outcome.';
COMMENT ON COLUMN igi.event_out.event_id IS 'Request number; requests for one account run in this order.';
COMMENT ON COLUMN igi.event_out.operation IS 'IGI operation: 10 ACCOUNT_CREATE, 3 ACCOUNT_PWDCHANGE, 9 ACCOUNT_MODIFY, 1 PERMISSION_ADD, 2 PERMISSION_REMOVE, 6 ACCOUNT_DISABLE (suspend), 7 ACCOUNT_ENABLE (restore), 11 ACCOUNT_REMOVE (refused).';
COMMENT ON COLUMN igi.event_out.code IS 'The account: Secret Server user name, as DOMAIN\user for a domain account.';
COMMENT ON COLUMN igi.event_out.person_code IS 'IGI person who owns the account.';
COMMENT ON COLUMN igi.event_out.attributes IS 'Account attributes for create and modify, e.g. {"displayName": ..., "emailAddress": ...}.';
COMMENT ON COLUMN igi.event_out.permission_type IS 'For PERMISSION_ADD/REMOVE: group, folder or secret.';
COMMENT ON COLUMN igi.event_out.permission_id IS 'Id of the group, folder or secret; or NULL and permission_name instead.';
COMMENT ON COLUMN igi.event_out.permission_name IS 'Group name, folder path or secret name, when permission_id is not given.';
COMMENT ON COLUMN igi.event_out.folder_access_role IS 'Folder role to grant: View, Edit, Add Secret or Owner.';
COMMENT ON COLUMN igi.event_out.secret_access_role IS 'Secret role to grant: List, View, Edit, Owner (or None on a folder permission).';
COMMENT ON COLUMN igi.event_out.password IS 'New password for create and password change, Fernet-encrypted unless password_encrypted is false; erased when the request reaches a final state.';
COMMENT ON COLUMN igi.event_out.password_encrypted IS 'True when password holds a Fernet token; false for plain text (allowed only by setting).';
COMMENT ON COLUMN igi.event_out.state IS 'IGI state: 1 pending, 2 success, 3 error.';
COMMENT ON COLUMN igi.event_out.erc_status IS 'External result code: Success, or the failure''s class (e.g. the Secret Server errorCode).';
COMMENT ON COLUMN igi.event_out.trace IS 'Outcome message.';
COMMENT ON COLUMN igi.event_out.attempts IS 'Execution attempts so far.';
COMMENT ON COLUMN igi.event_out.next_attempt_at IS 'Earliest time the request may be (re)tried.';
COMMENT ON COLUMN igi.event_out.claimed_by IS 'Worker holding the request, while claimed.';
COMMENT ON COLUMN igi.event_out.claimed_until IS 'End of the claim''s lease; after it, another worker may take the request.';
COMMENT ON COLUMN igi.event_out.created_at IS 'When the request was enqueued.';
COMMENT ON COLUMN igi.event_out.processed_at IS 'When the request reached a final state.';

-- igi.event_out takes every request IGI writes, and ss-igi judges each one (connectors/igi/request_models.py).
-- A constraint here would make IGI's own insert fail, so the request would never show up with a reason in the
-- queue; instead an unknown operation, permission type or malformed attributes end the request in state 3 with
-- a trace that says what is wrong, and the other requests run.

ALTER TABLE igi.event_out DROP CONSTRAINT event_out_operation_check;
ALTER TABLE igi.event_out DROP CONSTRAINT event_out_permission_type_check;
ALTER TABLE igi.event_out DROP CONSTRAINT event_out_check;

-- Attributes as IGI writes them: text that should hold a JSON object. Broken JSON is a reject, not a failed insert.
ALTER TABLE igi.event_out ALTER COLUMN attributes DROP DEFAULT;
ALTER TABLE igi.event_out ALTER COLUMN attributes TYPE text USING attributes::text;
ALTER TABLE igi.event_out ALTER COLUMN attributes SET DEFAULT '{}';
COMMENT ON COLUMN igi.event_out.attributes IS 'Account attributes for create and modify, as a JSON object in text, e.g. {"displayName": ..., "emailAddress": ..., "enabled": "false"}; booleans and integers may be strings. Anything else fails the request with a reason.';
COMMENT ON COLUMN igi.event_out.operation IS 'IGI operation: 10 ACCOUNT_CREATE, 3 ACCOUNT_PWDCHANGE, 9 ACCOUNT_MODIFY, 1 PERMISSION_ADD, 2 PERMISSION_REMOVE, 6 ACCOUNT_DISABLE (suspend), 7 ACCOUNT_ENABLE (restore), 11 ACCOUNT_REMOVE (refused). Other codes fail with UnsupportedOperation.';
COMMENT ON COLUMN igi.event_out.attempts IS 'Executions started so far (a claim given back or lost before it started does not count).';
COMMENT ON COLUMN igi.event_out.worker_history IS 'Workers that claimed the request, in order.';
COMMENT ON COLUMN igi.event_out.claimed_until IS 'End of the claim''s lease, renewed by the worker''s heartbeat while it works; after it, another worker may take the request.';

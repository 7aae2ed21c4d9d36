-- Several Secret Server instances in one IGI database (issue 19).
--
-- Every staging table, the run history, the rejects and the change log carry the instance they came from, and
-- the staging keys include it: a user 7 of instance "dr" is another row than user 7 of instance "prod". An
-- existing single-instance database is upgraded in place: its rows become the instance "default", which is
-- the unnamed instance of a single-instance setup (SECRET_SERVER_URL and friends, no SS_IGI_INSTANCES).
-- Instance names are lower-case identifiers (pipelines/instances.py checks them; so does this CHECK).
-- The analyst functions and views follow in a later migration.

ALTER TABLE ss_staging.users ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.groups ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.group_members ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.folders ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.folder_permissions ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.secrets ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.secret_permissions ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.reconciliation_runs ADD COLUMN instance text NOT NULL DEFAULT 'default'
    CHECK (instance ~ '^[a-z][a-z0-9_]{0,39}$');
ALTER TABLE ss_staging.rejects ADD COLUMN instance text NOT NULL DEFAULT 'default';
ALTER TABLE ss_staging.change_log ADD COLUMN instance text NOT NULL DEFAULT 'default';

-- Keys: the instance first, then the Secret Server ids.
ALTER TABLE ss_staging.users DROP CONSTRAINT users_pkey, ADD PRIMARY KEY (instance, user_id);
ALTER TABLE ss_staging.groups DROP CONSTRAINT groups_pkey, ADD PRIMARY KEY (instance, group_id);
ALTER TABLE ss_staging.group_members DROP CONSTRAINT group_members_pkey, ADD PRIMARY KEY (instance, group_id, user_id);
ALTER TABLE ss_staging.folders DROP CONSTRAINT folders_pkey, ADD PRIMARY KEY (instance, folder_id);
ALTER TABLE ss_staging.folder_permissions DROP CONSTRAINT folder_permissions_pkey,
    ADD PRIMARY KEY (instance, folder_permission_id);
ALTER TABLE ss_staging.secrets DROP CONSTRAINT secrets_pkey, ADD PRIMARY KEY (instance, secret_id);
ALTER TABLE ss_staging.secret_permissions DROP CONSTRAINT secret_permissions_pkey,
    ADD PRIMARY KEY (instance, secret_permission_id);

-- Lookups and joins stay within one instance: the secondary indexes lead with it.
DROP INDEX ss_staging.users_user_name_idx;
CREATE INDEX users_user_name_idx ON ss_staging.users (instance, lower(user_name));
DROP INDEX ss_staging.group_members_user_id_idx;
CREATE INDEX group_members_user_id_idx ON ss_staging.group_members (instance, user_id);
DROP INDEX ss_staging.folders_parent_folder_id_idx;
CREATE INDEX folders_parent_folder_id_idx ON ss_staging.folders (instance, parent_folder_id);
DROP INDEX ss_staging.folder_permissions_folder_id_idx;
CREATE INDEX folder_permissions_folder_id_idx ON ss_staging.folder_permissions (instance, folder_id);
DROP INDEX ss_staging.folder_permissions_user_id_idx;
CREATE INDEX folder_permissions_user_id_idx ON ss_staging.folder_permissions (instance, user_id);
DROP INDEX ss_staging.folder_permissions_group_id_idx;
CREATE INDEX folder_permissions_group_id_idx ON ss_staging.folder_permissions (instance, group_id);
DROP INDEX ss_staging.secrets_folder_id_idx;
CREATE INDEX secrets_folder_id_idx ON ss_staging.secrets (instance, folder_id);
DROP INDEX ss_staging.secret_permissions_secret_id_idx;
CREATE INDEX secret_permissions_secret_id_idx ON ss_staging.secret_permissions (instance, secret_id);
DROP INDEX ss_staging.secret_permissions_user_id_idx;
CREATE INDEX secret_permissions_user_id_idx ON ss_staging.secret_permissions (instance, user_id);
DROP INDEX ss_staging.secret_permissions_group_id_idx;
CREATE INDEX secret_permissions_group_id_idx ON ss_staging.secret_permissions (instance, group_id);
DROP INDEX ss_staging.change_log_entity_key_idx;
CREATE INDEX change_log_entity_key_idx ON ss_staging.change_log (instance, entity, object_key, changed_at);
CREATE INDEX reconciliation_runs_instance_idx ON ss_staging.reconciliation_runs (instance, run_id);

-- Provisioning requests name the IGI target (one per instance) they are for; NULL: the default instance.
ALTER TABLE igi.event_out ADD COLUMN target text;

COMMENT ON COLUMN ss_staging.users.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.groups.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.group_members.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.folders.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.folder_permissions.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.secrets.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.secret_permissions.instance IS 'Secret Server instance the row comes from (SS_IGI_INSTANCES; "default" for a single unnamed instance).';
COMMENT ON COLUMN ss_staging.reconciliation_runs.instance IS 'Secret Server instance the run reconciled.';
COMMENT ON COLUMN ss_staging.rejects.instance IS 'Secret Server instance the rejected record came from.';
COMMENT ON COLUMN ss_staging.change_log.instance IS 'Secret Server instance of the changed object; object_key is unique only within it.';
COMMENT ON COLUMN igi.event_out.target IS 'IGI target (service) the request is for: the Secret Server instance whose IGI_TARGET it is. NULL: the default instance. A target no configured instance has fails the request with UnknownTarget.';

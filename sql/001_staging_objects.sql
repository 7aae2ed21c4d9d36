-- Staging: the current state of Secret Server, one row per object.
-- Bookkeeping on every table: first_seen_run_id/first_seen_at (when the object first appeared),
-- last_changed_run_id/last_changed_at (last insert, update, removal or revival), deleted_at (set when the
-- object disappears from Secret Server, cleared if it comes back). A row is current while deleted_at IS NULL;
-- a current row was seen by the latest successful run of its entity (so "last seen" needs no write per run).

CREATE SCHEMA IF NOT EXISTS ss_staging;
COMMENT ON SCHEMA ss_staging IS 'ss-igi: Secret Server state as last reconciled, with run history, rejects and change log.';

CREATE TABLE ss_staging.users (
    user_id                 integer PRIMARY KEY,
    user_name               text NOT NULL,
    display_name            text,
    email_address           text,
    domain_id               integer,
    domain_name             text,
    enabled                 boolean NOT NULL,
    is_application_account  boolean NOT NULL DEFAULT false,
    is_locked_out           boolean NOT NULL DEFAULT false,
    login_failures          integer,
    last_login              timestamptz,
    created                 timestamptz,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX users_user_name_idx ON ss_staging.users (lower(user_name));
COMMENT ON TABLE ss_staging.users IS 'Secret Server users (GET /api/v1/users with inactive users), one row per user; disabled users have enabled = false.';
COMMENT ON COLUMN ss_staging.users.user_id IS 'Secret Server user id (API: id).';
COMMENT ON COLUMN ss_staging.users.user_name IS 'Login name (API: userName), without domain.';
COMMENT ON COLUMN ss_staging.users.display_name IS 'Display name (API: displayName).';
COMMENT ON COLUMN ss_staging.users.email_address IS 'E-mail address (API: emailAddress).';
COMMENT ON COLUMN ss_staging.users.domain_id IS 'Active Directory domain id (API: domainId); NULL for local users (the API says -1).';
COMMENT ON COLUMN ss_staging.users.domain_name IS 'Active Directory domain name (API: domainName); NULL for local users.';
COMMENT ON COLUMN ss_staging.users.enabled IS 'False when the account is disabled (suspended) in Secret Server.';
COMMENT ON COLUMN ss_staging.users.is_application_account IS 'True for application (API) accounts, which cannot be modified, suspended, restored or have their password changed through ss-igi.';
COMMENT ON COLUMN ss_staging.users.is_locked_out IS 'True when the account is locked out after failed logins (API: isLockedOut).';
COMMENT ON COLUMN ss_staging.users.login_failures IS 'Failed login attempts since the last success (API: loginFailures).';
COMMENT ON COLUMN ss_staging.users.last_login IS 'Last successful login, UTC; NULL if the user never logged in.';
COMMENT ON COLUMN ss_staging.users.created IS 'When the user was created in Secret Server, UTC.';
COMMENT ON COLUMN ss_staging.users.first_seen_run_id IS 'Reconciliation run that first loaded this row.';
COMMENT ON COLUMN ss_staging.users.first_seen_at IS 'When this row was first loaded.';
COMMENT ON COLUMN ss_staging.users.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row.';
COMMENT ON COLUMN ss_staging.users.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.users.deleted_at IS 'When the user disappeared from Secret Server; NULL while it exists.';

CREATE TABLE ss_staging.groups (
    group_id                integer PRIMARY KEY,
    group_name              text NOT NULL,
    domain_id               integer,
    domain_name             text,
    enabled                 boolean NOT NULL,
    synchronized            boolean NOT NULL DEFAULT false,
    created                 timestamptz,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
COMMENT ON TABLE ss_staging.groups IS 'Secret Server groups (GET /api/v1/groups with inactive groups). Personal groups are not listed by the API and so are not here.';
COMMENT ON COLUMN ss_staging.groups.group_id IS 'Secret Server group id (API: id).';
COMMENT ON COLUMN ss_staging.groups.group_name IS 'Group name (API: name).';
COMMENT ON COLUMN ss_staging.groups.domain_id IS 'Active Directory domain id; NULL for local groups.';
COMMENT ON COLUMN ss_staging.groups.domain_name IS 'Active Directory domain name; NULL for local groups.';
COMMENT ON COLUMN ss_staging.groups.enabled IS 'False when the group is disabled.';
COMMENT ON COLUMN ss_staging.groups.synchronized IS 'True when the group is synchronized from Active Directory.';
COMMENT ON COLUMN ss_staging.groups.created IS 'When the group was created, UTC.';
COMMENT ON COLUMN ss_staging.groups.first_seen_run_id IS 'Reconciliation run that first loaded this row.';
COMMENT ON COLUMN ss_staging.groups.first_seen_at IS 'When this row was first loaded.';
COMMENT ON COLUMN ss_staging.groups.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row.';
COMMENT ON COLUMN ss_staging.groups.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.groups.deleted_at IS 'When the group disappeared from Secret Server; NULL while it exists.';

CREATE TABLE ss_staging.group_members (
    group_id                integer NOT NULL,
    user_id                 integer NOT NULL,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_id_idx ON ss_staging.group_members (user_id);
COMMENT ON TABLE ss_staging.group_members IS 'Group memberships (GET /api/v1/groups/{id}/users), one row per group and user.';
COMMENT ON COLUMN ss_staging.group_members.group_id IS 'Group (ss_staging.groups.group_id).';
COMMENT ON COLUMN ss_staging.group_members.user_id IS 'Member user (ss_staging.users.user_id).';
COMMENT ON COLUMN ss_staging.group_members.first_seen_run_id IS 'Reconciliation run that first loaded this membership.';
COMMENT ON COLUMN ss_staging.group_members.first_seen_at IS 'When this membership was first loaded.';
COMMENT ON COLUMN ss_staging.group_members.last_changed_run_id IS 'Reconciliation run that last inserted, removed or revived this row.';
COMMENT ON COLUMN ss_staging.group_members.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.group_members.deleted_at IS 'When the membership ended; NULL while it exists.';

CREATE TABLE ss_staging.folders (
    folder_id               integer PRIMARY KEY,
    folder_name             text NOT NULL,
    folder_path             text,
    parent_folder_id        integer,
    folder_type_id          integer,
    inherit_permissions     boolean NOT NULL,
    inherit_secret_policy   boolean,
    secret_policy_id        integer,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX folders_parent_folder_id_idx ON ss_staging.folders (parent_folder_id);
COMMENT ON TABLE ss_staging.folders IS 'Secret Server folders (GET /api/v1/folders), the whole tree.';
COMMENT ON COLUMN ss_staging.folders.folder_id IS 'Secret Server folder id (API: id).';
COMMENT ON COLUMN ss_staging.folders.folder_name IS 'Folder name (API: folderName).';
COMMENT ON COLUMN ss_staging.folders.folder_path IS 'Full path from the root, e.g. \IT\Unix\Servers (API: folderPath).';
COMMENT ON COLUMN ss_staging.folders.parent_folder_id IS 'Parent folder; NULL for root folders (the API says -1).';
COMMENT ON COLUMN ss_staging.folders.folder_type_id IS 'Folder type (API: folderTypeId).';
COMMENT ON COLUMN ss_staging.folders.inherit_permissions IS 'True when the folder takes its permissions from its parent; false when it breaks inheritance.';
COMMENT ON COLUMN ss_staging.folders.inherit_secret_policy IS 'True when the folder takes its secret policy from its parent.';
COMMENT ON COLUMN ss_staging.folders.secret_policy_id IS 'Secret policy applied to the folder; NULL for none (the API says -1).';
COMMENT ON COLUMN ss_staging.folders.first_seen_run_id IS 'Reconciliation run that first loaded this row.';
COMMENT ON COLUMN ss_staging.folders.first_seen_at IS 'When this row was first loaded.';
COMMENT ON COLUMN ss_staging.folders.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row.';
COMMENT ON COLUMN ss_staging.folders.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.folders.deleted_at IS 'When the folder disappeared from Secret Server; NULL while it exists.';

CREATE TABLE ss_staging.folder_permissions (
    folder_permission_id    integer PRIMARY KEY,
    folder_id               integer NOT NULL,
    user_id                 integer,
    group_id                integer,
    folder_access_role      text NOT NULL,
    secret_access_role      text NOT NULL,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX folder_permissions_folder_id_idx ON ss_staging.folder_permissions (folder_id);
COMMENT ON TABLE ss_staging.folder_permissions IS 'Folder permissions (GET /api/v1/folder-permissions per folder): who may do what on a folder and on the secrets that inherit from it.';
COMMENT ON COLUMN ss_staging.folder_permissions.folder_permission_id IS 'Secret Server folder permission id (API: id).';
COMMENT ON COLUMN ss_staging.folder_permissions.folder_id IS 'Folder (ss_staging.folders.folder_id).';
COMMENT ON COLUMN ss_staging.folder_permissions.user_id IS 'User granted, for a user-level permission; NULL for a group permission.';
COMMENT ON COLUMN ss_staging.folder_permissions.group_id IS 'Group granted; for a user-level permission this can be the user''s personal group, which is not in ss_staging.groups.';
COMMENT ON COLUMN ss_staging.folder_permissions.folder_access_role IS 'Folder role, verbatim: View, Edit, Add Secret or Owner.';
COMMENT ON COLUMN ss_staging.folder_permissions.secret_access_role IS 'Role on the secrets in the folder, verbatim: List, View, Edit, Owner or None.';
COMMENT ON COLUMN ss_staging.folder_permissions.first_seen_run_id IS 'Reconciliation run that first loaded this row.';
COMMENT ON COLUMN ss_staging.folder_permissions.first_seen_at IS 'When this row was first loaded.';
COMMENT ON COLUMN ss_staging.folder_permissions.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row.';
COMMENT ON COLUMN ss_staging.folder_permissions.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.folder_permissions.deleted_at IS 'When the permission was revoked; NULL while it exists.';

CREATE TABLE ss_staging.secrets (
    secret_id               integer PRIMARY KEY,
    secret_name             text NOT NULL,
    folder_id               integer,
    secret_template_id      integer,
    secret_template_name    text,
    active                  boolean NOT NULL,
    inherits_permissions    boolean NOT NULL,
    is_restricted           boolean,
    site_id                 integer,
    create_date             timestamptz,
    last_accessed           timestamptz,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX secrets_folder_id_idx ON ss_staging.secrets (folder_id);
COMMENT ON TABLE ss_staging.secrets IS 'Secret metadata (GET /api/v1/secrets search shape). Never a secret value: ss-igi never reads them.';
COMMENT ON COLUMN ss_staging.secrets.secret_id IS 'Secret Server secret id (API: id).';
COMMENT ON COLUMN ss_staging.secrets.secret_name IS 'Secret name (API: name).';
COMMENT ON COLUMN ss_staging.secrets.folder_id IS 'Folder holding the secret; NULL when the secret is in no folder (the API says -1).';
COMMENT ON COLUMN ss_staging.secrets.secret_template_id IS 'Secret template id.';
COMMENT ON COLUMN ss_staging.secrets.secret_template_name IS 'Secret template name, e.g. Unix Account (SSH).';
COMMENT ON COLUMN ss_staging.secrets.active IS 'False for inactive (deactivated) secrets, which are kept, not treated as removed.';
COMMENT ON COLUMN ss_staging.secrets.inherits_permissions IS 'True when the secret takes its permissions from its folder; false when it has its own (ss_staging.secret_permissions).';
COMMENT ON COLUMN ss_staging.secrets.is_restricted IS 'True when access needs approval, a comment or check-out (API: isRestricted).';
COMMENT ON COLUMN ss_staging.secrets.site_id IS 'Distributed engine site the secret uses.';
COMMENT ON COLUMN ss_staging.secrets.create_date IS 'When the secret was created, UTC.';
COMMENT ON COLUMN ss_staging.secrets.last_accessed IS 'When the secret was last viewed, UTC; NULL if never.';
COMMENT ON COLUMN ss_staging.secrets.first_seen_run_id IS 'Reconciliation run that first loaded this row.';
COMMENT ON COLUMN ss_staging.secrets.first_seen_at IS 'When this row was first loaded.';
COMMENT ON COLUMN ss_staging.secrets.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row.';
COMMENT ON COLUMN ss_staging.secrets.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.secrets.deleted_at IS 'When the secret disappeared from Secret Server; NULL while it exists.';

CREATE TABLE ss_staging.secret_permissions (
    secret_permission_id    integer PRIMARY KEY,
    secret_id               integer NOT NULL,
    user_id                 integer,
    group_id                integer,
    secret_access_role      text NOT NULL,
    first_seen_run_id       bigint,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_changed_run_id     bigint,
    last_changed_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX secret_permissions_secret_id_idx ON ss_staging.secret_permissions (secret_id);
COMMENT ON TABLE ss_staging.secret_permissions IS 'Permissions set on secrets that break inheritance (GET /api/v1/secret-permissions per such secret).';
COMMENT ON COLUMN ss_staging.secret_permissions.secret_permission_id IS 'Secret Server secret permission id (API: id).';
COMMENT ON COLUMN ss_staging.secret_permissions.secret_id IS 'Secret (ss_staging.secrets.secret_id).';
COMMENT ON COLUMN ss_staging.secret_permissions.user_id IS 'User granted, for a user-level permission; NULL for a group permission.';
COMMENT ON COLUMN ss_staging.secret_permissions.group_id IS 'Group granted; for a user-level permission this can be the user''s personal group, which is not in ss_staging.groups.';
COMMENT ON COLUMN ss_staging.secret_permissions.secret_access_role IS 'Role on the secret, verbatim: List, View, Edit or Owner.';
COMMENT ON COLUMN ss_staging.secret_permissions.first_seen_run_id IS 'Reconciliation run that first loaded this row.';
COMMENT ON COLUMN ss_staging.secret_permissions.first_seen_at IS 'When this row was first loaded.';
COMMENT ON COLUMN ss_staging.secret_permissions.last_changed_run_id IS 'Reconciliation run that last inserted, changed, removed or revived this row.';
COMMENT ON COLUMN ss_staging.secret_permissions.last_changed_at IS 'When this row last changed in staging.';
COMMENT ON COLUMN ss_staging.secret_permissions.deleted_at IS 'When the permission was revoked; NULL while it exists.';

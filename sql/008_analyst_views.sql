-- Analyst layer, part 3: the questions auditors ask most, as views over the rules of 007.

CREATE VIEW ss_staging.folder_owners AS
SELECT f.folder_id, f.folder_path,
       CASE WHEN p.user_id IS NOT NULL THEN 'user' ELSE 'group' END AS owner_kind,
       p.user_id, u.user_name,
       CASE WHEN p.user_id IS NULL THEN p.group_id END AS group_id, g.group_name,
       coalesce(u.enabled, g.enabled) AS owner_enabled,
       p.secret_access_role,
       src.source_folder_id AS via_folder_id,
       p.folder_permission_id
FROM ss_staging.folders_at(NULL) AS f
JOIN ss_staging.folder_permission_sources_at(NULL) AS src ON src.folder_id = f.folder_id
JOIN ss_staging.folder_permissions_at(NULL) AS p
  ON p.folder_id = src.source_folder_id AND lower(p.folder_access_role) = 'owner'
LEFT JOIN ss_staging.users_at(NULL) AS u ON u.user_id = p.user_id
LEFT JOIN ss_staging.groups_at(NULL) AS g ON g.group_id = p.group_id AND p.user_id IS NULL
WHERE u.user_id IS NOT NULL OR g.group_id IS NOT NULL;
COMMENT ON VIEW ss_staging.folder_owners IS
    'Owners of each folder: one row per folder and user or group holding the Owner folder role, following folder inheritance (an inheriting folder has the owners of the folder it inherits from). Groups are not expanded; join ss_staging.group_members for the people.';
COMMENT ON COLUMN ss_staging.folder_owners.folder_id IS 'Folder (ss_staging.folders.folder_id).';
COMMENT ON COLUMN ss_staging.folder_owners.folder_path IS 'Path of the folder.';
COMMENT ON COLUMN ss_staging.folder_owners.owner_kind IS 'user or group.';
COMMENT ON COLUMN ss_staging.folder_owners.user_id IS 'Owning user, when owner_kind is user.';
COMMENT ON COLUMN ss_staging.folder_owners.user_name IS 'Login name of the owning user.';
COMMENT ON COLUMN ss_staging.folder_owners.group_id IS 'Owning group, when owner_kind is group.';
COMMENT ON COLUMN ss_staging.folder_owners.group_name IS 'Name of the owning group.';
COMMENT ON COLUMN ss_staging.folder_owners.owner_enabled IS 'False when the owning user or group is disabled.';
COMMENT ON COLUMN ss_staging.folder_owners.secret_access_role IS 'Role the owner''s permission grants on the folder''s secrets (List, View, Edit, Owner or None).';
COMMENT ON COLUMN ss_staging.folder_owners.via_folder_id IS 'Folder whose permission row makes the owner: the folder itself, or the ancestor it inherits from.';
COMMENT ON COLUMN ss_staging.folder_owners.folder_permission_id IS 'The folder permission row (ss_staging.folder_permissions).';

CREATE VIEW ss_staging.orphan_accounts AS
SELECT u.user_id, u.user_name, u.display_name, u.domain_name, u.is_application_account, u.last_login, u.created
FROM ss_staging.users AS u
WHERE u.deleted_at IS NULL AND u.enabled
  AND NOT EXISTS (
      SELECT 1 FROM ss_staging.group_members AS m
      JOIN ss_staging.groups AS g ON g.group_id = m.group_id AND g.deleted_at IS NULL
      WHERE m.user_id = u.user_id AND m.deleted_at IS NULL
        AND NOT (g.group_name = 'Everyone' AND g.domain_id IS NULL))
  AND NOT EXISTS (
      SELECT 1 FROM ss_staging.secret_permissions AS p WHERE p.user_id = u.user_id AND p.deleted_at IS NULL)
  AND NOT EXISTS (
      SELECT 1 FROM ss_staging.folder_permissions AS p WHERE p.user_id = u.user_id AND p.deleted_at IS NULL);
COMMENT ON VIEW ss_staging.orphan_accounts IS
    'Orphan-like accounts: enabled users in no group (the built-in local group Everyone, which holds every user, does not count) and with no permission of their own on any folder or secret. Candidates for review or suspension.';
COMMENT ON COLUMN ss_staging.orphan_accounts.user_id IS 'User (ss_staging.users.user_id).';
COMMENT ON COLUMN ss_staging.orphan_accounts.user_name IS 'Login name.';
COMMENT ON COLUMN ss_staging.orphan_accounts.display_name IS 'Display name.';
COMMENT ON COLUMN ss_staging.orphan_accounts.domain_name IS 'Active Directory domain; NULL for local users.';
COMMENT ON COLUMN ss_staging.orphan_accounts.is_application_account IS 'True for application (API) accounts.';
COMMENT ON COLUMN ss_staging.orphan_accounts.last_login IS 'Last successful login; NULL if never.';
COMMENT ON COLUMN ss_staging.orphan_accounts.created IS 'When the account was created in Secret Server.';

-- One aggregate over secrets and paths together rather than a join: the effective-access side can be
-- tens of millions of rows, and no row estimate can then lead the planner into a nested loop.
CREATE VIEW ss_staging.unreachable_secrets AS
SELECT x.secret_id, max(x.secret_name) AS secret_name, bool_or(x.active) AS active, max(x.folder_id) AS folder_id,
       max(x.folder_path) AS folder_path, bool_or(x.inherits_permissions) AS inherits_permissions,
       bool_or(x.reached) AS latent_access
FROM (
    SELECT s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path, s.inherits_permissions,
           false AS reached, false AS live
    FROM ss_staging.secrets AS s
    LEFT JOIN ss_staging.folders AS f ON f.folder_id = s.folder_id AND f.deleted_at IS NULL
    WHERE s.deleted_at IS NULL
    UNION ALL
    SELECT a.secret_id, NULL, NULL, NULL, NULL, NULL, true, a.user_enabled AND coalesce(a.via_group_enabled, true)
    FROM ss_staging.effective_access AS a
) AS x
GROUP BY x.secret_id
HAVING NOT bool_or(x.live);
COMMENT ON VIEW ss_staging.unreachable_secrets IS
    'Secrets nobody can reach: no enabled user has a path to them (ss_staging.effective_access) other than through a disabled group. latent_access tells the ones only disabled users or disabled groups reach.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.secret_id IS 'Secret (ss_staging.secrets.secret_id).';
COMMENT ON COLUMN ss_staging.unreachable_secrets.secret_name IS 'Name of the secret.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.active IS 'False for an inactive secret.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.folder_id IS 'Folder holding the secret; NULL when in no folder.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.folder_path IS 'Path of that folder.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.inherits_permissions IS 'True when the secret takes its folder''s permissions.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.latent_access IS 'True when disabled users, or users through disabled groups, can reach it (access that returns on re-enabling); false when nobody at all can.';

CREATE FUNCTION ss_staging.access_gained_between(from_time timestamptz, to_time timestamptz)
RETURNS TABLE (user_id integer, user_name text, user_enabled boolean, secret_id integer, secret_name text,
               folder_path text, role text, previous_role text)
LANGUAGE sql STABLE AS $$
    -- Both pictures in one aggregate (no join of two large sets; see unreachable_secrets).
    SELECT x.user_id, max(x.user_name), bool_or(x.user_enabled), x.secret_id, max(x.secret_name),
           max(x.folder_path), ss_staging.secret_role_name(max(x.new_rank)),
           ss_staging.secret_role_name(max(x.old_rank))
    FROM (
        SELECT a.user_id, a.user_name, a.user_enabled, a.secret_id, a.secret_name, a.folder_path,
               ss_staging.secret_role_rank(a.role) AS new_rank, NULL::integer AS old_rank
        FROM ss_staging.effective_access_at(to_time) AS a
        UNION ALL
        SELECT b.user_id, NULL, NULL, b.secret_id, NULL, NULL, NULL, ss_staging.secret_role_rank(b.role)
        FROM ss_staging.effective_access_at(from_time) AS b
    ) AS x
    GROUP BY x.user_id, x.secret_id
    HAVING max(x.new_rank) > coalesce(max(x.old_rank), 0)
$$;
COMMENT ON FUNCTION ss_staging.access_gained_between(timestamptz, timestamptz) IS
    'User and secret pairs whose effective role at to_time is new or stronger than at from_time (both rebuilt from the change log; NULL means the current staging tables). previous_role NULL: no access before.';

CREATE VIEW ss_staging.access_gained_last_run AS
WITH last_run AS (
    SELECT r.run_id,
           (SELECT min(c.changed_at) FROM ss_staging.change_log AS c WHERE c.run_id = r.run_id) AS first_change,
           (SELECT max(c.changed_at) FROM ss_staging.change_log AS c WHERE c.run_id = r.run_id) AS last_change
    FROM ss_staging.reconciliation_runs AS r
    WHERE r.status = 'succeeded' AND NOT r.dry_run
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
    'Accounts that gained access in the last successful (non dry) reconciliation run: user and secret pairs with a new or stronger effective role just after the run''s changes than just before them (from the change log). Empty when that run changed nothing.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.run_id IS 'The run (ss_staging.reconciliation_runs.run_id).';
COMMENT ON COLUMN ss_staging.access_gained_last_run.user_id IS 'User who gained access.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.user_name IS 'Login name of the user.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.user_enabled IS 'False when the user is disabled (latent access).';
COMMENT ON COLUMN ss_staging.access_gained_last_run.secret_id IS 'Secret the user can now reach.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.secret_name IS 'Name of the secret.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.folder_path IS 'Path of the secret''s folder.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.role IS 'Effective role after the run.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.previous_role IS 'Effective role before the run; NULL when the user had no access.';

-- Analyst layer, part 2: who can reach which secret, since when, and why.
--
-- The rules (also in README.md, "Effective access"), written once here, over the <relation>_at(as_of)
-- functions of 006, so that the current view (as_of NULL) and the past (as_of a time) agree:
--  1. Every secret takes its permissions from exactly one list. A secret that breaks inheritance
--     (inherits_permissions false) uses its own rows in secret_permissions, and only those. A secret that
--     inherits uses the list of its folder.
--  2. A folder that breaks inheritance (inherit_permissions false) has its own rows in folder_permissions.
--     A folder that inherits has exactly the list of its parent, recursively up to the nearest folder that
--     breaks inheritance; rows recorded against an inheriting folder itself are ignored (in Secret Server
--     they only mirror the parent's list). A root folder (no parent, or its parent is not present) always
--     uses its own rows. A secret in no folder that inherits has no permissions.
--  3. A folder permission grants its secret_access_role on the secrets; "None" grants nothing.
--  4. A permission row with a user_id grants that user (group_id then holds the user's personal group and
--     is ignored). A row with only a group_id grants every current member of that group.
--  5. A user's role on a secret is the strongest of all the paths: List < View < Edit < Owner.
--  6. Removed objects (deleted_at set, or removed in the change log) take no part: a removed user, group,
--     membership, folder, secret or permission grants nothing. Disabled users, disabled groups and inactive
--     secrets do take part; their flags are columns, to filter on.
-- Cost: the expansion to users is done once per permission list (folders that break inheritance and secrets
-- that do), not once per secret; the strongest role is computed there too, since all the paths of a user to
-- a secret come from the secret's one list.

-- PL/pgSQL on purpose, like change_log_state_at: never inlined, computed once per query, with a sane row
-- estimate. Inlined, the recursive CTE's estimate (millions of rows for thousands of folders) inflated every
-- plan above it, and JIT compilation then cost seconds even on a question about one user.
CREATE FUNCTION ss_staging.folder_permission_sources_at(as_of timestamptz)
RETURNS TABLE (folder_id integer, source_folder_id integer, inherit_depth integer)
LANGUAGE plpgsql STABLE ROWS 20000 SET jit = off AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE f AS MATERIALIZED (
        SELECT r.folder_id, r.parent_folder_id, r.inherit_permissions FROM ss_staging.folders_at(as_of) AS r
    ), chain AS (
        SELECT f.folder_id, f.folder_id AS source_folder_id, 0 AS inherit_depth
        FROM f
        WHERE NOT f.inherit_permissions
           OR NOT EXISTS (SELECT 1 FROM f AS parent WHERE parent.folder_id = f.parent_folder_id)
        UNION ALL
        -- Descends only from sources, so a cycle of inheriting folders is never entered.
        SELECT child.folder_id, chain.source_folder_id, chain.inherit_depth + 1
        FROM chain JOIN f AS child ON child.parent_folder_id = chain.folder_id
        WHERE child.inherit_permissions
    )
    SELECT chain.folder_id, chain.source_folder_id, chain.inherit_depth FROM chain;
END
$$;
COMMENT ON FUNCTION ss_staging.folder_permission_sources_at(timestamptz) IS
    'For each folder present at as_of (NULL: now), the folder whose permission rows apply to it: itself when it breaks inheritance or is a root, else the nearest ancestor that breaks inheritance; inherit_depth counts the steps up.';

CREATE FUNCTION ss_staging.secret_permission_lists_at(as_of timestamptz)
RETURNS TABLE (secret_id integer, secret_name text, secret_active boolean, folder_id integer, folder_path text,
               list_kind text, list_id integer)
LANGUAGE sql STABLE AS $$
    SELECT s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path,
           CASE WHEN s.inherits_permissions THEN 'folder' ELSE 'secret' END,
           CASE WHEN s.inherits_permissions THEN src.source_folder_id ELSE s.secret_id END
    FROM ss_staging.secrets_at(as_of) AS s
    LEFT JOIN ss_staging.folders_at(as_of) AS f ON f.folder_id = s.folder_id
    LEFT JOIN ss_staging.folder_permission_sources_at(as_of) AS src ON src.folder_id = s.folder_id
    WHERE NOT s.inherits_permissions OR src.source_folder_id IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.secret_permission_lists_at(timestamptz) IS
    'For each secret present at as_of (NULL: now), with its name, flag and folder path, the permission list that applies: (''secret'', its own id) when it breaks inheritance, (''folder'', source folder id) when it inherits; no row when it inherits from no folder.';

CREATE FUNCTION ss_staging.permission_list_entries_at(as_of timestamptz)
RETURNS TABLE (list_kind text, list_id integer, permission_id integer, user_id integer, group_id integer,
               secret_access_role text, role_rank integer)
LANGUAGE sql STABLE AS $$
    SELECT 'secret', p.secret_id, p.secret_permission_id, p.user_id, p.group_id, p.secret_access_role,
           ss_staging.secret_role_rank(p.secret_access_role)
    FROM ss_staging.secret_permissions_at(as_of) AS p
    JOIN ss_staging.secrets_at(as_of) AS s ON s.secret_id = p.secret_id AND NOT s.inherits_permissions
    WHERE ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
    UNION ALL
    SELECT 'folder', p.folder_id, p.folder_permission_id, p.user_id, p.group_id, p.secret_access_role,
           ss_staging.secret_role_rank(p.secret_access_role)
    FROM ss_staging.folder_permissions_at(as_of) AS p
    JOIN ss_staging.folder_permission_sources_at(as_of) AS src
      ON src.folder_id = p.folder_id AND src.source_folder_id = p.folder_id
    WHERE ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.permission_list_entries_at(timestamptz) IS
    'The permission rows in force at as_of (NULL: now) that grant a role on secrets, by list: own rows of secrets that break inheritance, and rows of folders that are a permission source (break inheritance or are roots). Role None and rows of inheriting objects are left out.';

CREATE FUNCTION ss_staging.direct_access_at(as_of timestamptz)
RETURNS TABLE (secret_id integer, secret_name text, folder_path text, holder_kind text,
               user_id integer, user_name text, group_id integer, group_name text,
               secret_access_role text, permission_kind text, permission_id integer, via_folder_id integer)
LANGUAGE sql STABLE ROWS 100000 SET jit = off AS $$
    SELECT l.secret_id, l.secret_name, l.folder_path,
           CASE WHEN e.user_id IS NOT NULL THEN 'user' ELSE 'group' END,
           e.user_id, u.user_name, CASE WHEN e.user_id IS NULL THEN e.group_id END, g.group_name,
           e.secret_access_role, e.list_kind, e.permission_id,
           CASE WHEN e.list_kind = 'folder' THEN e.list_id END
    FROM ss_staging.secret_permission_lists_at(as_of) AS l
    JOIN ss_staging.permission_list_entries_at(as_of) AS e ON e.list_kind = l.list_kind AND e.list_id = l.list_id
    LEFT JOIN ss_staging.users_at(as_of) AS u ON u.user_id = e.user_id
    LEFT JOIN ss_staging.groups_at(as_of) AS g ON g.group_id = e.group_id AND e.user_id IS NULL
$$;
COMMENT ON FUNCTION ss_staging.direct_access_at(timestamptz) IS
    'Permission rows in force on each secret at as_of (NULL: now), not expanded to group members: who holds the secret directly, as a user or a group, through the secret''s own permissions (permission_kind secret) or its folder''s (permission_kind folder, via_folder_id the source folder). Who had direct access to secret X at T: SELECT * FROM ss_staging.direct_access_at(T) WHERE secret_id = X.';

CREATE FUNCTION ss_staging.effective_access_rules(as_of timestamptz)
RETURNS TABLE (user_id integer, user_name text, domain_name text, user_enabled boolean,
               secret_id integer, secret_name text, secret_active boolean, folder_id integer, folder_path text,
               role text, path_role text, via text, via_permission_id integer,
               via_group_id integer, via_group_name text, via_group_enabled boolean,
               via_folder_id integer, via_folder_path text)
LANGUAGE sql STABLE AS $$
    -- Everything about a path but the secret is settled per permission list (ranked), then each secret takes
    -- the rows of its list in a single join: no join sits on top of the big one, whatever the estimates.
    WITH holders AS (
        SELECT e.list_kind, e.list_id, e.permission_id, e.role_rank, e.user_id,
               NULL::integer AS via_group_id, NULL::text AS via_group_name, NULL::boolean AS via_group_enabled
        FROM ss_staging.permission_list_entries_at(as_of) AS e
        WHERE e.user_id IS NOT NULL
        UNION ALL
        SELECT e.list_kind, e.list_id, e.permission_id, e.role_rank, m.user_id, g.group_id, g.group_name, g.enabled
        FROM ss_staging.permission_list_entries_at(as_of) AS e
        JOIN ss_staging.groups_at(as_of) AS g ON g.group_id = e.group_id
        JOIN ss_staging.group_members_at(as_of) AS m ON m.group_id = e.group_id
        WHERE e.user_id IS NULL
    ), ranked AS (
        SELECT h.*, u.user_name, u.domain_name, u.enabled AS user_enabled, vf.folder_path AS via_folder_path,
               max(h.role_rank) OVER (PARTITION BY h.list_kind, h.list_id, h.user_id) AS best_rank
        FROM holders AS h
        JOIN ss_staging.users_at(as_of) AS u ON u.user_id = h.user_id
        LEFT JOIN ss_staging.folders_at(as_of) AS vf ON vf.folder_id = h.list_id AND h.list_kind = 'folder'
    )
    SELECT r.user_id, r.user_name, r.domain_name, r.user_enabled,
           l.secret_id, l.secret_name, l.secret_active, l.folder_id, l.folder_path,
           ss_staging.secret_role_name(r.best_rank), ss_staging.secret_role_name(r.role_rank),
           CASE WHEN r.list_kind = 'secret' AND r.via_group_id IS NULL THEN 'direct'
                WHEN r.list_kind = 'secret' THEN 'group'
                WHEN r.via_group_id IS NULL THEN 'folder'
                ELSE 'folder group' END,
           r.permission_id, r.via_group_id, r.via_group_name, r.via_group_enabled,
           CASE WHEN r.list_kind = 'folder' THEN r.list_id END, r.via_folder_path
    FROM ss_staging.secret_permission_lists_at(as_of) AS l
    JOIN ranked AS r ON r.list_kind = l.list_kind AND r.list_id = l.list_id
$$;
COMMENT ON FUNCTION ss_staging.effective_access_rules(timestamptz) IS
    'The effective-access rules, written once: the rows of ss_staging.effective_access for the state at as_of (NULL: the current staging tables). Inlined by PostgreSQL into the view, so filters on the view reach the tables.';

CREATE VIEW ss_staging.effective_access AS
SELECT * FROM ss_staging.effective_access_rules(NULL);
COMMENT ON VIEW ss_staging.effective_access IS
    'Who can reach which secret now, and why: one row per user, secret and path that grants a role (direct secret permission, group permission on the secret, or the permissions of the secret''s folder, directly or through a group, following folder inheritance). Rules in README.md, "Effective access". Removed objects excluded; disabled users, disabled groups and inactive secrets included with their flags. For a past time: ss_staging.effective_access_at(T).';
COMMENT ON COLUMN ss_staging.effective_access.user_id IS 'User who can reach the secret (ss_staging.users.user_id).';
COMMENT ON COLUMN ss_staging.effective_access.user_name IS 'Login name of the user.';
COMMENT ON COLUMN ss_staging.effective_access.domain_name IS 'Active Directory domain of the user; NULL for local users.';
COMMENT ON COLUMN ss_staging.effective_access.user_enabled IS 'False when the user is disabled: the access is latent (it returns if the account is enabled again).';
COMMENT ON COLUMN ss_staging.effective_access.secret_id IS 'Secret reached (ss_staging.secrets.secret_id).';
COMMENT ON COLUMN ss_staging.effective_access.secret_name IS 'Name of the secret.';
COMMENT ON COLUMN ss_staging.effective_access.secret_active IS 'False for an inactive secret.';
COMMENT ON COLUMN ss_staging.effective_access.folder_id IS 'Folder holding the secret; NULL when in no folder.';
COMMENT ON COLUMN ss_staging.effective_access.folder_path IS 'Path of the folder holding the secret.';
COMMENT ON COLUMN ss_staging.effective_access.role IS 'The role the user effectively holds on the secret: the strongest over all its paths (List < View < Edit < Owner); the same on every row of the user and secret.';
COMMENT ON COLUMN ss_staging.effective_access.path_role IS 'The role this path grants.';
COMMENT ON COLUMN ss_staging.effective_access.via IS 'Kind of path: direct (user permission on the secret), group (group permission on the secret), folder (user permission on the folder), folder group (group permission on the folder).';
COMMENT ON COLUMN ss_staging.effective_access.via_permission_id IS 'The permission row granting this path: secret_permission_id for direct and group, folder_permission_id for folder and folder group.';
COMMENT ON COLUMN ss_staging.effective_access.via_group_id IS 'Group the user is a member of, for group and folder group paths; NULL otherwise.';
COMMENT ON COLUMN ss_staging.effective_access.via_group_name IS 'Name of that group.';
COMMENT ON COLUMN ss_staging.effective_access.via_group_enabled IS 'False when that group is disabled.';
COMMENT ON COLUMN ss_staging.effective_access.via_folder_id IS 'Folder whose permission rows grant this path (for folder and folder group): the secret''s folder, or the ancestor it inherits from; NULL for the secret''s own permissions.';
COMMENT ON COLUMN ss_staging.effective_access.via_folder_path IS 'Path of that folder.';

-- The as-of entry point is not inlined (a SET clause prevents it): its plan rests on row estimates of
-- relations rebuilt from the change log, which are rough, and JIT compilation triggered by them would cost
-- seconds on a query that runs in milliseconds.
CREATE FUNCTION ss_staging.effective_access_at(as_of timestamptz)
RETURNS SETOF ss_staging.effective_access
LANGUAGE sql STABLE ROWS 100000 SET jit = off AS $$
    SELECT * FROM ss_staging.effective_access_rules(as_of)
$$;
COMMENT ON FUNCTION ss_staging.effective_access_at(timestamptz) IS
    'Effective access at a past time as_of, rebuilt from the change log: the same rows and rules as the view ss_staging.effective_access, for the state at that time. NULL: the current staging tables.';

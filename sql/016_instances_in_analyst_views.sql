-- The analyst layer of 006-009 and 013 across several Secret Server instances (issue 19).
--
-- Migration 014 put the instance into every staging key: user 7 of instance "prod" and user 7 of instance "dr"
-- are two rows. This migration makes every analyst function and view follow it:
--  * every result gains a column `instance`, placed LAST (where 014 put it in the staging tables, so the
--    <relation>_at(as_of) functions, which return the tables' rows, and everything else read alike, and the
--    existing columns keep their names and positions);
--  * every join matches the instance as well as the ids, so nothing of one instance meets another's;
--  * the past is replayed per (instance, object): change_log.instance says whose change it was (the before and
--    after values do not carry it);
--  * access_gained_last_run is the last run of each instance;
--  * the materialized view folder_permission_sources is keyed (instance, folder_id).
-- "Who can reach secret X on instance A": ... FROM ss_staging.effective_access WHERE instance = 'a' AND
-- secret_id = X; "on any instance": the same without the instance. Both are answered from indexes.
-- The rules themselves (README "Effective access") do not change.
--
-- Return types change, so the objects are dropped and created again, dependents first.

DROP VIEW ss_staging.access_gained_last_run;
DROP FUNCTION ss_staging.access_gained_between(timestamptz, timestamptz);
DROP VIEW ss_staging.unreachable_secrets;
DROP VIEW ss_staging.orphan_accounts;
DROP VIEW ss_staging.folder_owners;
DROP FUNCTION ss_staging.effective_access_at(timestamptz);
DROP VIEW ss_staging.effective_access;
DROP FUNCTION ss_staging.effective_access_rules(timestamptz);
DROP FUNCTION ss_staging.direct_access_at(timestamptz);
DROP FUNCTION ss_staging.permission_list_entries_at(timestamptz);
DROP FUNCTION ss_staging.secret_permission_lists_at(timestamptz);
DROP TRIGGER folders_inserted_refresh_permission_sources ON ss_staging.folders;
DROP TRIGGER folders_updated_refresh_permission_sources ON ss_staging.folders;
DROP TRIGGER folders_deleted_refresh_permission_sources ON ss_staging.folders;
DROP TRIGGER folders_truncated_refresh_permission_sources ON ss_staging.folders;
DROP FUNCTION ss_staging.refresh_folder_permission_sources();
DROP MATERIALIZED VIEW ss_staging.folder_permission_sources;
DROP FUNCTION ss_staging.folder_permission_sources_at(timestamptz);
DROP FUNCTION ss_staging.change_log_state_at(text, timestamptz);

-- "On any instance": the staging keys lead with the instance, and PostgreSQL 15 cannot skip over a leading
-- column, so a question naming a secret or a user but no instance needs indexes of its own.
CREATE INDEX secrets_secret_id_idx ON ss_staging.secrets (secret_id);
CREATE INDEX users_any_instance_user_name_idx ON ss_staging.users (lower(user_name));

-- As-of replay per instance (006).
CREATE FUNCTION ss_staging.change_log_state_at(entity text, as_of timestamptz)
RETURNS TABLE (instance text, object_key text, state jsonb)
LANGUAGE plpgsql STABLE ROWS 10000 AS $$
BEGIN
    RETURN QUERY
    SELECT latest.instance, latest.object_key, latest.after
    FROM (
        SELECT DISTINCT ON (c.instance, c.object_key) c.instance, c.object_key, c.change_type, c.after
        FROM ss_staging.change_log AS c
        WHERE c.entity = change_log_state_at.entity AND c.changed_at <= change_log_state_at.as_of
        ORDER BY c.instance, c.object_key, c.changed_at DESC, c.change_id DESC
    ) AS latest
    WHERE latest.change_type <> 'removed' AND latest.after IS NOT NULL;
END
$$;
COMMENT ON FUNCTION ss_staging.change_log_state_at(text, timestamptz) IS
    'Objects of one entity (staging table name) present at as_of, from the change log, per instance: the "after" values of each (instance, object_key)''s latest change at or before as_of, unless that change is a removal. The instance comes from change_log.instance.';

-- The instance is set last, from the change log: the state JSON does not carry it.
CREATE OR REPLACE FUNCTION ss_staging.users_at(as_of timestamptz) RETURNS SETOF ss_staging.users
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.users WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('users', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.users, jsonb_build_object('user_id', s.object_key::integer) || s.state
                                || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.users_at(timestamptz) IS
    'Users of every instance present at as_of (rebuilt from the change log, per instance); NULL: the current rows of ss_staging.users.';

CREATE OR REPLACE FUNCTION ss_staging.groups_at(as_of timestamptz) RETURNS SETOF ss_staging.groups
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.groups WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('groups', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.groups, jsonb_build_object('group_id', s.object_key::integer) || s.state
                                 || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.groups_at(timestamptz) IS
    'Groups of every instance present at as_of (rebuilt from the change log, per instance); NULL: the current rows of ss_staging.groups.';

CREATE OR REPLACE FUNCTION ss_staging.group_members_at(as_of timestamptz) RETURNS SETOF ss_staging.group_members
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.group_members WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('group_members', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.group_members,
        jsonb_build_object('group_id', split_part(s.object_key, ':', 1)::integer,
                           'user_id', split_part(s.object_key, ':', 2)::integer) || s.state
        || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.group_members_at(timestamptz) IS
    'Group memberships of every instance present at as_of (rebuilt from the change log, per instance, key "group_id:user_id"); NULL: the current rows of ss_staging.group_members.';

CREATE OR REPLACE FUNCTION ss_staging.folders_at(as_of timestamptz) RETURNS SETOF ss_staging.folders
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.folders WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('folders', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.folders, jsonb_build_object('folder_id', s.object_key::integer) || s.state
                                  || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.folders_at(timestamptz) IS
    'Folders of every instance present at as_of (rebuilt from the change log, per instance); NULL: the current rows of ss_staging.folders.';

CREATE OR REPLACE FUNCTION ss_staging.folder_permissions_at(as_of timestamptz)
RETURNS SETOF ss_staging.folder_permissions
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.folder_permissions WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('folder_permissions', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.folder_permissions,
        jsonb_build_object('folder_permission_id', s.object_key::integer) || s.state
        || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.folder_permissions_at(timestamptz) IS
    'Folder permissions of every instance present at as_of (rebuilt from the change log, per instance); NULL: the current rows of ss_staging.folder_permissions.';

CREATE OR REPLACE FUNCTION ss_staging.secrets_at(as_of timestamptz) RETURNS SETOF ss_staging.secrets
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.secrets WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('secrets', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.secrets, jsonb_build_object('secret_id', s.object_key::integer) || s.state
                                  || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.secrets_at(timestamptz) IS
    'Secrets of every instance present at as_of (rebuilt from the change log, per instance); NULL: the current rows of ss_staging.secrets.';

CREATE OR REPLACE FUNCTION ss_staging.secret_permissions_at(as_of timestamptz)
RETURNS SETOF ss_staging.secret_permissions
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.secret_permissions WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('secret_permissions', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.secret_permissions,
        jsonb_build_object('secret_permission_id', s.object_key::integer) || s.state
        || jsonb_build_object('instance', s.instance)) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.secret_permissions_at(timestamptz) IS
    'Secret permissions of every instance present at as_of (rebuilt from the change log, per instance); NULL: the current rows of ss_staging.secret_permissions.';

-- Effective-access rules over the *_at functions (007), every join within one instance. The OUT column
-- `instance` shares its name with the tables' columns: every reference below is qualified.
CREATE FUNCTION ss_staging.folder_permission_sources_at(as_of timestamptz)
RETURNS TABLE (folder_id integer, source_folder_id integer, inherit_depth integer, instance text)
LANGUAGE plpgsql STABLE ROWS 20000 SET jit = off AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE f AS MATERIALIZED (
        SELECT r.instance, r.folder_id, r.parent_folder_id, r.inherit_permissions
        FROM ss_staging.folders_at(as_of) AS r
    ), chain AS (
        SELECT f.instance, f.folder_id, f.folder_id AS source_folder_id, 0 AS inherit_depth
        FROM f
        WHERE NOT f.inherit_permissions
           OR NOT EXISTS (SELECT 1 FROM f AS parent
                          WHERE parent.instance = f.instance AND parent.folder_id = f.parent_folder_id)
        UNION ALL
        -- Descends only from sources, so a cycle of inheriting folders is never entered.
        SELECT child.instance, child.folder_id, chain.source_folder_id, chain.inherit_depth + 1
        FROM chain JOIN f AS child ON child.instance = chain.instance AND child.parent_folder_id = chain.folder_id
        WHERE child.inherit_permissions
    )
    SELECT chain.folder_id, chain.source_folder_id, chain.inherit_depth, chain.instance FROM chain;
END
$$;
COMMENT ON FUNCTION ss_staging.folder_permission_sources_at(timestamptz) IS
    'For each folder of each instance present at as_of (NULL: now), the folder of the same instance whose permission rows apply to it: itself when it breaks inheritance or is a root, else the nearest ancestor that breaks inheritance; inherit_depth counts the steps up.';

-- PL/pgSQL now, like folder_permission_sources_at: with the instance in every join condition the planner's
-- estimate of this join fell to one row, and effective_access_at then re-ran the folders' replay inside a nested
-- loop for every row above it (6.6 s at scale s with two instances; 50 ms computed once into a tuplestore).
CREATE FUNCTION ss_staging.secret_permission_lists_at(as_of timestamptz)
RETURNS TABLE (secret_id integer, secret_name text, secret_active boolean, folder_id integer, folder_path text,
               list_kind text, list_id integer, instance text)
LANGUAGE plpgsql STABLE ROWS 20000 SET jit = off AS $$
BEGIN
    RETURN QUERY
    SELECT s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path,
           CASE WHEN s.inherits_permissions THEN 'folder' ELSE 'secret' END,
           CASE WHEN s.inherits_permissions THEN src.source_folder_id ELSE s.secret_id END,
           s.instance
    FROM ss_staging.secrets_at(as_of) AS s
    LEFT JOIN ss_staging.folders_at(as_of) AS f ON f.instance = s.instance AND f.folder_id = s.folder_id
    LEFT JOIN ss_staging.folder_permission_sources_at(as_of) AS src
      ON src.instance = s.instance AND src.folder_id = s.folder_id
    WHERE NOT s.inherits_permissions OR src.source_folder_id IS NOT NULL;
END
$$;
COMMENT ON FUNCTION ss_staging.secret_permission_lists_at(timestamptz) IS
    'For each secret of each instance present at as_of (NULL: now), with its name, flag and folder path, the permission list of the same instance that applies: (''secret'', its own id) when it breaks inheritance, (''folder'', source folder id) when it inherits; no row when it inherits from no folder.';

CREATE FUNCTION ss_staging.permission_list_entries_at(as_of timestamptz)
RETURNS TABLE (list_kind text, list_id integer, permission_id integer, user_id integer, group_id integer,
               secret_access_role text, role_rank integer, instance text)
LANGUAGE sql STABLE AS $$
    SELECT 'secret', p.secret_id, p.secret_permission_id, p.user_id, p.group_id, p.secret_access_role,
           ss_staging.secret_role_rank(p.secret_access_role), p.instance
    FROM ss_staging.secret_permissions_at(as_of) AS p
    JOIN ss_staging.secrets_at(as_of) AS s
      ON s.instance = p.instance AND s.secret_id = p.secret_id AND NOT s.inherits_permissions
    WHERE ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
    UNION ALL
    SELECT 'folder', p.folder_id, p.folder_permission_id, p.user_id, p.group_id, p.secret_access_role,
           ss_staging.secret_role_rank(p.secret_access_role), p.instance
    FROM ss_staging.folder_permissions_at(as_of) AS p
    JOIN ss_staging.folder_permission_sources_at(as_of) AS src
      ON src.instance = p.instance AND src.folder_id = p.folder_id AND src.source_folder_id = p.folder_id
    WHERE ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.permission_list_entries_at(timestamptz) IS
    'The permission rows of each instance in force at as_of (NULL: now) that grant a role on secrets, by list: own rows of secrets that break inheritance, and rows of folders that are a permission source (break inheritance or are roots). Role None and rows of inheriting objects are left out.';

CREATE FUNCTION ss_staging.direct_access_at(as_of timestamptz)
RETURNS TABLE (secret_id integer, secret_name text, folder_path text, holder_kind text,
               user_id integer, user_name text, group_id integer, group_name text,
               secret_access_role text, permission_kind text, permission_id integer, via_folder_id integer,
               instance text)
LANGUAGE sql STABLE ROWS 100000 SET jit = off AS $$
    SELECT l.secret_id, l.secret_name, l.folder_path,
           CASE WHEN e.user_id IS NOT NULL THEN 'user' ELSE 'group' END,
           e.user_id, u.user_name, CASE WHEN e.user_id IS NULL THEN e.group_id END, g.group_name,
           e.secret_access_role, e.list_kind, e.permission_id,
           CASE WHEN e.list_kind = 'folder' THEN e.list_id END,
           l.instance
    FROM ss_staging.secret_permission_lists_at(as_of) AS l
    JOIN ss_staging.permission_list_entries_at(as_of) AS e
      ON e.instance = l.instance AND e.list_kind = l.list_kind AND e.list_id = l.list_id
    LEFT JOIN ss_staging.users_at(as_of) AS u ON u.instance = e.instance AND u.user_id = e.user_id
    LEFT JOIN ss_staging.groups_at(as_of) AS g
      ON g.instance = e.instance AND g.group_id = e.group_id AND e.user_id IS NULL
$$;
COMMENT ON FUNCTION ss_staging.direct_access_at(timestamptz) IS
    'Permission rows in force on each secret of each instance at as_of (NULL: now), not expanded to group members: who holds the secret directly, as a user or a group, through the secret''s own permissions (permission_kind secret) or its folder''s (permission_kind folder, via_folder_id the source folder). Who had direct access to secret X of instance A at T: SELECT * FROM ss_staging.direct_access_at(T) WHERE instance = ''a'' AND secret_id = X.';

CREATE FUNCTION ss_staging.effective_access_rules(as_of timestamptz)
RETURNS TABLE (user_id integer, user_name text, domain_name text, user_enabled boolean,
               secret_id integer, secret_name text, secret_active boolean, folder_id integer, folder_path text,
               role text, path_role text, via text, via_permission_id integer,
               via_group_id integer, via_group_name text, via_group_enabled boolean,
               via_folder_id integer, via_folder_path text, instance text)
LANGUAGE sql STABLE AS $$
    -- Everything about a path but the secret is settled per permission list (ranked), then each secret takes
    -- the rows of its list in a single join: no join sits on top of the big one, whatever the estimates.
    WITH holders AS (
        SELECT e.instance, e.list_kind, e.list_id, e.permission_id, e.role_rank, e.user_id,
               NULL::integer AS via_group_id, NULL::text AS via_group_name, NULL::boolean AS via_group_enabled
        FROM ss_staging.permission_list_entries_at(as_of) AS e
        WHERE e.user_id IS NOT NULL
        UNION ALL
        SELECT e.instance, e.list_kind, e.list_id, e.permission_id, e.role_rank, m.user_id,
               g.group_id, g.group_name, g.enabled
        FROM ss_staging.permission_list_entries_at(as_of) AS e
        JOIN ss_staging.groups_at(as_of) AS g ON g.instance = e.instance AND g.group_id = e.group_id
        JOIN ss_staging.group_members_at(as_of) AS m ON m.instance = e.instance AND m.group_id = e.group_id
        WHERE e.user_id IS NULL
    ), ranked AS (
        SELECT h.*, u.user_name, u.domain_name, u.enabled AS user_enabled, vf.folder_path AS via_folder_path,
               max(h.role_rank) OVER (PARTITION BY h.instance, h.list_kind, h.list_id, h.user_id) AS best_rank
        FROM holders AS h
        JOIN ss_staging.users_at(as_of) AS u ON u.instance = h.instance AND u.user_id = h.user_id
        LEFT JOIN ss_staging.folders_at(as_of) AS vf
          ON vf.instance = h.instance AND vf.folder_id = h.list_id AND h.list_kind = 'folder'
    )
    SELECT r.user_id, r.user_name, r.domain_name, r.user_enabled,
           l.secret_id, l.secret_name, l.secret_active, l.folder_id, l.folder_path,
           ss_staging.secret_role_name(r.best_rank), ss_staging.secret_role_name(r.role_rank),
           CASE WHEN r.list_kind = 'secret' AND r.via_group_id IS NULL THEN 'direct'
                WHEN r.list_kind = 'secret' THEN 'group'
                WHEN r.via_group_id IS NULL THEN 'folder'
                ELSE 'folder group' END,
           r.permission_id, r.via_group_id, r.via_group_name, r.via_group_enabled,
           CASE WHEN r.list_kind = 'folder' THEN r.list_id END, r.via_folder_path,
           l.instance
    FROM ss_staging.secret_permission_lists_at(as_of) AS l
    JOIN ranked AS r ON r.instance = l.instance AND r.list_kind = l.list_kind AND r.list_id = l.list_id
$$;
COMMENT ON FUNCTION ss_staging.effective_access_rules(timestamptz) IS
    'The effective-access rules over the state at as_of of every instance, rebuilt set-based from the change log (NULL: the current staging tables): the rows of ss_staging.effective_access_at. The view ss_staging.effective_access applies the same rules to the staging tables directly, so that its filters reach their indexes.';

-- Folder permission sources kept for the view (013), per instance.
CREATE MATERIALIZED VIEW ss_staging.folder_permission_sources AS
SELECT folder_id, source_folder_id, inherit_depth, instance FROM ss_staging.folder_permission_sources_at(NULL);
CREATE UNIQUE INDEX folder_permission_sources_folder_idx
    ON ss_staging.folder_permission_sources (instance, folder_id);
CREATE INDEX folder_permission_sources_source_idx
    ON ss_staging.folder_permission_sources (instance, source_folder_id);
COMMENT ON MATERIALIZED VIEW ss_staging.folder_permission_sources IS
    'For each current folder of each instance, the folder whose permission rows apply to it (ss_staging.folder_permission_sources_at(NULL), kept so that ss_staging.effective_access finds it by index); keyed (instance, folder_id). Refreshed after every statement that changes ss_staging.folders; a folder inside a cycle of inheriting folders has no row.';
COMMENT ON COLUMN ss_staging.folder_permission_sources.folder_id IS 'Folder (ss_staging.folders.folder_id, within the instance).';
COMMENT ON COLUMN ss_staging.folder_permission_sources.source_folder_id IS 'The folder of the same instance whose permission rows apply to it: itself when it breaks inheritance or is a root, else the nearest ancestor that breaks inheritance.';
COMMENT ON COLUMN ss_staging.folder_permission_sources.inherit_depth IS 'Steps up from the folder to its source (0: the folder itself).';
COMMENT ON COLUMN ss_staging.folder_permission_sources.instance IS 'Secret Server instance of the folder and its source.';

-- As in 013: refreshed only when a statement added, removed or re-parented a folder or changed its inheritance.
CREATE FUNCTION ss_staging.refresh_folder_permission_sources() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
BEGIN
    -- one IF per operation: a statement may only name the transition tables of its own trigger
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM after_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM before_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT a.instance, a.folder_id, a.parent_folder_id, a.inherit_permissions,
                              a.deleted_at IS NULL
                       FROM after_rows AS a
                       EXCEPT
                       SELECT b.instance, b.folder_id, b.parent_folder_id, b.inherit_permissions,
                              b.deleted_at IS NULL
                       FROM before_rows AS b) THEN
            RETURN NULL;
        END IF;
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY ss_staging.folder_permission_sources;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ss_staging.refresh_folder_permission_sources() IS
    'Trigger function: brings the materialized view ss_staging.folder_permission_sources in line with ss_staging.folders after a statement that added, removed or re-parented a folder of any instance, or changed its inheritance.';

CREATE TRIGGER folders_inserted_refresh_permission_sources AFTER INSERT ON ss_staging.folders
REFERENCING NEW TABLE AS after_rows
FOR EACH STATEMENT EXECUTE FUNCTION ss_staging.refresh_folder_permission_sources();
CREATE TRIGGER folders_updated_refresh_permission_sources AFTER UPDATE ON ss_staging.folders
REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
FOR EACH STATEMENT EXECUTE FUNCTION ss_staging.refresh_folder_permission_sources();
CREATE TRIGGER folders_deleted_refresh_permission_sources AFTER DELETE ON ss_staging.folders
REFERENCING OLD TABLE AS before_rows
FOR EACH STATEMENT EXECUTE FUNCTION ss_staging.refresh_folder_permission_sources();
CREATE TRIGGER folders_truncated_refresh_permission_sources AFTER TRUNCATE ON ss_staging.folders
FOR EACH STATEMENT EXECUTE FUNCTION ss_staging.refresh_folder_permission_sources();

-- The current view (013): flat joins from the secret to the user, each matching the instance. The instance is
-- in the window's partition (with the secret's and the user's columns), so a filter on it, on the secret or on
-- the user is applied below the window, before anything is expanded.
-- Planning time: the instance equalities link every inner-joined relation of a branch to every other, so the
-- planner weighs every join order (seen: planning a one-secret question went from 3 ms to 35-100 ms at scale m,
-- for a 1 ms execution). The folders read only for their paths are therefore outer-joined, out of that search.
CREATE VIEW ss_staging.effective_access AS
WITH own_lists AS NOT MATERIALIZED (  -- secrets that break inheritance: their own permission rows
    SELECT s.instance, s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path,
           p.secret_permission_id AS permission_id, p.user_id, p.group_id,
           ss_staging.secret_role_rank(p.secret_access_role) AS role_rank
    FROM ss_staging.secrets AS s
    JOIN ss_staging.secret_permissions AS p
      ON p.instance = s.instance AND p.secret_id = s.secret_id AND p.deleted_at IS NULL
    LEFT JOIN ss_staging.folders AS f
      ON f.instance = s.instance AND f.folder_id = s.folder_id AND f.deleted_at IS NULL
    WHERE s.deleted_at IS NULL AND NOT s.inherits_permissions
      AND ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
), folder_lists AS NOT MATERIALIZED (  -- secrets that inherit: the rows of their folder's permission source
    SELECT s.instance, s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path,
           p.folder_permission_id AS permission_id, p.user_id, p.group_id,
           ss_staging.secret_role_rank(p.secret_access_role) AS role_rank,
           src.source_folder_id, via.folder_path AS via_folder_path
    FROM ss_staging.secrets AS s
    JOIN ss_staging.folder_permission_sources AS src ON src.instance = s.instance AND src.folder_id = s.folder_id
    JOIN ss_staging.folder_permissions AS p
      ON p.instance = s.instance AND p.folder_id = src.source_folder_id AND p.deleted_at IS NULL
    -- Lookups of the two paths: both folders are current whenever src has the row (src follows every change of
    -- the folders), so an outer join loses nothing, and it keeps them out of the join search (see above).
    LEFT JOIN ss_staging.folders AS f ON f.instance = s.instance AND f.folder_id = s.folder_id
    LEFT JOIN ss_staging.folders AS via ON via.instance = s.instance AND via.folder_id = src.source_folder_id
    WHERE s.deleted_at IS NULL AND s.inherits_permissions
      AND ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
), paths AS (
    SELECT o.instance, u.user_id, u.user_name, u.domain_name, u.enabled AS user_enabled, o.secret_id,
           o.secret_name, o.active AS secret_active, o.folder_id, o.folder_path, o.role_rank, 'direct' AS via,
           o.permission_id, NULL::integer AS via_group_id, NULL::text AS via_group_name,
           NULL::boolean AS via_group_enabled, NULL::integer AS via_folder_id, NULL::text AS via_folder_path
    FROM own_lists AS o
    JOIN ss_staging.users AS u ON u.instance = o.instance AND u.user_id = o.user_id AND u.deleted_at IS NULL
    UNION ALL
    SELECT o.instance, u.user_id, u.user_name, u.domain_name, u.enabled, o.secret_id, o.secret_name, o.active,
           o.folder_id, o.folder_path, o.role_rank, 'group', o.permission_id, g.group_id, g.group_name, g.enabled,
           NULL, NULL
    FROM own_lists AS o
    JOIN ss_staging.groups AS g ON g.instance = o.instance AND g.group_id = o.group_id AND g.deleted_at IS NULL
    JOIN ss_staging.group_members AS m
      ON m.instance = o.instance AND m.group_id = o.group_id AND m.deleted_at IS NULL
    JOIN ss_staging.users AS u ON u.instance = o.instance AND u.user_id = m.user_id AND u.deleted_at IS NULL
    WHERE o.user_id IS NULL
    UNION ALL
    SELECT o.instance, u.user_id, u.user_name, u.domain_name, u.enabled, o.secret_id, o.secret_name, o.active,
           o.folder_id, o.folder_path, o.role_rank, 'folder', o.permission_id, NULL, NULL, NULL, o.source_folder_id,
           o.via_folder_path
    FROM folder_lists AS o
    JOIN ss_staging.users AS u ON u.instance = o.instance AND u.user_id = o.user_id AND u.deleted_at IS NULL
    UNION ALL
    SELECT o.instance, u.user_id, u.user_name, u.domain_name, u.enabled, o.secret_id, o.secret_name, o.active,
           o.folder_id, o.folder_path, o.role_rank, 'folder group', o.permission_id, g.group_id, g.group_name,
           g.enabled, o.source_folder_id, o.via_folder_path
    FROM folder_lists AS o
    JOIN ss_staging.groups AS g ON g.instance = o.instance AND g.group_id = o.group_id AND g.deleted_at IS NULL
    JOIN ss_staging.group_members AS m
      ON m.instance = o.instance AND m.group_id = o.group_id AND m.deleted_at IS NULL
    JOIN ss_staging.users AS u ON u.instance = o.instance AND u.user_id = m.user_id AND u.deleted_at IS NULL
    WHERE o.user_id IS NULL
)
SELECT p.user_id, p.user_name, p.domain_name, p.user_enabled,
       p.secret_id, p.secret_name, p.secret_active, p.folder_id, p.folder_path,
       ss_staging.secret_role_name(max(p.role_rank) OVER (PARTITION BY p.instance, p.secret_id, p.user_id,
           p.user_name, p.domain_name, p.user_enabled, p.secret_name, p.secret_active, p.folder_id,
           p.folder_path)) AS role,
       ss_staging.secret_role_name(p.role_rank) AS path_role, p.via, p.permission_id AS via_permission_id,
       p.via_group_id, p.via_group_name, p.via_group_enabled, p.via_folder_id, p.via_folder_path,
       p.instance
FROM paths AS p;
COMMENT ON VIEW ss_staging.effective_access IS
    'Who can reach which secret now, and why, on every Secret Server instance: one row per instance, user, secret and path that grants a role (direct secret permission, group permission on the secret, or the permissions of the secret''s folder, directly or through a group, following folder inheritance); every path stays within its instance. Rules in README.md, "Effective access". Removed objects excluded; disabled users, disabled groups and inactive secrets included with their flags. Answered from indexes: a filter on the secret with or without the instance (WHERE instance = ''a'' AND secret_id = X: on instance a; WHERE secret_id = X: secret X of any instance), on the user (instance and user_id), or on lower(user_name) with or without the instance. For a past time: ss_staging.effective_access_at(T).';
COMMENT ON COLUMN ss_staging.effective_access.user_id IS 'User who can reach the secret (ss_staging.users.user_id, within the instance).';
COMMENT ON COLUMN ss_staging.effective_access.user_name IS 'Login name of the user.';
COMMENT ON COLUMN ss_staging.effective_access.domain_name IS 'Active Directory domain of the user; NULL for local users.';
COMMENT ON COLUMN ss_staging.effective_access.user_enabled IS 'False when the user is disabled: the access is latent (it returns if the account is enabled again).';
COMMENT ON COLUMN ss_staging.effective_access.secret_id IS 'Secret reached (ss_staging.secrets.secret_id, within the instance).';
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
COMMENT ON COLUMN ss_staging.effective_access.instance IS 'Secret Server instance of the secret, the user and every object of the path (ss_staging.users.instance).';

-- As in 007: not inlined (a SET clause prevents it), so rough row estimates of the replay trigger no JIT.
CREATE FUNCTION ss_staging.effective_access_at(as_of timestamptz)
RETURNS SETOF ss_staging.effective_access
LANGUAGE sql STABLE ROWS 100000 SET jit = off AS $$
    SELECT * FROM ss_staging.effective_access_rules(as_of)
$$;
COMMENT ON FUNCTION ss_staging.effective_access_at(timestamptz) IS
    'Effective access on every instance at a past time as_of, rebuilt from the change log per instance: the same rows and rules as the view ss_staging.effective_access, for the state at that time. NULL: the current staging tables. On one instance: WHERE instance = ''a''.';

-- The auditors' views (008), per instance.
CREATE VIEW ss_staging.folder_owners AS
SELECT f.folder_id, f.folder_path,
       CASE WHEN p.user_id IS NOT NULL THEN 'user' ELSE 'group' END AS owner_kind,
       p.user_id, u.user_name,
       CASE WHEN p.user_id IS NULL THEN p.group_id END AS group_id, g.group_name,
       coalesce(u.enabled, g.enabled) AS owner_enabled,
       p.secret_access_role,
       src.source_folder_id AS via_folder_id,
       p.folder_permission_id,
       f.instance
FROM ss_staging.folders_at(NULL) AS f
JOIN ss_staging.folder_permission_sources_at(NULL) AS src ON src.instance = f.instance AND src.folder_id = f.folder_id
JOIN ss_staging.folder_permissions_at(NULL) AS p
  ON p.instance = f.instance AND p.folder_id = src.source_folder_id AND lower(p.folder_access_role) = 'owner'
LEFT JOIN ss_staging.users_at(NULL) AS u ON u.instance = f.instance AND u.user_id = p.user_id
LEFT JOIN ss_staging.groups_at(NULL) AS g
  ON g.instance = f.instance AND g.group_id = p.group_id AND p.user_id IS NULL
WHERE u.user_id IS NOT NULL OR g.group_id IS NOT NULL;
COMMENT ON VIEW ss_staging.folder_owners IS
    'Owners of each folder of each instance: one row per folder and user or group holding the Owner folder role, following folder inheritance (an inheriting folder has the owners of the folder it inherits from). Groups are not expanded; join ss_staging.group_members on (instance, group_id) for the people.';
COMMENT ON COLUMN ss_staging.folder_owners.folder_id IS 'Folder (ss_staging.folders.folder_id, within the instance).';
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
COMMENT ON COLUMN ss_staging.folder_owners.instance IS 'Secret Server instance of the folder, its owners and the permission row.';

CREATE VIEW ss_staging.orphan_accounts AS
SELECT u.user_id, u.user_name, u.display_name, u.domain_name, u.is_application_account, u.last_login, u.created,
       u.instance
FROM ss_staging.users AS u
WHERE u.deleted_at IS NULL AND u.enabled
  AND NOT EXISTS (
      SELECT 1 FROM ss_staging.group_members AS m
      JOIN ss_staging.groups AS g ON g.instance = m.instance AND g.group_id = m.group_id AND g.deleted_at IS NULL
      WHERE m.instance = u.instance AND m.user_id = u.user_id AND m.deleted_at IS NULL
        AND NOT (g.group_name = 'Everyone' AND g.domain_id IS NULL))
  AND NOT EXISTS (
      SELECT 1 FROM ss_staging.secret_permissions AS p
      WHERE p.instance = u.instance AND p.user_id = u.user_id AND p.deleted_at IS NULL)
  AND NOT EXISTS (
      SELECT 1 FROM ss_staging.folder_permissions AS p
      WHERE p.instance = u.instance AND p.user_id = u.user_id AND p.deleted_at IS NULL);
COMMENT ON VIEW ss_staging.orphan_accounts IS
    'Orphan-like accounts of each instance: enabled users in no group of their instance (the built-in local group Everyone, which holds every user, does not count) and with no permission of their own on any folder or secret of it. Candidates for review or suspension.';
COMMENT ON COLUMN ss_staging.orphan_accounts.user_id IS 'User (ss_staging.users.user_id, within the instance).';
COMMENT ON COLUMN ss_staging.orphan_accounts.user_name IS 'Login name.';
COMMENT ON COLUMN ss_staging.orphan_accounts.display_name IS 'Display name.';
COMMENT ON COLUMN ss_staging.orphan_accounts.domain_name IS 'Active Directory domain; NULL for local users.';
COMMENT ON COLUMN ss_staging.orphan_accounts.is_application_account IS 'True for application (API) accounts.';
COMMENT ON COLUMN ss_staging.orphan_accounts.last_login IS 'Last successful login; NULL if never.';
COMMENT ON COLUMN ss_staging.orphan_accounts.created IS 'When the account was created in Secret Server.';
COMMENT ON COLUMN ss_staging.orphan_accounts.instance IS 'Secret Server instance of the account.';

-- As in 008: one aggregate over secrets and paths together rather than a join.
CREATE VIEW ss_staging.unreachable_secrets AS
SELECT x.secret_id, max(x.secret_name) AS secret_name, bool_or(x.active) AS active, max(x.folder_id) AS folder_id,
       max(x.folder_path) AS folder_path, bool_or(x.inherits_permissions) AS inherits_permissions,
       bool_or(x.reached) AS latent_access, x.instance
FROM (
    SELECT s.instance, s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path, s.inherits_permissions,
           false AS reached, false AS live
    FROM ss_staging.secrets AS s
    LEFT JOIN ss_staging.folders AS f
      ON f.instance = s.instance AND f.folder_id = s.folder_id AND f.deleted_at IS NULL
    WHERE s.deleted_at IS NULL
    UNION ALL
    SELECT a.instance, a.secret_id, NULL, NULL, NULL, NULL, NULL, true,
           a.user_enabled AND coalesce(a.via_group_enabled, true)
    FROM ss_staging.effective_access AS a
) AS x
GROUP BY x.instance, x.secret_id
HAVING NOT bool_or(x.live);
COMMENT ON VIEW ss_staging.unreachable_secrets IS
    'Secrets of each instance nobody can reach: no enabled user of their instance has a path to them (ss_staging.effective_access) other than through a disabled group. latent_access tells the ones only disabled users or disabled groups reach.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.secret_id IS 'Secret (ss_staging.secrets.secret_id, within the instance).';
COMMENT ON COLUMN ss_staging.unreachable_secrets.secret_name IS 'Name of the secret.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.active IS 'False for an inactive secret.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.folder_id IS 'Folder holding the secret; NULL when in no folder.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.folder_path IS 'Path of that folder.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.inherits_permissions IS 'True when the secret takes its folder''s permissions.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.latent_access IS 'True when disabled users, or users through disabled groups, can reach it (access that returns on re-enabling); false when nobody at all can.';
COMMENT ON COLUMN ss_staging.unreachable_secrets.instance IS 'Secret Server instance of the secret.';

CREATE FUNCTION ss_staging.access_gained_between(from_time timestamptz, to_time timestamptz)
RETURNS TABLE (user_id integer, user_name text, user_enabled boolean, secret_id integer, secret_name text,
               folder_path text, role text, previous_role text, instance text)
LANGUAGE sql STABLE AS $$
    -- Both pictures in one aggregate (no join of two large sets; see unreachable_secrets).
    SELECT x.user_id, max(x.user_name), bool_or(x.user_enabled), x.secret_id, max(x.secret_name),
           max(x.folder_path), ss_staging.secret_role_name(max(x.new_rank)),
           ss_staging.secret_role_name(max(x.old_rank)), x.instance
    FROM (
        SELECT a.instance, a.user_id, a.user_name, a.user_enabled, a.secret_id, a.secret_name, a.folder_path,
               ss_staging.secret_role_rank(a.role) AS new_rank, NULL::integer AS old_rank
        FROM ss_staging.effective_access_at(to_time) AS a
        UNION ALL
        SELECT b.instance, b.user_id, NULL, NULL, b.secret_id, NULL, NULL, NULL, ss_staging.secret_role_rank(b.role)
        FROM ss_staging.effective_access_at(from_time) AS b
    ) AS x
    GROUP BY x.instance, x.user_id, x.secret_id
    HAVING max(x.new_rank) > coalesce(max(x.old_rank), 0)
$$;
COMMENT ON FUNCTION ss_staging.access_gained_between(timestamptz, timestamptz) IS
    'User and secret pairs of each instance whose effective role at to_time is new or stronger than at from_time (both rebuilt from the change log; NULL means the current staging tables). previous_role NULL: no access before.';

-- The last run of each instance; its window of changes is its own (run ids are global, a run is one
-- instance's), and of the gains in that window only its instance's count.
CREATE VIEW ss_staging.access_gained_last_run AS
WITH last_run AS (
    SELECT DISTINCT ON (r.instance) r.instance, r.run_id,
           (SELECT min(c.changed_at) FROM ss_staging.change_log AS c WHERE c.run_id = r.run_id) AS first_change,
           (SELECT max(c.changed_at) FROM ss_staging.change_log AS c WHERE c.run_id = r.run_id) AS last_change
    FROM ss_staging.reconciliation_runs AS r
    WHERE r.status IN ('succeeded', 'partial') AND NOT r.dry_run
    ORDER BY r.instance, r.run_id DESC
)
SELECT lr.run_id, g.user_id, g.user_name, g.user_enabled, g.secret_id, g.secret_name, g.folder_path,
       g.role, g.previous_role, g.instance
FROM last_run AS lr
CROSS JOIN LATERAL ss_staging.access_gained_between(
    lr.first_change - interval '1 microsecond', lr.last_change) AS g
WHERE lr.first_change IS NOT NULL AND g.instance = lr.instance;
COMMENT ON VIEW ss_staging.access_gained_last_run IS
    'Accounts that gained access in the last (non dry) reconciliation run of each instance that merged its changes (succeeded or partial): user and secret pairs of that instance with a new or stronger effective role just after the run''s changes than just before them (from the change log). No rows for an instance whose last run changed nothing.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.run_id IS 'The run (ss_staging.reconciliation_runs.run_id): the last of its instance.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.user_id IS 'User who gained access.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.user_name IS 'Login name of the user.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.user_enabled IS 'False when the user is disabled (latent access).';
COMMENT ON COLUMN ss_staging.access_gained_last_run.secret_id IS 'Secret the user can now reach.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.secret_name IS 'Name of the secret.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.folder_path IS 'Path of the secret''s folder.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.role IS 'Effective role after the run.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.previous_role IS 'Effective role before the run; NULL when the user had no access.';
COMMENT ON COLUMN ss_staging.access_gained_last_run.instance IS 'Secret Server instance the run reconciled, of the user and the secret.';

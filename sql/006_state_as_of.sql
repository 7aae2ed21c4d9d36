-- Analyst layer, part 1: every staging relation as it stood at a past time, rebuilt from the change log,
-- and the secret-role scale. One function per relation, all with the same contract:
--   ss_staging.<relation>_at(as_of)  ->  SETOF ss_staging.<relation>
--   as_of NULL  : the current rows of the staging table (deleted_at IS NULL), read directly (fast, indexed);
--   as_of given : the rows present at that time, rebuilt from ss_staging.change_log: for each object the
--                 latest change with changed_at <= as_of; present (with its "after" values) unless that
--                 change is a removal. Bookkeeping columns (first_seen_*, last_changed_*, deleted_at) are NULL.
-- The analyst functions and views of 007 are written once over these, so the current view and the as-of
-- functions apply the same rules. The functions are plain STABLE SQL so that PostgreSQL inlines them: with
-- a constant as_of the branch not taken is planned away.

-- Lookups for the as-of functions: latest change per object of one entity, up to a time.
CREATE INDEX change_log_entity_changed_at_idx ON ss_staging.change_log (entity, changed_at);

-- Joins of the effective-access computation.
CREATE INDEX secret_permissions_user_id_idx ON ss_staging.secret_permissions (user_id);
CREATE INDEX secret_permissions_group_id_idx ON ss_staging.secret_permissions (group_id);
CREATE INDEX folder_permissions_user_id_idx ON ss_staging.folder_permissions (user_id);
CREATE INDEX folder_permissions_group_id_idx ON ss_staging.folder_permissions (group_id);

CREATE FUNCTION ss_staging.secret_role_rank(role text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE lower(btrim(role)) WHEN 'list' THEN 1 WHEN 'view' THEN 2 WHEN 'edit' THEN 3 WHEN 'owner' THEN 4 END
$$;
COMMENT ON FUNCTION ss_staging.secret_role_rank(text) IS
    'Strength of a secret access role: List 1 < View 2 < Edit 3 < Owner 4; NULL for None (a folder permission that grants nothing on secrets) or anything else.';

CREATE FUNCTION ss_staging.secret_role_name(role_rank integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['List', 'View', 'Edit', 'Owner'])[role_rank]
$$;
COMMENT ON FUNCTION ss_staging.secret_role_name(integer) IS
    'The secret access role of a strength (inverse of secret_role_rank): 1 List, 2 View, 3 Edit, 4 Owner.';

-- PL/pgSQL on purpose: PostgreSQL never inlines it, so each relation's state at a time is computed once per
-- query into a tuplestore, with a row estimate, instead of being re-sorted inside nested loops when the
-- planner, without statistics on a freshly written change log, expects one row.
CREATE FUNCTION ss_staging.change_log_state_at(entity text, as_of timestamptz)
RETURNS TABLE (object_key text, state jsonb)
LANGUAGE plpgsql STABLE ROWS 10000 AS $$
BEGIN
    RETURN QUERY
    SELECT latest.object_key, latest.after
    FROM (
        SELECT DISTINCT ON (c.object_key) c.object_key, c.change_type, c.after
        FROM ss_staging.change_log AS c
        WHERE c.entity = change_log_state_at.entity AND c.changed_at <= change_log_state_at.as_of
        ORDER BY c.object_key, c.changed_at DESC, c.change_id DESC
    ) AS latest
    WHERE latest.change_type <> 'removed' AND latest.after IS NOT NULL;
END
$$;
COMMENT ON FUNCTION ss_staging.change_log_state_at(text, timestamptz) IS
    'Objects of one entity (staging table name) present at as_of, from the change log: the "after" values of each object''s latest change at or before as_of, unless that change is a removal.';

CREATE FUNCTION ss_staging.users_at(as_of timestamptz) RETURNS SETOF ss_staging.users
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.users WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('users', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.users, jsonb_build_object('user_id', s.object_key::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.users_at(timestamptz) IS
    'Users present at as_of (rebuilt from the change log); NULL: the current rows of ss_staging.users.';

CREATE FUNCTION ss_staging.groups_at(as_of timestamptz) RETURNS SETOF ss_staging.groups
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.groups WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('groups', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.groups, jsonb_build_object('group_id', s.object_key::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.groups_at(timestamptz) IS
    'Groups present at as_of (rebuilt from the change log); NULL: the current rows of ss_staging.groups.';

CREATE FUNCTION ss_staging.group_members_at(as_of timestamptz) RETURNS SETOF ss_staging.group_members
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.group_members WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('group_members', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.group_members,
        jsonb_build_object('group_id', split_part(s.object_key, ':', 1)::integer,
                           'user_id', split_part(s.object_key, ':', 2)::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.group_members_at(timestamptz) IS
    'Group memberships present at as_of (rebuilt from the change log, key "group_id:user_id"); NULL: the current rows of ss_staging.group_members.';

CREATE FUNCTION ss_staging.folders_at(as_of timestamptz) RETURNS SETOF ss_staging.folders
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.folders WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('folders', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.folders, jsonb_build_object('folder_id', s.object_key::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.folders_at(timestamptz) IS
    'Folders present at as_of (rebuilt from the change log); NULL: the current rows of ss_staging.folders.';

CREATE FUNCTION ss_staging.folder_permissions_at(as_of timestamptz) RETURNS SETOF ss_staging.folder_permissions
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.folder_permissions WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('folder_permissions', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.folder_permissions,
        jsonb_build_object('folder_permission_id', s.object_key::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.folder_permissions_at(timestamptz) IS
    'Folder permissions present at as_of (rebuilt from the change log); NULL: the current rows of ss_staging.folder_permissions.';

CREATE FUNCTION ss_staging.secrets_at(as_of timestamptz) RETURNS SETOF ss_staging.secrets
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.secrets WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('secrets', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.secrets, jsonb_build_object('secret_id', s.object_key::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.secrets_at(timestamptz) IS
    'Secrets present at as_of (rebuilt from the change log); NULL: the current rows of ss_staging.secrets.';

CREATE FUNCTION ss_staging.secret_permissions_at(as_of timestamptz) RETURNS SETOF ss_staging.secret_permissions
LANGUAGE sql STABLE AS $$
    SELECT * FROM ss_staging.secret_permissions WHERE as_of IS NULL AND deleted_at IS NULL
    UNION ALL
    SELECT r.* FROM ss_staging.change_log_state_at('secret_permissions', as_of) AS s
    CROSS JOIN LATERAL jsonb_populate_record(
        NULL::ss_staging.secret_permissions,
        jsonb_build_object('secret_permission_id', s.object_key::integer) || s.state) AS r
    WHERE as_of IS NOT NULL
$$;
COMMENT ON FUNCTION ss_staging.secret_permissions_at(timestamptz) IS
    'Secret permissions present at as_of (rebuilt from the change log); NULL: the current rows of ss_staging.secret_permissions.';

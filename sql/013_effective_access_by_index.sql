-- effective_access answers a one-secret or one-user question from indexes.
--
-- The rules of 007 stay as they are (README "Effective access"); this changes how the current view computes
-- them, so that a filter on a secret or a user reaches the tables:
--  * The view reads the staging tables directly. The <relation>_at(as_of) functions are a UNION ALL whose
--    branches carry a WHERE clause, and PostgreSQL never flattens such a branch into the query above it, so a
--    join to one of them cannot use an index: every question scanned users, memberships and permissions whole.
--    ss_staging.effective_access_at(T) keeps the set-based rules of 007 over the *_at functions, which suit a
--    rebuild of the whole picture from the change log; both are checked against one independent computation.
--  * Each kind of path (direct, group, folder, folder group) is one flat join from the secret to the user, and
--    the strongest role is a window over the paths of one secret and one user. Its partition holds the columns
--    of the secret and of the user (all determined by the two ids), so a filter on any of them is applied below
--    the window, before anything is expanded.
--  * A folder's permission source (itself, or the nearest ancestor that breaks inheritance) is kept in the
--    materialized view ss_staging.folder_permission_sources, refreshed after every statement that changes
--    ss_staging.folders, so it is looked up by index in both directions: a secret's folder to its source, and
--    a source to its folders.

CREATE MATERIALIZED VIEW ss_staging.folder_permission_sources AS
SELECT folder_id, source_folder_id, inherit_depth FROM ss_staging.folder_permission_sources_at(NULL);
CREATE UNIQUE INDEX folder_permission_sources_folder_idx ON ss_staging.folder_permission_sources (folder_id);
CREATE INDEX folder_permission_sources_source_idx ON ss_staging.folder_permission_sources (source_folder_id);
COMMENT ON MATERIALIZED VIEW ss_staging.folder_permission_sources IS
    'For each current folder, the folder whose permission rows apply to it (ss_staging.folder_permission_sources_at(NULL), kept so that ss_staging.effective_access finds it by index). Refreshed after every statement that changes ss_staging.folders; a folder inside a cycle of inheriting folders has no row.';
COMMENT ON COLUMN ss_staging.folder_permission_sources.folder_id IS 'Folder (ss_staging.folders.folder_id).';
COMMENT ON COLUMN ss_staging.folder_permission_sources.source_folder_id IS 'The folder whose permission rows apply to it: itself when it breaks inheritance or is a root, else the nearest ancestor that breaks inheritance.';
COMMENT ON COLUMN ss_staging.folder_permission_sources.inherit_depth IS 'Steps up from the folder to its source (0: the folder itself).';

-- Refreshed only when a statement added, removed or re-parented a folder or changed its inheritance (a
-- reconciliation that changes no folder costs nothing here), CONCURRENTLY so that only the rows that differ are
-- written, and as the view's owner, so that whoever may write the folders keeps it in line.
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
        IF NOT EXISTS (SELECT a.folder_id, a.parent_folder_id, a.inherit_permissions, a.deleted_at IS NULL
                       FROM after_rows AS a
                       EXCEPT
                       SELECT b.folder_id, b.parent_folder_id, b.inherit_permissions, b.deleted_at IS NULL
                       FROM before_rows AS b) THEN
            RETURN NULL;
        END IF;
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY ss_staging.folder_permission_sources;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ss_staging.refresh_folder_permission_sources() IS
    'Trigger function: brings the materialized view ss_staging.folder_permission_sources in line with ss_staging.folders after a statement that changed what it depends on.';

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

CREATE OR REPLACE VIEW ss_staging.effective_access AS
WITH own_lists AS NOT MATERIALIZED (  -- secrets that break inheritance: their own permission rows
    SELECT s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path, p.secret_permission_id AS permission_id,
           p.user_id, p.group_id, ss_staging.secret_role_rank(p.secret_access_role) AS role_rank
    FROM ss_staging.secrets AS s
    JOIN ss_staging.secret_permissions AS p ON p.secret_id = s.secret_id AND p.deleted_at IS NULL
    LEFT JOIN ss_staging.folders AS f ON f.folder_id = s.folder_id AND f.deleted_at IS NULL
    WHERE s.deleted_at IS NULL AND NOT s.inherits_permissions
      AND ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
), folder_lists AS NOT MATERIALIZED (  -- secrets that inherit: the rows of their folder's permission source
    SELECT s.secret_id, s.secret_name, s.active, s.folder_id, f.folder_path, p.folder_permission_id AS permission_id,
           p.user_id, p.group_id, ss_staging.secret_role_rank(p.secret_access_role) AS role_rank,
           src.source_folder_id, via.folder_path AS via_folder_path
    FROM ss_staging.secrets AS s
    JOIN ss_staging.folder_permission_sources AS src ON src.folder_id = s.folder_id
    JOIN ss_staging.folders AS f ON f.folder_id = s.folder_id
    JOIN ss_staging.folders AS via ON via.folder_id = src.source_folder_id
    JOIN ss_staging.folder_permissions AS p ON p.folder_id = src.source_folder_id AND p.deleted_at IS NULL
    WHERE s.deleted_at IS NULL AND s.inherits_permissions
      AND ss_staging.secret_role_rank(p.secret_access_role) IS NOT NULL
), paths AS (
    SELECT u.user_id, u.user_name, u.domain_name, u.enabled AS user_enabled, o.secret_id, o.secret_name,
           o.active AS secret_active, o.folder_id, o.folder_path, o.role_rank, 'direct' AS via, o.permission_id,
           NULL::integer AS via_group_id, NULL::text AS via_group_name, NULL::boolean AS via_group_enabled,
           NULL::integer AS via_folder_id, NULL::text AS via_folder_path
    FROM own_lists AS o
    JOIN ss_staging.users AS u ON u.user_id = o.user_id AND u.deleted_at IS NULL
    UNION ALL
    SELECT u.user_id, u.user_name, u.domain_name, u.enabled, o.secret_id, o.secret_name, o.active, o.folder_id,
           o.folder_path, o.role_rank, 'group', o.permission_id, g.group_id, g.group_name, g.enabled, NULL, NULL
    FROM own_lists AS o
    JOIN ss_staging.groups AS g ON g.group_id = o.group_id AND g.deleted_at IS NULL
    JOIN ss_staging.group_members AS m ON m.group_id = o.group_id AND m.deleted_at IS NULL
    JOIN ss_staging.users AS u ON u.user_id = m.user_id AND u.deleted_at IS NULL
    WHERE o.user_id IS NULL
    UNION ALL
    SELECT u.user_id, u.user_name, u.domain_name, u.enabled, o.secret_id, o.secret_name, o.active, o.folder_id,
           o.folder_path, o.role_rank, 'folder', o.permission_id, NULL, NULL, NULL, o.source_folder_id,
           o.via_folder_path
    FROM folder_lists AS o
    JOIN ss_staging.users AS u ON u.user_id = o.user_id AND u.deleted_at IS NULL
    UNION ALL
    SELECT u.user_id, u.user_name, u.domain_name, u.enabled, o.secret_id, o.secret_name, o.active, o.folder_id,
           o.folder_path, o.role_rank, 'folder group', o.permission_id, g.group_id, g.group_name, g.enabled,
           o.source_folder_id, o.via_folder_path
    FROM folder_lists AS o
    JOIN ss_staging.groups AS g ON g.group_id = o.group_id AND g.deleted_at IS NULL
    JOIN ss_staging.group_members AS m ON m.group_id = o.group_id AND m.deleted_at IS NULL
    JOIN ss_staging.users AS u ON u.user_id = m.user_id AND u.deleted_at IS NULL
    WHERE o.user_id IS NULL
)
SELECT p.user_id, p.user_name, p.domain_name, p.user_enabled,
       p.secret_id, p.secret_name, p.secret_active, p.folder_id, p.folder_path,
       ss_staging.secret_role_name(max(p.role_rank) OVER (PARTITION BY p.secret_id, p.user_id, p.user_name,
           p.domain_name, p.user_enabled, p.secret_name, p.secret_active, p.folder_id, p.folder_path)) AS role,
       ss_staging.secret_role_name(p.role_rank) AS path_role, p.via, p.permission_id AS via_permission_id,
       p.via_group_id, p.via_group_name, p.via_group_enabled, p.via_folder_id, p.via_folder_path
FROM paths AS p;
COMMENT ON VIEW ss_staging.effective_access IS
    'Who can reach which secret now, and why: one row per user, secret and path that grants a role (direct secret permission, group permission on the secret, or the permissions of the secret''s folder, directly or through a group, following folder inheritance). Rules in README.md, "Effective access". Removed objects excluded; disabled users, disabled groups and inactive secrets included with their flags. A filter on the secret or the user is answered from indexes. For a past time: ss_staging.effective_access_at(T).';

COMMENT ON FUNCTION ss_staging.effective_access_rules(timestamptz) IS
    'The effective-access rules over the state at as_of, rebuilt set-based from the change log (NULL: the current staging tables): the rows of ss_staging.effective_access_at. The view ss_staging.effective_access applies the same rules to the staging tables directly, so that its filters reach their indexes.';

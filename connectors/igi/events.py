r"""IGI TARGET-queue events (``igi.event_target``) from a reconciliation run: one row per account or permission
change, state 1 (unprocessed), ``target`` the IGI target of the run's Secret Server instance ('SecretServer' for
the default instance). A run sees only its instance's rows: every join below stays within one instance (a
permission's holder, group, folder or secret is of the permission's instance).

Accounts are Secret Server users. ``code`` is the account: ``<domain_name>\<user_name>`` for a domain user,
else ``<user_name>``. Account events come from the users diff of the run:

- 10 ACCOUNT_CREATE  a user added (or back after a removal); followed by 6 ACCOUNT_DISABLE when it is disabled;
- 9  ACCOUNT_MODIFY  an account attribute changed (user_name, display_name, email_address, domain_id,
                     domain_name, is_application_account). Operational fields (last_login, login_failures,
                     is_locked_out) are tracked in staging and the change log but raise no event. ``code`` is
                     the account as IGI knew it (before a rename); attributes carry the new ``code`` and
                     ``previous`` (the changed attributes' old values);
- 6  ACCOUNT_DISABLE / 7 ACCOUNT_ENABLE  ``enabled`` flipped;
- 11 ACCOUNT_REMOVE  the user disappeared from Secret Server.

Permissions are the direct entitlements of an account, named stably as strings (``functionality``), with
``functionality_type`` and ``attributes`` (the ids behind them):

- group membership               ``group:<group_name>``
- user-level folder permission   ``folder:<folder_path>|<folder_access_role>|<secret_access_role>``
- user-level secret permission   ``secret:<secret_id>:<secret_name>|<secret_access_role>``

Group-level folder and secret permissions are NOT emitted: IGI accounts are users, and a member reaches such a
permission through the group membership, which is emitted. Expanding them to members would double-count access
that IGI cannot revoke per account. (They stay in staging for analysts.)

Permission events are the difference between the account/permission set before and after the run (current
rows of staging, joined to current users, groups, folders and secrets), keyed by (user_id, functionality):
1 PERMISSION_ADD for a new pair, 2 PERMISSION_REMOVE for a vanished one. A role change is a remove and an add;
so is a renamed group, folder path or secret (the permission's name changed); a renamed user is only an
ACCOUNT_MODIFY. A removed user gets a PERMISSION_REMOVE for each permission it had, then ACCOUNT_REMOVE.
Only the sets of the users the run can affect are compared (`mark_affected_users`): nobody else's can differ.

Order (event_id): creates, modifies, enables/disables, permission removes, permission adds, account removes;
within each, by user id. A re-emit (``reemit``: a fresh IGI) writes ACCOUNT_CREATE (+ DISABLE) for every
current user and PERMISSION_ADD for every current permission instead of the changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.igi.entities import (
    FOLDER_PERMISSIONS,
    FOLDERS,
    GROUP_MEMBERS,
    GROUPS,
    SECRET_PERMISSIONS,
    SECRETS,
    USERS,
    Entity,
)

OPERATIONS: dict[int, str] = {
    1: "PERMISSION_ADD", 2: "PERMISSION_REMOVE", 6: "ACCOUNT_DISABLE", 7: "ACCOUNT_ENABLE",
    9: "ACCOUNT_MODIFY", 10: "ACCOUNT_CREATE", 11: "ACCOUNT_REMOVE",
}
# The user columns whose change is an ACCOUNT_MODIFY (declared with ``account_attribute``).
ACCOUNT_ATTRIBUTES = tuple(c.name for c in USERS.columns if c.account_attribute)


def row_json(alias: str, entity: Entity) -> str:
    """SQL for a row of ``entity`` as a jsonb object of its columns (as the change log holds it)."""
    return "jsonb_build_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in entity.column_names) + ")"


def account_code_sql(domain: str, user: str) -> str:
    """SQL for an account's IGI code from SQL for its domain name and user name (``domain\\user`` or ``user``)."""
    return f"CASE WHEN coalesce({domain}, '') <> '' THEN {domain} || '\\' || {user} ELSE {user} END"


def _code_of(j: str) -> str:
    return account_code_sql(f"({j}->>'domain_name')", f"({j}->>'user_name')")


_USER_CODE = account_code_sql("u.domain_name", "u.user_name")


def _direct(kind: str, entity: Entity, on: Entity, functionality: str, attributes: list[str]) -> str:
    """The direct permissions of current users held in ``entity`` (alias p), on current objects of ``on``
    (alias o), each with its instance: ``functionality_type`` ``kind``, ``functionality`` the SQL given,
    ``attributes`` those columns."""
    key = on.key[0]
    return f"""
    SELECT p.instance, p.user_id, {_USER_CODE} AS code, '{kind}' AS functionality_type,
           {functionality} AS functionality,
           jsonb_build_object({", ".join(f"'{c}', p.{c}" for c in attributes)}) AS attributes
    FROM ss_staging.{entity.name} p
    JOIN ss_staging.{on.name} o ON o.instance = p.instance AND o.{key} = p.{key} AND o.deleted_at IS NULL
    JOIN ss_staging.users u ON u.instance = p.instance AND u.user_id = p.user_id AND u.deleted_at IS NULL
    WHERE p.deleted_at IS NULL"""


def _held_by_user(entity: Entity) -> list[str]:
    """A user-level permission's columns, less its holder's group (a user's personal group)."""
    return [c for c in entity.column_names if c != "group_id"]


# Every current direct permission of every current user, of every instance (filter on ``p.instance``): group
# memberships, user-level folder and secret permissions (named as the module doc says; the attributes are the
# row's ids and roles).
PERMISSIONS_SQL = " UNION ALL ".join([
    _direct("group", GROUP_MEMBERS, GROUPS, "'group:' || o.group_name", GROUP_MEMBERS.column_names),
    _direct("folder", FOLDER_PERMISSIONS, FOLDERS, "'folder:' || coalesce(o.folder_path, o.folder_name) || '|' "
            "|| p.folder_access_role || '|' || p.secret_access_role", _held_by_user(FOLDER_PERMISSIONS)),
    _direct("secret", SECRET_PERMISSIONS, SECRETS, "'secret:' || o.secret_id || ':' || o.secret_name || '|' "
            "|| p.secret_access_role", _held_by_user(SECRET_PERMISSIONS)),
])


def snapshot_permissions(conn: Connection, table: str, instance: str, *, affected_only: bool = False) -> None:
    """Materialize the instance's current permission set into a temp table (dropped at commit or rollback); with
    ``affected_only``, only the permissions of the users in ``_affected_users`` (see `mark_affected_users`)."""
    affected = " AND p.user_id IN (SELECT user_id FROM _affected_users)" if affected_only else ""
    conn.execute(sa.text(
        f"CREATE TEMP TABLE {table} ON COMMIT DROP AS "
        f"SELECT DISTINCT ON (user_id, functionality_type, functionality) * FROM ({PERMISSIONS_SQL}) p "
        f"WHERE p.instance = :instance{affected} "
        f"ORDER BY user_id, functionality_type, functionality, attributes::text"), {"instance": instance})


def _holders_of(entity: Entity, on: Entity) -> str:
    """The users holding a permission row of ``entity`` on an object of ``on`` that the run's diff touches."""
    key = on.key[0]
    return (f"SELECT p.user_id FROM ss_staging.{entity.name} p JOIN _diff_{on.name} d ON d.{key} = p.{key} "
            "WHERE p.instance = :instance")


def _users_of_rows(entity: Entity) -> str:
    """The users of the permission rows of ``entity`` that the run's diff touches, before and after."""
    key = entity.key[0]
    return (f"SELECT (d.before->>'user_id')::integer FROM _diff_{entity.name} d UNION ALL "
            f"SELECT i.user_id FROM _diff_{entity.name} d JOIN _in_{entity.name} i ON i.{key} = d.{key}")


# Whose permission set a run can change, per entity in its diff: a permission's name and presence depend only on
# its row, its holder (current or not) and the group, folder or secret it names.
_AFFECTED_BY: dict[str, str] = {
    USERS.name: "SELECT user_id FROM _diff_users",
    GROUP_MEMBERS.name: "SELECT user_id FROM _diff_group_members",
    FOLDER_PERMISSIONS.name: _users_of_rows(FOLDER_PERMISSIONS),
    SECRET_PERMISSIONS.name: _users_of_rows(SECRET_PERMISSIONS),
    GROUPS.name: _holders_of(GROUP_MEMBERS, GROUPS),
    FOLDERS.name: _holders_of(FOLDER_PERMISSIONS, FOLDERS),
    SECRETS.name: _holders_of(SECRET_PERMISSIONS, SECRETS),
}


def mark_affected_users(conn: Connection, diffed: Sequence[str], instance: str) -> None:
    """Before the merge: note in ``_affected_users`` every user of the instance whose permissions the merge of
    the entities ``diffed`` (each with its ``_diff_``/``_in_`` tables) can change; no one else's can."""
    parts = [_AFFECTED_BY[name] for name in diffed]
    union = " UNION ".join(f"({p})" for p in parts) if parts else "SELECT NULL::integer"
    conn.execute(sa.text(
        f"CREATE TEMP TABLE _affected_users ON COMMIT DROP AS SELECT DISTINCT a.user_id FROM ({union}) a(user_id) "
        "WHERE a.user_id IS NOT NULL"), {"instance": instance})


def count_known(conn: Connection, instance: str) -> int:
    """How many accounts and direct permissions IGI knows of the instance now: its current users, and the
    permissions `snapshot_permissions` would keep (what the event limits compare a run's events with)."""
    return int(conn.execute(sa.text(
        f"SELECT (SELECT count(*) FROM ss_staging.users WHERE instance = :instance AND deleted_at IS NULL) "
        f"+ (SELECT count(*) FROM (SELECT DISTINCT user_id, functionality_type, functionality "
        f"FROM ({PERMISSIONS_SQL}) p WHERE p.instance = :instance) d)"), {"instance": instance}).scalar_one())


def _attributes(j: str) -> str:
    return f"({j} || jsonb_build_object('code', {_code_of(j)}))"


_ATTRIBUTE_ARRAY = "ARRAY[" + ", ".join(f"'{a}'" for a in ACCOUNT_ATTRIBUTES) + "]"
_MODIFIED = " OR ".join(f"(d.before->'{a}') IS DISTINCT FROM (d.after->'{a}')" for a in ACCOUNT_ATTRIBUTES)

# The users diff with each row's `after` (the incoming row, whose columns are exactly the entity's, with its
# account ``code``: what an account event carries; none for a removal), which the diff does not carry.
# Materialized once: inlined, every use of `after` below would build the row's jsonb again (about ten times a
# row; scale m: 0.22 s of the events' 0.6 s).
_AFTER_CODE = account_code_sql("i.domain_name", "i.user_name")
_DIFF_USERS = (f"diff_users AS MATERIALIZED (SELECT d.*, {_AFTER_CODE} AS after_code, "
               f"CASE WHEN d.change = 'removed' THEN NULL ELSE to_jsonb(i) || jsonb_build_object('code', "
               f"{_AFTER_CODE}) END AS after FROM _diff_users d LEFT JOIN _in_users i ON i.user_id = d.user_id)")

ACCOUNT_EVENTS_SQL = f"""
    SELECT 1 AS phase, d.user_id, 10 AS operation, d.after_code AS code,
           NULL::text AS functionality_type, NULL::text AS functionality, d.after AS attributes
    FROM diff_users d WHERE d.change IN ('added', 'revived')
    UNION ALL
    SELECT 3, d.user_id, 6, d.after_code, NULL, NULL, d.after
    FROM diff_users d WHERE d.change IN ('added', 'revived') AND NOT (d.after->>'enabled')::boolean
    UNION ALL
    SELECT 2, d.user_id, 9, {_code_of("d.before")}, NULL, NULL,
           d.after || jsonb_build_object('previous', (
               SELECT jsonb_object_agg(a, d.before->a) FROM unnest({_ATTRIBUTE_ARRAY}) AS a
               WHERE (d.before->a) IS DISTINCT FROM (d.after->a)))
    FROM diff_users d WHERE d.change = 'changed' AND ({_MODIFIED})
    UNION ALL
    SELECT 3, d.user_id, CASE WHEN (d.after->>'enabled')::boolean THEN 7 ELSE 6 END, d.after_code,
           NULL, NULL, d.after
    FROM diff_users d WHERE d.change = 'changed' AND (d.before->'enabled') IS DISTINCT FROM (d.after->'enabled')
    UNION ALL
    SELECT 6, d.user_id, 11, {_code_of("d.before")}, NULL, NULL, {_attributes("d.before")}
    FROM diff_users d WHERE d.change = 'removed'
"""

_USERS_JSON = row_json("u", USERS)

REEMIT_ACCOUNTS_SQL = f"""
    SELECT 1 AS phase, u.user_id, 10 AS operation, {_USER_CODE} AS code, NULL::text AS functionality_type,
           NULL::text AS functionality, {_USERS_JSON} || jsonb_build_object('code', {_USER_CODE}) AS attributes
    FROM ss_staging.users u WHERE u.instance = :instance AND u.deleted_at IS NULL
    UNION ALL
    SELECT 3, u.user_id, 6, {_USER_CODE}, NULL, NULL, {_USERS_JSON} || jsonb_build_object('code', {_USER_CODE})
    FROM ss_staging.users u WHERE u.instance = :instance AND u.deleted_at IS NULL AND NOT u.enabled
"""

PERMISSION_EVENTS_SQL = """
    SELECT 4 AS phase, b.user_id, 2 AS operation, b.code, b.functionality_type, b.functionality, b.attributes
    FROM _perm_before b
    WHERE NOT EXISTS (SELECT 1 FROM _perm_after a WHERE a.user_id = b.user_id
                      AND a.functionality_type = b.functionality_type AND a.functionality = b.functionality)
    UNION ALL
    SELECT 5, a.user_id, 1, a.code, a.functionality_type, a.functionality, a.attributes
    FROM _perm_after a
    WHERE NOT EXISTS (SELECT 1 FROM _perm_before b WHERE b.user_id = a.user_id
                      AND b.functionality_type = a.functionality_type AND b.functionality = a.functionality)
"""

REEMIT_PERMISSIONS_SQL = """
    SELECT 5 AS phase, a.user_id, 1 AS operation, a.code, a.functionality_type, a.functionality, a.attributes
    FROM _perm_after a
"""


def write_events(conn: Connection, run_id: int, instance: str, target: str, *, users_diff: bool,
                 reemit: bool) -> dict[str, int]:
    """Insert the run's events for the IGI ``target`` of ``instance`` (needs ``_perm_before``/``_perm_after``
    and, with ``users_diff``, ``_diff_users`` and ``_in_users``); return their count per operation name."""
    if reemit:
        parts = [REEMIT_ACCOUNTS_SQL, REEMIT_PERMISSIONS_SQL]
    else:
        parts = ([ACCOUNT_EVENTS_SQL] if users_diff else []) + [PERMISSION_EVENTS_SQL]
    union = " UNION ALL ".join(f"({p})" for p in parts)
    diff_users = f"{_DIFF_USERS}, " if users_diff and not reemit else ""
    rows = conn.execute(sa.text(f"""
        WITH {diff_users}inserted AS (
            INSERT INTO igi.event_target (run_id, target, code, operation, state, functionality,
                                          functionality_type, attributes)
            SELECT :run, :target, e.code, e.operation, 1, e.functionality, e.functionality_type, e.attributes
            FROM ({union}) e
            ORDER BY e.phase, e.user_id, e.operation, e.functionality_type, e.functionality
            RETURNING operation
        )
        SELECT operation, count(*) FROM inserted GROUP BY operation ORDER BY operation"""),
        {"run": run_id, "instance": instance, "target": target}).all()
    return {OPERATIONS[int(op)]: int(n) for op, n in rows}

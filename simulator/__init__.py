"""A stand-in Delinea Secret Server: the same REST API, generated organization data, fault injection.

It behaves like Secret Server 10.9 as documented in ../shared/reference (facts file, endpoint list,
official Postman collection): same paths, parameters, envelopes, field names, status codes and
error bodies. The demo runs on it, every test talks HTTP to it, the benchmark measures against it.

Quick start
-----------
    from simulator import Faults, SimulatorServer, generate

    org = generate("s", seed=42)
    with SimulatorServer(org) as server:          # free port on 127.0.0.1, login admin / admin
        server.base_url                            # http://127.0.0.1:<port>/SecretServer
        ...                                        # {base_url}/oauth2/token, {base_url}/api/v1/...

Layout (a request travels down this list; each module is short and says what it is for)
------------------------------------------------------------------------------------------
- ``server.py``: the HTTP server, fault injection at the door, bearer tokens (``tokens.py``), the
  request log (``request_log.py``), the bytes that go back (``replies.py``).
- ``api.py``: the routing table, and every rule the write endpoints follow (its docstring).
- ``routes/``: the handlers by resource: ``users``, ``groups``, ``folders``, ``secrets``,
  ``permissions``, ``system`` (version, health check, domains), ``auth`` (the token endpoint);
  ``base`` holds the request, the search machinery (paging in ``paging.py``) and the lookups.
  Write bodies are bound by ``binding.py``.
- ``state/``: the ``Organization``: ``store`` (records and indexes), ``people``, ``objects``,
  ``permissions`` (changes), ``truth`` (what tests read back); ``records.py`` holds the records.
- ``render.py``: records to the API's JSON shapes (plain records in, dicts out).
- ``generator.py``: generated organizations; ``mutations.py``: the mutate-between-pages fault;
  ``faults.py``: fault options; ``cli.py``: the command line.

Command line: ``ss-igi simulator`` or ``python -m simulator`` with ``--host`` (127.0.0.1),
``--port`` (8080; 0 = any free port), ``--scale s|m|l`` (s), ``--seed`` (42), ``--faults "k=v,..."``,
``--username`` / ``--password`` (admin / admin), ``--page-cap`` (1000), ``--token-ttl`` (1200 s),
``--verbose``. It prints the base URL and the credentials, then serves until Ctrl-C or SIGTERM.

Endpoints (all under ``/SecretServer``)
---------------------------------------
- ``POST /oauth2/token`` (also ``/oauth2/refresh``): ``grant_type=password`` with ``username``,
  ``password``, optional ``domain``; ``grant_type=refresh_token``. Answer: ``access_token``,
  ``token_type`` "bearer", ``expires_in``, ``refresh_token``. Failures: 400 ``{"error": "..."}``.
  Refresh tokens are single-use; a login can be refreshed ``refresh_cap`` times (3).
  Besides the configured user, any organization user with a password (set by POST /users or
  ``set_user_password``), enabled and not locked out, can log in.
- ``GET /healthcheck`` and ``GET /api/v1/healthcheck`` (anonymous). Field casing: ``Healthy``,
  ``DatabaseMismatch``, ... as Delinea's Python SDK reads them from real servers;
  ``SimulatorServer(healthcheck_casing="pascal")`` (CLI ``--healthcheck-casing camel``) answers the
  collection's ``healthy``.
- ``GET /api/v1/version``, ``GET /api/v1/domains``.
- Users: ``GET /users`` (``filter.includeInactive``, ``filter.domainId``, ``filter.searchText``,
  ``filter.searchFields``), ``GET|PUT|PATCH /users/{id}``, ``POST /users``,
  ``POST /users/{id}/password-reset`` (``{"data": {"userId", "password"}}``),
  ``GET /users/{id}/groups``; ``DELETE /users/{id}`` answers 400 (users are disabled, not deleted).
- Groups: ``GET /groups`` (``filter.includeInactive``, ``filter.domainId``, ``filter.searchText``;
  personal groups are never listed), ``GET|DELETE /groups/{id}``, ``POST /groups``,
  ``GET /groups/{id}/users`` (disabled members only with
  ``filter.includeInactiveUsersForGroup=true``; ``filter.userDomainId``), ``POST /groups/{id}/users``,
  ``DELETE /groups/{id}/users/{userId}``. "Everyone" cannot be changed through the API.
- Folders: ``GET /folders`` (``filter.parentFolderId``, ``filter.folderTypeId``, ``filter.searchText``),
  ``GET /folders/lookup``, ``GET /folders/{id}`` (``getAllChildren``, ``includeAssociatedTemplates``,
  ``/folders/0?folderPath=\\A\\B``), ``POST /folders``.
- Folder permissions: ``GET /folder-permissions`` (``filter.folderId|userId|groupId``), ``GET /{id}``,
  ``POST`` (on an inheriting folder only with ``breakInheritance: true``, which copies the inherited
  permissions first, else 400 ``API_PermissionsAreInherited``), ``PUT /{id}`` (role change),
  ``DELETE /{id}``.
- Secrets: ``GET /secrets`` (``filter.folderId``, ``filter.includeSubFolders``,
  ``filter.includeInactive``, ``filter.includeActive``, ``filter.searchText``, ``filter.isExactMatch``,
  ``filter.secretTemplateId``, ``filter.siteId``, ``filter.heartbeatStatus``,
  ``filter.extendedFields``), ``GET /secrets/{id}/summary``, ``GET /secrets/{id}`` (fake field values;
  inactive ones need ``includeInactive=true``; ``/secrets/0?secretPath=\\Folder\\Name``), ``POST /secrets``.
- Secret permissions: ``GET /secret-permissions`` (``filter.secretId|userId|groupId|userName|groupName``),
  ``GET /{id}``, ``POST`` (on an inheriting secret, inheritance is broken first, copying the folder's
  permissions), ``PUT /{id}`` (role change), ``DELETE /{id}``.
- Writes bind their bodies strictly to the reference's request models (simulator/binding.py): wrong
  types, missing required fields, unknown properties and duplicates answer 400. Every rule, and why,
  is in simulator/api.py's docstring.

Rules: every ``/api/v1`` call except the health check needs ``Authorization: Bearer``; without a
valid token: 403 ``{"message": "Authentication failed"}``. Creates and deletes answer 200; deletes
``{"id", "objectType", "responseCodes": []}``. Errors: 400 ``{"message", "messageDetail", "errorCode",
"modelState"}`` (unknown or missing ids: ``API_AccessDenied``; unknown role names:
``API_GenericException``); 500 ``{"message", "exceptionMessage", "exceptionType", "stackTrace"}``.
Roles: secret ``List|View|Edit|Owner``; folder ``View|Edit|Add Secret|Owner`` with secret role
``None`` allowed too. A user's permission record carries that user's personal group id in ``groupId``.
Local users and groups have ``domainId`` -1 and ``domainName`` null; root folders ``parentFolderId`` -1.

Paging: ``skip``, ``take`` (10 when absent; clamped to ``page_cap``), ``sortBy[n].name|direction|
priority``, ``filter.*`` (lists repeat the key); names are case-insensitive and may carry the
``paging.`` prefix. Envelope: ``batchCount, currentPage, hasNext, hasPrev, nextSkip, pageCount,
prevSkip, records, severity, skip, sortBy, success, take, total``. Unsorted results come in id order.

In-process API (``simulator.state.Organization``, thread-safe, one lock)
-----------------------------------------------------------------------
Changes: ``add_user(user_name, display_name=None, domain_id=None, enabled=True,
is_application_account=False, email_address=None, *, password=None, is_locked_out=False, ...) -> id``,
``rename_user``, ``set_user_enabled``, ``set_user_locked_out``, ``update_user(id, **attrs)``,
``set_user_password``, ``remove_user`` (hard removal with memberships and
permissions), ``add_group(name, domain_id=None, enabled=True) -> id``, ``rename_group``,
``set_group_enabled``, ``remove_group``, ``add_member(group_id, user_id)``, ``remove_member``,
``add_folder(name, parent_folder_id=None, inherit_permissions=True) -> id``,
``rename_folder``, ``remove_folder`` (empty ones), ``set_folder_inherit_permissions``,
``grant_folder_permission(folder_id, user_id=None, group_id=None, folder_access_role="View",
secret_access_role="View") -> id``, ``revoke_folder_permission(permission_id)``,
``add_secret(name, folder_id, inherits_permissions=True, active=True, template_id=2, *, items=None)
-> id``, ``set_secret_active``, ``rename_secret``, ``move_secret``, ``remove_secret``,
``set_secret_inherits_permissions``, ``grant_secret_permission(secret_id, user_id=None, group_id=None,
role="View") -> id``, ``revoke_secret_permission(permission_id)``, ``update_folder_permission(id,
folder_access_role, secret_access_role)``, ``update_secret_permission(id, role)``,
``inherited_folder_permissions(folder_id)``, ``inherited_secret_permissions(secret_id)``, ``add_domain``.
In process (not over HTTP), granting on an inheriting folder or secret breaks inheritance first
(copying the inherited permissions), and granting to a principal that already has a record updates it.
Truth for tests (simulator/state/truth.py; API-shaped dicts, id order): ``users()`` (all, enabled or
not), ``groups()`` (listed groups, "Everyone" included), ``group_members()`` -> [(group_id, user_id)],
``personal_groups()`` -> {user_id: group_id}, ``folders()``, ``folder_permissions()``, ``secrets()``
(all, active or not), ``secret_permissions()``, ``domain_records()``, ``counts()``,
``check_password``, ``is_member``. Raw records: ``user_map``, ``group_map``, ``folder_map``,
``secret_map``, ``folder_perms``, ``secret_perms``, ``members``.

Server (``simulator.server.SimulatorServer``)
---------------------------------------------
``SimulatorServer(org, *, host="127.0.0.1", port=0, username="admin", password="admin",
page_cap=1000, token_ttl_s=1200, refresh_cap=3, faults=None, domain=None,
healthcheck_casing="pascal")``; ``start()`` (background thread, returns self), ``stop()``, context
manager, ``serve_forever()``; ``base_url``; ``faults`` and ``page_cap`` may be changed while running;
``request_log`` (thread-safe list of ``LoggedRequest(method, path, query, status, duration_ms, at,
body_shape)`` -- path without the query, e.g. ``/SecretServer/api/v1/users``, query as a dict of
lists, status 0 for a dropped connection; ``body_shape`` maps the body's field paths to JSON types,
e.g. ``{"data.password": "string"}``: values are never logged); ``calls(method=None, path_prefix=None)`` (the
prefix may omit ``/SecretServer``), ``clear_log()``; ``login()`` (a token without HTTP);
``expire_tokens()``.

Faults (``simulator.faults.Faults``; ``Faults.parse("latency_ms=5,rate_429=0.1")`` for the CLI)
-----------------------------------------------------------------------------------------------
All off by default; they apply to ``/api/v1`` calls only and are deterministic for a ``seed``:
``latency_ms``; ``rate_429`` + ``retry_after_s`` (429 with ``Retry-After``); ``burst_every``,
``burst_length``, ``burst_status`` (the last ``burst_length`` of every ``burst_every`` calls fail:
500 with the documented body, 502/503 with a proxy's HTML page, 503 with ``Retry-After``);
``token_ttl_s``; ``token_expire_after_calls``; ``drop_connection_rate`` (connection closed without an
answer); ``html_200_rate`` (200 with an HTML login page); ``mutate_between_pages`` (probability that,
before a page with ``skip > 0``, a record already read is deleted and a new one inserted).

Pytest fixtures (``tests/fixtures/simulator.py``): ``sim_org`` (fresh ``generate("s", 42)``),
``simulator`` (running server on it), ``make_simulator(org=None, faults=None, page_cap=1000,
token_ttl_s=1200, refresh_cap=3, **kwargs)``.

Generated organizations (``simulator.generator.generate(scale="s", seed=42)``)
-----------------------------------------------------------------------------
Exact for every seed: users / listed groups ("Everyone" included) / folders / secrets:
``s`` 100 / 12 / 40 / 300; ``m`` 5,000 / 500 / 2,000 / 20,000; ``l`` 50,000 / 5,000 / 20,000 / 200,000.
Plus 3 AD domains (corp.example.com, emea.example.com, lab.example.net) and local accounts, and one
personal group per user. Seed 42 also gives:

=====  ==============  ============  ===================  ===============  ==================
scale  enabled users   memberships   folder permissions   active secrets   secret permissions
=====  ==============  ============  ===================  ===============  ==================
s                  91           299                   17              287                 114
m               4,599        17,467                  880           19,160               8,666
l              45,999       174,147                8,758          191,924              87,151
=====  ==============  ============  ===================  ===============  ==================

(memberships include "Everyone"; secrets breaking inheritance: 25 / 1,915 / 18,922.)
Shapes: application accounts, ~8% disabled users, ~2% locked out, ~10% never logged in (null
``lastLogin``), user names repeated across domains, unicode names; a folder tree four levels deep
with ``\\Dept\\Area\\Env\\host`` paths, ~12% of non-root folders breaking inheritance, and
``\\Personal Folders\\<user>`` (10% of users, capped at a quarter of the folders); ~10% of secrets
breaking inheritance with their own permissions, ~4% inactive; "never" dates as
``0001-01-01T00:00:00``. Scale ``l`` generates in about 5 s and holds about 300 MB.
"""

from simulator.faults import Faults
from simulator.generator import generate
from simulator.server import SimulatorServer
from simulator.state import Organization

__all__ = ["Faults", "Organization", "SimulatorServer", "generate"]

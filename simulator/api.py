"""The REST endpoints: routing table over the handlers, free of HTTP plumbing (see server.py).

Each handler takes a `Request` and returns `(status, payload)`; a `BadRequest` becomes the
documented 400 body ``{message, messageDetail, errorCode, modelState}``. Handlers live by resource:
api_users.py (users, groups, membership), api_objects.py (folders, secrets), api_permissions.py
(folder and secret permissions); api_base.py holds the search machinery and the lookups.

The write endpoints the project calls are strict judges of what a real Secret Server accepts
(shared/reference: the 10.9.35 API reference and Postman collection, the facts file). Where the
reference is silent, the behaviour of Delinea's own clients decides (python-tss-sdk; Thycotic's
PowerShell module thycotic.secretserver, whose cmdlets show which calls a real server accepts),
else the strict reading. The decisions:

Request bodies (simulator/binding.py holds the models)
- Each write binds its body to the reference's request model. Property names bind
  case-insensitively, as ASP.NET's JSON formatter does (the PowerShell module sends
  ``SecretAccessRoleName``, ``Username``). A missing body, a body that is not a JSON object, a
  value of the wrong JSON type (``"5"`` for an integer, ``1`` for a boolean, a fraction, an int32
  overflow) or a missing required field answers 400 ``API_InvalidRequest`` with ``modelState``
  naming the field. Stricter than ASP.NET: Json.NET would convert ``"5"`` to 5 and ignore unknown
  properties; the simulator refuses both, so that a misspelt field cannot pass as a silent no-op
  and no client relies on a conversion Delinea's clients never need.
- Required fields are those the collection lists first, out of alphabetical order (the swagger
  generator's place for required properties): POST /users ``userName, password, displayName``;
  PUT /folder-permissions/{id} ``id, folderId, folderAccessRoleName``; PUT /secret-permissions/{id}
  ``id, secretId, secretAccessRoleName``; password-reset ``data.userId, data.password``. POST
  /folder-permissions also needs ``folderId`` and both role names, POST /secret-permissions
  ``secretId`` and ``secretAccessRoleName``, POST /groups/{id}/users ``userId``: without them the
  call means nothing. An id in the body that differs from the URL's answers 400.
- Booleans left out take C#'s default, false: POST /users without ``enabled`` creates a disabled
  user (New-TssUser sends ``enabled`` only with its ``-Active`` switch).
- PATCH /users/{id} takes each field wrapped as ``{"dirty": true, "value": ...}`` at the top level
  (the reference's model and Disable-TssUser); a bare value or a ``data`` envelope answers 400.
  A dirty field with a null value answers 400 rather than storing null.

Unknown ids
- An id that does not exist answers 400 ``API_AccessDenied`` (the facts file: Secret Server does not
  tell "missing" from "not yours"). An id that is not an integer does not match the route: 404.

Users and groups
- POST /users with a user name that exists in that domain (case-insensitive; disabled users count)
  answers 400 ``API_DuplicateUserName``. ``domainId`` absent or -1 means local; an unknown domain
  answers 400 ``API_InvalidDomain``. The password is required for every user, as the model says.
- POST /groups/{id}/users for a member answers 400 ``API_UserAlreadyInGroup``; DELETE for a
  non-member ``API_UserNotInGroup``; "Everyone" and other system groups cannot be changed.

Permissions (one per principal on a folder or secret; a user's stands on their personal group)
- A second POST for a principal that already holds a permission answers 400
  ``API_DuplicatePermission``: a role change is ``PUT /folder-permissions/{id}`` or
  ``PUT /secret-permissions/{id}`` with the reference's update model (what Update-TssFolderPermission
  and Update-TssSecretPermission send). A PUT whose ``folderId``/``secretId`` is not the permission's
  answers 400; PUT /folder-permissions/{id} without ``secretAccessRoleName`` keeps the secret role.
- POST /folder-permissions on a folder that inherits answers 400 ``API_PermissionsAreInherited``
  (also in ``message``, where New-TssFolderPermission looks for it) unless ``breakInheritance`` is
  true; then the parent's effective permissions are copied onto the folder first and the new one
  added. ``breakInheritance`` on a folder that already has its own list changes nothing.
- POST /secret-permissions on a secret that inherits breaks its inheritance, copying its folder's
  permissions first (folder permissions whose secret role is None give none), as Secret Server does
  and New-TssSecretPermission ``-Force`` relies on.
- If the principal is already in the list that breaking inheritance would copy, the POST answers
  400 ``API_DuplicatePermission`` and nothing changes (no half-done break).
- Permission records exist only on folders and secrets with their own list, so PUT and DELETE by id
  never meet an inheriting folder: their ``breakInheritance`` is bound (a malformed value answers
  400) and changes nothing.
- Role names bind case-insensitively; an unknown one answers 400 ``API_GenericException``.

Health check: ``GET /healthcheck`` answers PascalCase keys (``Healthy``, ...), which is what
Delinea's python-tss-sdk reads to detect a server; the collection's camelCase is an option
(``healthcheck_casing="camel"``).
"""

from __future__ import annotations

import re
from datetime import datetime

from simulator.api_base import Handler, Request, Result
from simulator.api_objects import ObjectsApi
from simulator.api_permissions import PermissionsApi
from simulator.api_users import UsersApi
from simulator.records import VERSION
from simulator.state import NotFound, Organization


class Api(UsersApi, ObjectsApi, PermissionsApi):
    """Endpoint handlers over one Organization."""

    def __init__(self, org: Organization, page_cap: int = 1000) -> None:
        super().__init__(org, page_cap)
        self.routes: list[tuple[str, re.Pattern[str], Handler, str | None]] = []
        for method, pattern, handler, entity in self._route_table():
            regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", pattern) + "/?$", re.IGNORECASE)
            self.routes.append((method, regex, handler, entity))

    def _route_table(self) -> list[tuple[str, str, Handler, str | None]]:
        v1 = "/api/v1"
        return [
            ("GET", f"{v1}/version", self.version, None),
            ("GET", f"{v1}/healthcheck", self.healthcheck, None),
            ("GET", f"{v1}/domains", self.search_domains, "domains"),
            ("GET", f"{v1}/users", self.search_users, "users"),
            ("POST", f"{v1}/users", self.create_user, None),
            ("GET", f"{v1}/users/{{id}}", self.get_user, None),
            ("PUT", f"{v1}/users/{{id}}", self.put_user, None),
            ("PATCH", f"{v1}/users/{{id}}", self.patch_user, None),
            ("DELETE", f"{v1}/users/{{id}}", self.delete_user, None),
            ("POST", f"{v1}/users/{{id}}/password-reset", self.reset_password, None),
            ("GET", f"{v1}/users/{{id}}/groups", self.user_groups, "user_groups"),
            ("GET", f"{v1}/groups", self.search_groups, "groups"),
            ("POST", f"{v1}/groups", self.create_group, None),
            ("GET", f"{v1}/groups/{{id}}", self.get_group, None),
            ("DELETE", f"{v1}/groups/{{id}}", self.delete_group, None),
            ("GET", f"{v1}/groups/{{id}}/users", self.group_users, "group_members"),
            ("POST", f"{v1}/groups/{{id}}/users", self.add_group_user, None),
            ("DELETE", f"{v1}/groups/{{id}}/users/{{userId}}", self.remove_group_user, None),
            ("GET", f"{v1}/folders", self.search_folders, "folders"),
            ("POST", f"{v1}/folders", self.create_folder, None),
            ("GET", f"{v1}/folders/lookup", self.lookup_folders, "folders"),
            ("GET", f"{v1}/folders/{{id}}", self.get_folder, None),
            ("GET", f"{v1}/folder-permissions", self.search_folder_permissions, "folder_permissions"),
            ("POST", f"{v1}/folder-permissions", self.create_folder_permission, None),
            ("GET", f"{v1}/folder-permissions/{{id}}", self.get_folder_permission, None),
            ("PUT", f"{v1}/folder-permissions/{{id}}", self.update_folder_permission, None),
            ("DELETE", f"{v1}/folder-permissions/{{id}}", self.delete_folder_permission, None),
            ("GET", f"{v1}/secrets", self.search_secrets, "secrets"),
            ("POST", f"{v1}/secrets", self.create_secret, None),
            ("GET", f"{v1}/secrets/{{id}}", self.get_secret, None),
            ("GET", f"{v1}/secrets/{{id}}/summary", self.get_secret_summary, None),
            ("GET", f"{v1}/secret-permissions", self.search_secret_permissions, "secret_permissions"),
            ("POST", f"{v1}/secret-permissions", self.create_secret_permission, None),
            ("GET", f"{v1}/secret-permissions/{{id}}", self.get_secret_permission, None),
            ("PUT", f"{v1}/secret-permissions/{{id}}", self.update_secret_permission, None),
            ("DELETE", f"{v1}/secret-permissions/{{id}}", self.delete_secret_permission, None),
        ]

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], str | None, bool]:
        """(handler, params, search entity, path known) for a method and a path below the prefix."""
        path_known = False
        for route_method, regex, handler, entity in self.routes:
            found = regex.match(path)
            if found:
                path_known = True
                if route_method == method:
                    return handler, found.groupdict(), entity, True
        return None, {}, None, path_known

    # ------------------------------------------------------------------ misc
    def version(self, req: Request) -> Result:
        return 200, {"model": {"version": VERSION}, "success": True, "severity": "None"}

    def healthcheck(self, req: Request) -> Result:
        """The collection's camelCase fields; server.py answers them PascalCase by default."""
        now = datetime.now()
        utc = datetime.utcnow()
        return 200, {"databaseMismatch": False, "healthy": True, "now": now.isoformat(timespec="milliseconds"),
                     "readOnlyMode": False, "utcNow": utc.isoformat(timespec="milliseconds") + "Z"}


__all__ = ["Api", "NotFound", "Request"]

"""The REST endpoints: routing table over the handlers, free of HTTP plumbing (see server.py).

Each handler takes a `Request` and returns `(status, payload)`; a `BadRequest` becomes the
documented 400 body ``{message, messageDetail, errorCode, modelState}``. Handlers live by resource
in simulator/routes, each module listing its own routes: users.py, groups.py (and membership),
folders.py, secrets.py, permissions.py (folder and secret permissions), system.py (version, health
check, domains) and auth.py (the token endpoint, which server.py calls before any API route);
base.py holds the request, the search machinery and the lookups.

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

from simulator.routes.base import Handler, Pager, Request, Resource
from simulator.routes.folders import Folders
from simulator.routes.groups import Groups
from simulator.routes.permissions import FolderPermissions, SecretPermissions
from simulator.routes.secrets import Secrets
from simulator.routes.system import System
from simulator.routes.users import Users
from simulator.state import Organization

CompiledRoute = tuple[str, re.Pattern[str], Handler, str | None]


class Api:
    """The routing table over every resource's endpoints, for one Organization."""

    def __init__(self, org: Organization, page_cap: int = 1000) -> None:
        self.pager = Pager(org, page_cap)  # shared by every search; the server changes its page_cap
        resources: list[Resource] = [
            cls(org, self.pager)
            for cls in (System, Users, Groups, Folders, FolderPermissions, Secrets, SecretPermissions)
        ]
        self.routes: list[CompiledRoute] = [
            (method, _compile(pattern), handler, entity)
            for resource in resources for method, pattern, handler, entity in resource.routes()
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


def _compile(pattern: str) -> re.Pattern[str]:
    """`/api/v1/users/{id}` -> a case-insensitive regex with an integer group per `{name}`."""
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", pattern) + "/?$", re.IGNORECASE)


__all__ = ["Api", "Request"]
